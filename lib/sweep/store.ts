/**
 * The on-disk layout of a sweep directory (shared storage for all shards):
 *
 *   DIR/runs/<run_id>/result.parquet   one row: run_id, router, N, P, F, E, val_loss, status, ...
 *   DIR/runs/<run_id>/curve.parquet    run_id, step, train_loss, val_loss (null between evals)
 *   DIR/runs/<run_id>/router.parquet   run_id + the run's router metrics, one row per record
 *   DIR/runs/<run_id>/config.json      the run config (its canonical hash is run_id)
 *   DIR/checkpoints/<run_id>/          checkpoints of an unfinished run (removed once it is done)
 *   DIR/locks/<run_id>.lock            held while a process trains the run
 *   DIR/specs/<name>-<hash>.json       every spec run into DIR (for the merge summary)
 *   DIR/sweep-spec.json                the spec DIR belongs to (folder_spec.ts)
 *   DIR/runs/<run_id>.damaged-<time>/  a run folder that did not read back, moved aside on a rerun
 *
 * A run is written into DIR/runs/.tmp-<run_id>-<nonce>/ and then renamed to DIR/runs/<run_id>/ in
 * one rename(2): a reader sees either the whole run or none of it, and a second writer's rename
 * fails instead of replacing the first.
 */
import pl from "nodejs-polars";
import { canonicalJson } from "../identity/mod.ts";
import type { RunConfig, RunOutcome, SweepRun } from "./types.ts";

export type RunStatus = "done" | "diverged";

export const runsDir = (dir: string) => `${dir}/runs`;
export const runDir = (dir: string, runId: string) => `${dir}/runs/${runId}`;
export const checkpointDirOf = (dir: string, runId: string) => `${dir}/checkpoints/${runId}`;
export const lockPathOf = (dir: string, runId: string) => `${dir}/locks/${runId}.lock`;

/** A folder under DIR/runs that holds a run (not a temp or a damaged folder moved aside). */
const isRunFolder = (name: string) => !name.startsWith(".") && !name.includes(".damaged-");

export function isFinished(dir: string, runId: string): boolean {
  try {
    return Deno.statSync(`${runDir(dir, runId)}/result.parquet`).isFile;
  } catch {
    return false;
  }
}

/**
 * Whether DIR/runs/<run_id> holds a finished run that reads back: "absent" (no folder), "done"
 * (a one-row result of this run id, its curve and router metrics readable), or why not.
 */
export function runState(dir: string, runId: string): "absent" | "done" | { damaged: string } {
  const base = runDir(dir, runId);
  try {
    Deno.statSync(base);
  } catch {
    return "absent";
  }
  const read = (file: string): pl.DataFrame | string => {
    try {
      return pl.readParquet(`${base}/${file}`);
    } catch (e) {
      return `${file} does not read back (${(e as Error).message.split("\n")[0]})`;
    }
  };
  const result = read("result.parquet");
  if (typeof result === "string") return { damaged: result };
  const id = result.columns.includes("run_id") && result.height > 0
    ? result.getColumn("run_id").get(0)
    : undefined;
  if (result.height !== 1 || id !== runId) {
    return {
      damaged: `result.parquet holds ${result.height} row(s) of run ${id ?? "(none)"}, not ` +
        `one row of run ${runId}`,
    };
  }
  for (const file of ["curve.parquet", "router.parquet"]) {
    const df = read(file);
    if (typeof df === "string") return { damaged: df };
  }
  return "done";
}

/**
 * Moves a damaged run folder aside to DIR/runs/<run_id>.damaged-<UTC time>, kept as evidence and
 * out of every summary, so that the run can be trained again. Returns the new path.
 */
export async function moveAside(dir: string, runId: string): Promise<string> {
  const stamp = new Date().toISOString().replace(/[-:]/g, "");
  const to = `${runDir(dir, runId)}.damaged-${stamp}`;
  await Deno.rename(runDir(dir, runId), to);
  return to;
}

/** A backend as a name (train may report a string or an info object with a name). */
function backendName(b: unknown): string | undefined {
  if (typeof b === "string") return b;
  if (b && typeof b === "object" && typeof (b as { name?: unknown }).name === "string") {
    return (b as { name: string }).name;
  }
  return undefined;
}

