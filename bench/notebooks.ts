/**
 * Benchmark: execute every numbered notebook (notebooks/NN_*.ipynb) `--runs` times on the Deno kernel
 * with our runner, print time per notebook and in total, and check every run for lost outputs (a
 * code cell with fewer outputs than in the other runs, or none where one is expected). Also counts
 * outputs that arrived after the kernel's `idle` (what nbclient/nbconvert would drop), and with
 * `--nbconvert` runs `jupyter nbconvert --execute` on the same notebooks for comparison. With
 * `--figures` it also times building and exporting every figure (html + svg + png).
 *
 *   deno run -A bench/notebooks.ts [--runs 3] [--only 10 ...] [--nbconvert] [--figures]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  codeCellsMissingOutput,
  listNotebooks,
  readNotebook,
  REPO_ROOT,
  runNotebooks,
} from "../lib/notebook/mod.ts";
import { exportFigures } from "../lib/export/mod.ts";
import { releaseFigures } from "../lib/figures/mod.ts";
import { loadRelease } from "../lib/release/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "1" },
    only: { type: "string", multiple: true },
    nbconvert: { type: "boolean" },
    figures: { type: "boolean" },
  },
});
const runs = Number(values.runs);
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs must be a positive integer`);
const paths = await listNotebooks(join(REPO_ROOT, "notebooks"), values.only ?? []);
const tmp = await Deno.makeTempDir({ prefix: "bench-notebooks-" });

/** outputs per code cell, per notebook name, per run */
const counts: Map<string, number[]>[] = [];
let cellsChecked = 0, lost = 0, late = 0, missing = 0;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const out = join(tmp, `run${r}`);
  const sums = await runNotebooks(paths, { outDir: out });
  const wall = (performance.now() - t0) / 1000;
  const m = new Map<string, number[]>();
  for (const s of sums) {
    const name = s.notebook.split("/").pop()!;
    const nb = await readNotebook(join(out, name));
    m.set(name, nb.cells.filter((c) => c.cell_type === "code").map((c) => c.outputs?.length ?? 0));
    missing += codeCellsMissingOutput(nb).length;
    late += s.late_outputs;
    cellsChecked += s.code_cells;
    console.log(
      `run ${r + 1} ${name}: ${
        s.seconds.toFixed(1)
      } s, ${s.code_cells} code cells, ${s.outputs} outputs, ` +
        `${s.late_outputs} after idle (max ${s.max_late_ms} ms late)`,
    );
  }
  counts.push(m);
  console.log(`run ${r + 1}: ${paths.length} notebooks in ${wall.toFixed(1)} s`);
}
// A cell lost an output in a run when it has fewer than the most any run saw.
for (const name of counts[0].keys()) {
  const per = counts.map((m) => m.get(name)!);
  per[0].forEach((_, i) => {
    const most = Math.max(...per.map((p) => p[i]));
    for (const p of per) if (p[i] < most) lost++;
  });
}
console.log(
  `checked ${cellsChecked} code-cell executions (${cellsChecked / runs} cells x ${runs} runs): ` +
    `${lost} lost outputs, ${missing} cells without expected output; ${late} outputs arrived after ` +
    `idle and were kept`,
);

if (values.nbconvert) {
  const dir = join(tmp, "nbconvert");
  let nbLost = 0, nbCells = 0;
  const t0 = performance.now();
  for (const p of paths) {
    const name = p.split("/").pop()!;
    const r = await new Deno.Command("jupyter", {
      args: ["nbconvert", "--to", "notebook", "--execute", "--output-dir", dir, p],
      env: { JUPYTER_PATH: REPO_ROOT, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!r.success) {
      console.log(`nbconvert ${name}: failed: ${new TextDecoder().decode(r.stderr).slice(-300)}`);
      continue;
    }
    const nb = await readNotebook(join(dir, name));
    const got = nb.cells.filter((c) => c.cell_type === "code").map((c) => c.outputs?.length ?? 0);
    const ref = counts[0].get(name)!;
    const l = got.reduce((s, g, i) => s + Math.max(0, ref[i] - g), 0);
    nbLost += l;
    nbCells += got.length;
    console.log(`nbconvert ${name}: ${l} outputs lost against our runner`);
  }
  console.log(
    `nbconvert: ${nbLost} outputs lost over ${nbCells} code cells in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
}

if (values.figures) {
  const t0 = performance.now();
  const figs = releaseFigures(await loadRelease());
  const t1 = performance.now();
  const done = await exportFigures(figs, join(tmp, "figures"));
  const t2 = performance.now();
  console.log(
    `figures: built ${done.length} in ${((t1 - t0) / 1000).toFixed(1)} s (load + fits), exported ` +
      `${done.length * 3} files in ${((t2 - t1) / 1000).toFixed(1)} s (browser start included; ` +
      `first figure ${done[0].seconds.toFixed(2)} s, later ones median ${
        done.slice(1).map((d) => d.seconds).sort((a, b) => a - b)[Math.floor((done.length - 1) / 2)]
          .toFixed(2)
      } s)`,
  );
}
await Deno.remove(tmp, { recursive: true });
