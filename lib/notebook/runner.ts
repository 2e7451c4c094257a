import { dirname, join, resolve } from "node:path";
import { fromFileUrl } from "../export/mod.ts";

/** One notebook's result, as printed by scripts/run_notebook.py. */
export interface NotebookRunSummary {
  notebook: string;
  executed: string;
  cells: number;
  code_cells: number;
  outputs: number;
  /** Outputs that arrived after their cell's `idle`: what nbclient/nbconvert would have lost. */
  late_outputs: number;
  late_cells: number[];
  max_late_ms: number;
  /** Code cells (not tagged no-output) that produced nothing. */
  empty_cells: number[];
  errors: string[];
  cell_seconds: number[];
  seconds: number;
  ok: boolean;
}

export interface RunOptions {
  /** Where executed copies go (default notebooks/executed beside the notebooks). */
  outDir?: string;
  /** Overwrite the notebooks themselves with their executed copies. */
  inPlace?: boolean;
  /** Seconds per cell before giving up (default 600). */
  timeoutS?: number;
  /** Seconds to keep listening after a cell's idle (default 0.1). */
  graceS?: number;
  /** Fail on a code cell that should print something and printed nothing (default true). */
  requireOutput?: boolean;
  allowErrors?: boolean;
  /** Python with jupyter_client + nbformat (default: env NOTEBOOK_PYTHON, /usr/bin/python3, python3). */
  python?: string;
  /** Extra environment for the kernels (e.g. ROUTING_CURVES). */
  env?: Record<string, string>;
  /** Called with each notebook's summary as soon as it finishes. */
  onNotebook?: (s: NotebookRunSummary) => void;
}

export class NotebookRunError extends Error {
  constructor(message: string, readonly summaries: NotebookRunSummary[]) {
    super(message);
    this.name = "NotebookRunError";
  }
}

export const REPO_ROOT = resolve(dirname(fromFileUrl(import.meta.url)), "../..");
export const RUNNER_SCRIPT = join(REPO_ROOT, "scripts/run_notebook.py");

let pythonCache: string | undefined;

/** A Python 3 that can import jupyter_client and nbformat; throws how to install them otherwise. */
export async function findPython(explicit?: string): Promise<string> {
  if (!explicit && pythonCache) return pythonCache;
  const env = Deno.env.get("NOTEBOOK_PYTHON");
  const candidates = explicit ? [explicit] : [env, "/usr/bin/python3", "python3"].filter(Boolean);
  for (const py of candidates as string[]) {
    try {
      const r = await new Deno.Command(py, {
        args: ["-c", "import jupyter_client, nbformat"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (r.success) {
        if (!explicit) pythonCache = py;
        return py;
      }
    } catch { /* not installed: try the next */ }
  }
  throw new Error(
    `no Python with jupyter_client and nbformat (tried ${candidates.join(", ")}). ` +
      "Install them: apt-get install -y jupyter-client python3-nbclient (Debian), " +
      "or set NOTEBOOK_PYTHON to a python that has them.",
  );
}

/** Numbered notebooks (NN_*.ipynb) in `dir`, sorted; `prefixes` keeps those starting so ("1", "25"). */
export async function listNotebooks(dir: string, prefixes: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !/^\d\d.*\.ipynb$/.test(e.name)) continue;
    if (prefixes.length && !prefixes.some((p) => e.name.startsWith(p))) continue;
    out.push(join(dir, e.name));
  }
  return out.sort();
}

/**
 * Executes notebooks top to bottom on the Deno kernel with scripts/run_notebook.py (which keeps
 * outputs that arrive after `idle`), one kernel per notebook. Stops at the first failing notebook and
 * throws NotebookRunError naming the notebook and cell; executed copies are kept either way.
 */
export async function runNotebooks(
  paths: string[],
  opts: RunOptions = {},
): Promise<NotebookRunSummary[]> {
  if (paths.length === 0) throw new Error("runNotebooks: no notebooks given");
  for (const p of paths) {
    try {
      if (!(await Deno.stat(p)).isFile) throw new Error();
    } catch {
      throw new Error(`notebook not found: ${p}`);
    }
  }
  const python = await findPython(opts.python);
  const args = [RUNNER_SCRIPT, ...paths];
  if (opts.inPlace) args.push("--in-place");
  else args.push("--out-dir", opts.outDir ?? join(dirname(paths[0]), "executed"));
  args.push("--timeout", String(opts.timeoutS ?? 600), "--grace", String(opts.graceS ?? 0.1));
  if (opts.requireOutput ?? true) args.push("--require-output");
  if (opts.allowErrors) args.push("--allow-errors");
  const env = { ...(opts.env ?? {}), NO_COLOR: "1" };
  const child = new Deno.Command(python, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  const summaries: NotebookRunSummary[] = [];
  const stderrText = new Response(child.stderr).text();
  let buf = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    buf += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      const s = JSON.parse(line) as NotebookRunSummary;
      summaries.push(s);
      opts.onNotebook?.(s);
    }
  }
  const status = await child.status;
  const stderr = (await stderrText).split("\n").filter((l) => !/is unstable/.test(l)).join("\n");
  if (!status.success) {
    const failed = summaries.find((s) => !s.ok);
    const why = failed
      ? `${failed.notebook}: ${failed.errors.join("; ")} (executed copy kept: ${failed.executed})`
      : stderr.trim() || `runner exited with status ${status.code}`;
    throw new NotebookRunError(`notebook run failed: ${why}`, summaries);
  }
  return summaries;
}