function intSeries(name: string, values: number[]) {
  return pl.Series(name, values, pl.Int64);
}

/** The one-row results frame of a finished run. */
export function resultFrame(
  run: SweepRun,
  outcome: RunOutcome,
  extra: { sweep: string; host: string; finishedAt: string },
): pl.DataFrame {
  const c: RunConfig = run.config;
  const status: RunStatus = outcome.diverged || !Number.isFinite(outcome.val_loss)
    ? "diverged"
    : "done";
  return pl.DataFrame([
    pl.Series("run_id", [run.runId]),
    pl.Series("label", [run.label]),
    pl.Series("sweep", [extra.sweep]),
    pl.Series("status", [status]),
    pl.Series("router", [c.router]),
    intSeries("E", [c.experts]),
    pl.Series("R", [c.routingFrequency], pl.Float64),
    intSeries("k", [c.k]),
    intSeries("dModel", [c.dModel]),
    intSeries("layers", [c.layers]),
    intSeries("heads", [c.heads]),
    intSeries("seed", [c.seed]),
    intSeries("steps", [c.steps]),
    intSeries("batchSize", [c.batchSize]),
    intSeries("seqLen", [c.seqLen]),
    pl.Series("N", [outcome.N], pl.Float64),
    pl.Series("P", [outcome.P], pl.Float64),
    pl.Series("F", [outcome.F], pl.Float64),
    pl.Series("val_loss", [outcome.val_loss], pl.Float64),
    pl.Series("train_loss", [outcome.train_loss], pl.Float64),
    pl.Series("tokens", [outcome.tokens ?? c.steps * c.batchSize * c.seqLen], pl.Float64),
    pl.Series("tokens_per_s", [outcome.tokens_per_s ?? NaN], pl.Float64),
    pl.Series("wall_s", [outcome.wall_s ?? NaN], pl.Float64),
    pl.Series("backend", [backendName(outcome.backend) ?? c.backend]),
    // The device that ran it ("" for the CPU backends): a "GPU" run on a software adapter shows.
    pl.Series("adapter", [outcome.backend_info?.adapter ?? ""]),
    pl.Series("host", [extra.host]),
    pl.Series("finished_at", [extra.finishedAt]),
    pl.Series("val_loss_by_source", [JSON.stringify(outcome.val_loss_by_source ?? {})]),
    pl.Series("config", [canonicalJson(c)]),
  ]);
}

function curveFrame(runId: string, outcome: RunOutcome): pl.DataFrame {
  const curve = outcome.curve ?? [];
  return pl.DataFrame([
    pl.Series("run_id", curve.map(() => runId), pl.Utf8),
    intSeries("step", curve.map((p) => p.step)),
    pl.Series("train_loss", curve.map((p) => p.train_loss), pl.Float64),
    pl.Series(
      "val_loss",
      curve.map((p) => (p.val_loss === undefined ? null : p.val_loss)),
      pl.Float64,
    ),
  ]);
}

/** Router metrics as a frame: numbers and strings become columns, anything else JSON text. */
function routerFrame(runId: string, outcome: RunOutcome): pl.DataFrame {
  const records = outcome.router_metrics ?? [];
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))].sort();
  const cols: pl.Series[] = [pl.Series("run_id", records.map(() => runId), pl.Utf8)];
  for (const key of keys) {
    if (key === "run_id") continue;
    const vals = records.map((r) => r[key]);
    if (vals.every((v) => typeof v === "number" || v === undefined || v === null)) {
      cols.push(pl.Series(key, vals.map((v) => (typeof v === "number" ? v : null)), pl.Float64));
    } else {
      cols.push(pl.Series(
        key,
        vals.map((v) => (v === undefined ? null : typeof v === "string" ? v : JSON.stringify(v))),
        pl.Utf8,
      ));
    }
  }
  return pl.DataFrame(cols);
}

/**
 * Writes a finished run atomically. Returns false (and writes nothing) when the run was already
 * there, e.g. written meanwhile by another process.
 */
