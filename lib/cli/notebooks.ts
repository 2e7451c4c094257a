/**
 * `deno task notebooks [PREFIX...] [--out-dir DIR] [--in-place] [--grace S]`: executes every numbered
 * notebook in notebooks/ top to bottom on the Deno kernel and keeps the executed copies (with all
 * outputs) under notebooks/executed/. PREFIX limits the run ("10" runs 10_*.ipynb). Exit status 1 on
 * any cell error or a code cell that should have output and has none.
 */
import { join } from "node:path";
import { listNotebooks, NotebookRunError, REPO_ROOT, runNotebooks } from "../notebook/mod.ts";

const args = [...Deno.args];
const take = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
  args.splice(i, 2);
  return v;
};
const inPlace = args.includes("--in-place");
if (inPlace) args.splice(args.indexOf("--in-place"), 1);
const outDir = take("--out-dir") ?? join(REPO_ROOT, "notebooks/executed");
const grace = take("--grace");
const unknown = args.filter((a) => a.startsWith("--"));
if (unknown.length) {
  console.error(
    `unknown option(s) ${unknown.join(" ")}; use [PREFIX...] --out-dir DIR --in-place --grace S`,
  );
  Deno.exit(2);
}

const paths = await listNotebooks(join(REPO_ROOT, "notebooks"), args);
if (paths.length === 0) {
  console.error(`no notebooks match ${args.join(" ") || "notebooks/NN_*.ipynb"}`);
  Deno.exit(2);
}
const t0 = performance.now();
try {
  const all = await runNotebooks(paths, {
    outDir,
    inPlace,
    graceS: grace ? Number(grace) : undefined,
    onNotebook: (s) =>
      console.log(
        `${s.ok ? "ok  " : "FAIL"} ${
          s.notebook.replace(REPO_ROOT + "/", "")
        }: ${s.code_cells} code cells, ` +
          `${s.outputs} outputs (${s.late_outputs} after idle, kept), ${s.seconds.toFixed(1)} s`,
      ),
  });
  const cells = all.reduce((a, s) => a + s.code_cells, 0);
  const outs = all.reduce((a, s) => a + s.outputs, 0);
  console.log(
    `${all.length} notebooks, ${cells} code cells, ${outs} outputs in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s; executed copies in ${inPlace ? "place" : outDir.replace(REPO_ROOT + "/", "")}`,
  );
} catch (e) {
  if (e instanceof NotebookRunError) {
    console.error(e.message);
    Deno.exit(1);
  }
  throw e;
}