export async function commitRun(
  dir: string,
  run: SweepRun,
  outcome: RunOutcome,
  extra: { sweep: string; host: string; finishedAt: string },
): Promise<boolean> {
  const tmp = `${runsDir(dir)}/.tmp-${run.runId}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    resultFrame(run, outcome, extra).writeParquet(`${tmp}/result.parquet`);
    curveFrame(run.runId, outcome).writeParquet(`${tmp}/curve.parquet`);
    routerFrame(run.runId, outcome).writeParquet(`${tmp}/router.parquet`);
    await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify(run.config, null, 2) + "\n");
    await fsyncDir(tmp);
    try {
      await Deno.rename(tmp, runDir(dir, run.runId));
    } catch (e) {
      if (isFinished(dir, run.runId)) return false;
      throw e;
    }
    await fsyncDir(runsDir(dir));
    return true;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Flushes the files of a folder (and the folder entry itself) to disk, best effort. */
async function fsyncDir(path: string): Promise<void> {
  for await (const e of Deno.readDir(path)) {
    if (!e.isFile) continue;
    const f = await Deno.open(`${path}/${e.name}`, { read: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  }
  try {
    const d = await Deno.open(path, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems do not allow syncing a directory handle: the rename is still atomic.
  }
}

/** Removes leftovers of writers that died mid-commit (temp folders older than `minAgeS`). */
export async function cleanTemp(dir: string, minAgeS = 3600): Promise<void> {
  try {
    for await (const e of Deno.readDir(runsDir(dir))) {
      if (!e.name.startsWith(".tmp-")) continue;
      const p = `${runsDir(dir)}/${e.name}`;
      const st = await Deno.stat(p);
      if (st.mtime && Date.now() - st.mtime.getTime() > minAgeS * 1000) {
        await Deno.remove(p, { recursive: true }).catch(() => {});
      }
    }
  } catch {
    // no runs yet
  }
}

/** run ids with a finished result under DIR. */
export function finishedRunIds(dir: string): string[] {
  const ids: string[] = [];
  try {
    for (const e of Deno.readDirSync(runsDir(dir))) {
      if (e.isDirectory && isRunFolder(e.name) && isFinished(dir, e.name)) ids.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return ids.sort();
}

function readPart(path: string): pl.DataFrame {
  try {
    return pl.readParquet(path);
  } catch (e) {
    throw new Error(
      `Cannot read ${path}: ${(e as Error).message}. The file is damaged; rerun the sweep into ` +
        `this folder: it moves the damaged run folder aside and trains that run again.`,
    );
  }
}

function loadPart(dirs: string | string[], file: string): pl.DataFrame {
  const frames: pl.DataFrame[] = [];
  const seen = new Set<string>();
  for (const dir of Array.isArray(dirs) ? dirs : [dirs]) {
    try {
      Deno.statSync(dir);
    } catch {
      throw new Error(`Sweep directory ${dir} does not exist: pass the --out folder of a sweep`);
    }
    for (const id of finishedRunIds(dir)) {
      if (seen.has(id)) continue; // the same run in two merged folders: keep the first
      seen.add(id);
      const df = readPart(`${runDir(dir, id)}/${file}`);
      if (df.height > 0) frames.push(df);
    }
  }
  if (frames.length === 0) return pl.DataFrame({});
  return pl.concat(frames, { how: "diagonal" });
}

/**
 * All finished runs under one sweep folder or several (shards' folders merged; a run in two
 * folders counts once), one row per run, sorted by run_id.
 */
export function loadSweepResults(dirs: string | string[]): pl.DataFrame {
  const df = loadPart(dirs, "result.parquet");
  return df.height > 0 ? df.sort("run_id") : df;
}

/** Loss curves of all finished runs: run_id, step, train_loss, val_loss. */
export function loadSweepCurves(dirs: string | string[]): pl.DataFrame {
  const df = loadPart(dirs, "curve.parquet");
  return df.height > 0 ? df.sort(["run_id", "step"]) : df;
}

/** Router metrics of all finished runs (columns depend on the routers). */
export function loadRouterMetrics(dirs: string | string[]): pl.DataFrame {
  return loadPart(dirs, "router.parquet");
}
