/**
 * Sweep results shipped with the kit: a finished sweep folder exported to a small, committed
 * folder that notebooks and the report read without retraining.
 *
 *   DEST/results.csv      one row per run (loadSweepResults' columns, config JSON included)
 *   DEST/curves.parquet   run_id, step, train_loss, val_loss (every step)
 *   DEST/router.parquet   the routers' metrics records
 *   DEST/spec.json        the spec the sweep ran
 *   DEST/manifest.json    training code version, machine, sweep wall time, the commands
 *   DEST/supplements/NAME/ optional: runs of another spec that extend this sweep (more seeds of
 *                         its configurations), exported with --supplement-of DEST; read with it
 *
 * Every row's run_id is the hash of its config column, checked on load, so an edited row or a
 * row from other code is refused instead of silently fitted. A supplement holds only the runs its
 * base does not ship, trained by the same code on a machine that rounds the same way, so that its
 * seeds and the base's are draws of one experiment (checked on export and on load).
 */
import pl from "nodejs-polars";
import { runIdOf, TRAINING_CODE_VERSION } from "../identity/mod.ts";
import { loadOpenBlas } from "../openblas/mod.ts";
import { expandSpec, validateSpec } from "./spec.ts";
import { loadRouterMetrics, loadSweepCurves, loadSweepResults } from "./store.ts";
import type { SweepRun, SweepSpec } from "./types.ts";

/** The machine a sweep ran on, as recorded in a manifest. */
export interface MachineInfo {
  cpu: string;
  logicalCores: number;
  os: string;
  deno: string;
  v8: string;
  /**
   * What decides float rounding beyond the code (absent in manifests before code version 6): the
   * CPU's vector extensions and the OpenBLAS kernels and settings. Runs are bit-for-bit
   * deterministic only where this matches; see sameRounding.
   */
  rounding?: string;
}

export interface ShippedManifest {
  sweep: string;
  trainingCodeVersion: number;
  runs: number;
  diverged: number;
  /** Time during which some run was training (sweepWall), from the runs' finish and wall times. */
  sweepWallS: number;
  /** Sum of every run's training wall time. */
  trainWallS: number;
  machine: MachineInfo;
  /** How the sweep was run and exported (to rerun it). */
  commands: string[];
  exportedAt: string;
  /**
   * Set on a supplement: the spec name of the shipped sweep it extends, whose runs it leaves out
   * (`runs` counts only the new ones; `sweepWallS` is the time they took).
   */
  supplementOf?: string;
}

/** Runs of another spec that extend a shipped sweep (DIR/supplements/NAME). */
export interface ShippedSupplement {
  dir: string;
  spec: SweepSpec;
  manifest: ShippedManifest;
}

export interface ShippedSweep {
  results: pl.DataFrame;
  curves: pl.DataFrame;
  router: pl.DataFrame;
  spec: SweepSpec;
  manifest: ShippedManifest;
  dir: string;
  /** The supplements read with it (their runs are in results, curves and router). */
  supplements: ShippedSupplement[];
}

/** The CPU's model name (Linux /proc/cpuinfo), or "unknown". */
export function cpuModel(): string {
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.+)$/m);
    return m ? m[1].trim() : "unknown";
  } catch {
    return "unknown";
  }
}

/** The vector extensions that change how floats are summed (Linux /proc/cpuinfo flags). */
const ROUNDING_FLAGS = ["avx512f", "avx2", "fma", "avx"];

/**
 * What decides float rounding on this machine beyond the code, as one string: the CPU model, its
 * vector extensions, the OpenBLAS kernels it picks and the OPENBLAS_* variables that change its
 * blocking. Measured: the same S-BASE run (d_model 64, E 2, 1,465 steps) ended at 4.18438 on an
 * AVX-512 EPYC with OPENBLAS_CORETYPE set and 4.18800 on an AVX2 one; dense runs 1.5e-7 apart.
 */
export function roundingFingerprint(): string {
  let flags: string[] = [];
  try {
    const m = Deno.readTextFileSync("/proc/cpuinfo").match(/^flags\s*:\s*(.+)$/m);
    const have = new Set(m ? m[1].trim().split(/\s+/) : []);
    flags = ROUNDING_FLAGS.filter((f) => have.has(f));
  } catch {
    flags = ["unknown"];
  }
  let blas = "no OpenBLAS";
  try {
    blas = `OpenBLAS ${loadOpenBlas().core}`;
  } catch {
    // absent: runs use XNNPACK, which the config's blas field records
  }
  const env = Object.entries(Deno.env.toObject())
    .filter(([k]) => k.startsWith("OPENBLAS_"))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  return [cpuModel(), flags.join(" "), blas, ...env].join("; ");
}

/**
 * Whether runs made on machine `a` should repeat bit for bit on machine `b`: same fingerprint,
 * Deno and V8. False when either fingerprint is missing (older manifests).
 */
export function sameRounding(a: MachineInfo, b: MachineInfo): boolean {
  return a.rounding !== undefined && a.rounding === b.rounding && a.deno === b.deno &&
    a.v8 === b.v8;
}

/** This machine, for a manifest or a benchmark's header. */
export function machineInfo(): MachineInfo {
  return {
    cpu: cpuModel(),
    logicalCores: navigator.hardwareConcurrency ?? 1,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    rounding: roundingFingerprint(),
  };
}

/**
 * Seconds during which at least one of the runs was training: the union of the runs' [start, end]
 * intervals. For a sweep run in one go that is its first start to its last end; a sweep resumed or
 * assembled across sessions (runs reused from an earlier sweep of the same configs) counts only its
 * busy time, not the days between.
 */
export function sweepWall(results: pl.DataFrame): number {
  const done = (results.getColumn("finished_at").toArray() as string[]).map((s) => Date.parse(s));
  const wall = results.getColumn("wall_s").toArray() as number[];
  const spans = done.map((d, i) => [d - 1000 * (Number.isFinite(wall[i]) ? wall[i] : 0), d])
    .sort((a, b) => a[0] - b[0]);
  let busy = 0, from = -Infinity, to = -Infinity;
  for (const [a, b] of spans) {
    if (a > to) {
      if (to > from) busy += to - from;
      from = a, to = b;
    } else to = Math.max(to, b);
  }
  if (to > from) busy += to - from;
  return busy / 1000;
}

/**
 * Exports the finished runs of sweep folder `dir`, which must hold every run of `spec`, to
 * `dest`. `commands` record how the sweep was run. With `base` (a shipped sweep this one extends,
 * e.g. with more seeds) the runs `base` already ships are left out, after checking that `dir`
 * holds the same losses for them (else the runs were trained on a machine that rounds otherwise,
 * and the new seeds would not be draws of the same experiment). Returns the manifest written.
 */
export async function exportSweep(
  dir: string,
  dest: string,
  spec: SweepSpec,
  commands: string[],
  expectedRuns: string[],
  base?: ShippedSweep,
): Promise<ShippedManifest> {
  const results = loadSweepResults(dir);
  const have = new Set(results.height ? results.getColumn("run_id").toArray() as string[] : []);
  const missing = expectedRuns.filter((id) => !have.has(id));
  if (missing.length > 0) {
    throw new Error(
      `${dir} lacks ${missing.length} of the spec's ${expectedRuns.length} runs ` +
        `(${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}): finish the ` +
        `sweep (rerun it into ${dir}) before exporting`,
    );
  }
  const shared = base ? sharedRuns(results, base, expectedRuns) : new Set<string>();
  const keep = pl.col("run_id").isIn(expectedRuns.filter((id) => !shared.has(id)));
  const mine = results.filter(keep).sort("run_id");
  if (base && mine.height === 0) {
    throw new Error(
      `every run of ${spec.name} is already in ${base.dir} or its supplements: there is nothing ` +
        `to supplement it with (to export a supplement again, delete its old folder first)`,
    );
  }
  const status = mine.getColumn("status").toArray() as string[];
  const wall = (mine.getColumn("wall_s").toArray() as number[]).filter(Number.isFinite);
  const manifest: ShippedManifest = {
    sweep: spec.name,
    trainingCodeVersion: TRAINING_CODE_VERSION,
    runs: mine.height,
    diverged: status.filter((s) => s !== "done").length,
    sweepWallS: sweepWall(mine),
    trainWallS: wall.reduce((a, b) => a + b, 0),
    machine: machineInfo(),
    commands,
    exportedAt: new Date().toISOString(),
    ...(base ? { supplementOf: base.spec.name } : {}),
  };
  await Deno.mkdir(dest, { recursive: true });
  mine.writeCSV(`${dest}/results.csv`);
  loadSweepCurves(dir).filter(keep).writeParquet(`${dest}/curves.parquet`, {
    compression: "zstd",
  });
  loadRouterMetrics(dir).filter(keep).writeParquet(`${dest}/router.parquet`, {
    compression: "zstd",
  });
  await Deno.writeTextFile(`${dest}/spec.json`, JSON.stringify(spec, null, 2) + "\n");
  await Deno.writeTextFile(`${dest}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/**
 * The runs of `expected` that `base` ships, after checking that `results` (a sweep folder's) holds
 * each with the same validation loss as `base`.
 */
function sharedRuns(results: pl.DataFrame, base: ShippedSweep, expected: string[]): Set<string> {
  type Row = { run_id: string; label: string; val_loss: number };
  const rowsOf = (df: pl.DataFrame) =>
    df.select("run_id", "label", "val_loss").toRecords() as Row[];
  const baseLoss = new Map(rowsOf(base.results).map((r) => [r.run_id, r.val_loss]));
  const shared = new Set(expected.filter((id) => baseLoss.has(id)));
  const here = rowsOf(results.filter(pl.col("run_id").isIn([...shared])));
  const differ = here.filter((r) => r.val_loss !== baseLoss.get(r.run_id));
  if (differ.length > 0) {
    const r = differ[0];
    throw new Error(
      `${differ.length} run(s) shared with ${base.dir} scored otherwise here (${r.label}: ` +
        `${r.val_loss} against ${baseLoss.get(r.run_id)}): this sweep folder's runs were trained ` +
        `on a machine that rounds differently (${base.dir}/manifest.json names the base's), so ` +
        `its new seeds would not be draws of the same experiment; train the supplement there`,
    );
  }
  return shared;
}

/**
 * Reads a shipped sweep folder. Refuses a row whose run_id is not the hash of its config, and
 * warns (through `warn`) when the results came from another training code version than this
 * checkout's, as retraining them would not reproduce the committed losses. Its supplements
 * (DIR/supplements/NAME/) are read with it and their runs added, unless `supplements` is false.
 */
export function loadShippedSweep(
  dir: string,
  warn: (msg: string) => void = console.warn,
  opts: { supplements?: boolean } = {},
): ShippedSweep {
  const base = readShippedFolder(dir, warn);
  if (opts.supplements === false) return base;
  return supplementNames(dir).reduce(
    (s, name) => withSupplement(s, readShippedFolder(`${dir}/${SUPPLEMENTS}/${name}`, warn)),
    base,
  );
}

/** Where a shipped folder keeps its supplements (DIR/supplements/NAME/). */
const SUPPLEMENTS = "supplements";

/** The supplements' folder names, sorted (none when DIR/supplements is absent). */
function supplementNames(dir: string): string[] {
  try {
    return [...Deno.readDirSync(`${dir}/${SUPPLEMENTS}`)].filter((e) => e.isDirectory)
      .map((e) => e.name).sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/**
 * `base` with supplement `sup`'s runs added, after checking that they belong together: `sup` was
 * exported against `base` (--supplement-of), by the same training code, on a machine that rounds
 * the same way, and shares no run with it.
 */
function withSupplement(base: ShippedSweep, sup: ShippedSweep): ShippedSweep {
  const why = sup.manifest.supplementOf !== base.spec.name
    ? `it was not exported as a supplement of ${base.spec.name} (its manifest's supplementOf is ` +
      `${JSON.stringify(sup.manifest.supplementOf)})`
    : sup.manifest.trainingCodeVersion !== base.manifest.trainingCodeVersion
    ? `its runs are of training code version ${sup.manifest.trainingCodeVersion}, the base's ` +
      `of ${base.manifest.trainingCodeVersion}`
    : !sameRounding(sup.manifest.machine, base.manifest.machine)
    ? `it ran on a machine that rounds otherwise (${sup.manifest.machine.rounding} against ` +
      `${base.manifest.machine.rounding}), so its seeds are not draws of the same experiment`
    : undefined;
  if (why) {
    throw new Error(
      `${sup.dir} cannot extend ${base.dir}: ${why}; move it out of ${base.dir}/${SUPPLEMENTS} ` +
        `(or export it again with deno task sweep ... --export DEST --supplement-of ${base.dir})`,
    );
  }
  const have = new Set(base.results.getColumn("run_id").toArray() as string[]);
  const both = (sup.results.getColumn("run_id").toArray() as string[]).filter((id) => have.has(id));
  if (both.length > 0) {
    throw new Error(
      `${sup.dir} repeats ${both.length} run(s) of ${base.dir} (${both[0]}): a supplement holds ` +
        `only new runs; export it again with --supplement-of ${base.dir}`,
    );
  }
  const stack = (a: pl.DataFrame, b: pl.DataFrame) =>
    b.height === 0 ? a : a.height === 0 ? b : pl.concat([a, b.select(...a.columns)]);
  return {
    ...base,
    results: stack(base.results, sup.results),
    curves: stack(base.curves, sup.curves),
    router: stack(base.router, sup.router),
    supplements: [...base.supplements, { dir: sup.dir, spec: sup.spec, manifest: sup.manifest }],
  };
}

/** Every run the shipped sweep and its supplements planned, each once (a run id may be in both). */
export function plannedShippedRuns(s: ShippedSweep): SweepRun[] {
  const seen = new Set<string>();
  return [s.spec, ...s.supplements.map((x) => x.spec)].flatMap((spec) => expandSpec(spec))
    .filter((r) => !seen.has(r.runId) && seen.add(r.runId));
}

/** One shipped folder alone, checked (loadShippedSweep without its supplements). */
function readShippedFolder(dir: string, warn: (msg: string) => void): ShippedSweep {
  const read = (file: string) => {
    try {
      return Deno.readTextFileSync(`${dir}/${file}`);
    } catch (e) {
      throw new Error(
        `${dir}/${file} cannot be read (${(e as Error).message}): a shipped sweep folder holds ` +
          `results.csv, curves.parquet, router.parquet, spec.json and manifest.json ` +
          `(write one with deno task sweep --export DEST)`,
      );
    }
  };
  const manifest = JSON.parse(read("manifest.json")) as ShippedManifest;
  const spec = validateSpec(JSON.parse(read("spec.json")), `${dir}/spec.json`);
  read("results.csv");
  const raw = pl.readCSV(`${dir}/results.csv`, { inferSchemaLength: 0 });
  const absent = RESULT_COLUMNS.filter(([name]) => !raw.columns.includes(name))
    .map(([name]) => name).filter((name) => !OPTIONAL_COLUMNS.includes(name));
  if (absent.length > 0) {
    throw new Error(
      `${dir}/results.csv lacks column(s) ${absent.join(", ")}: export it again from the sweep ` +
        `folder with deno task sweep --export`,
    );
  }
  const results = raw.select(
    ...RESULT_COLUMNS.filter(([name]) => raw.columns.includes(name))
      .map(([name, type]) => pl.col(name).cast(type)),
  );
  const ids = results.getColumn("run_id").toArray() as string[];
  const configs = results.getColumn("config").toArray() as string[];
  const bad = ids.filter((id, i) =>
    runIdOf(JSON.parse(configs[i]), manifest.trainingCodeVersion) !== id
  );
  if (bad.length > 0) {
    throw new Error(
      `${dir}/results.csv: ${bad.length} row(s) whose run_id is not the hash of their config ` +
        `(${bad.slice(0, 3).join(", ")}): the file was edited or mixed with other results; ` +
        `export it again from the sweep folder`,
    );
  }
  if (manifest.trainingCodeVersion !== TRAINING_CODE_VERSION) {
    warn(
      `${dir} holds results of training code version ${manifest.trainingCodeVersion}; this ` +
        `checkout trains with version ${TRAINING_CODE_VERSION}, so retraining would give other ` +
        `losses`,
    );
  }
  return {
    results,
    curves: pl.readParquet(`${dir}/curves.parquet`),
    router: pl.readParquet(`${dir}/router.parquet`),
    spec,
    manifest,
    dir,
    supplements: [],
  };
}

/** Columns that results of older code lack (the webgpu adapter came with training code v4's kit). */
const OPTIONAL_COLUMNS = ["adapter"];

/** results.csv's columns and their types (the CSV is read as text, then cast, so nothing is guessed). */
const RESULT_COLUMNS: [string, pl.DataType][] = [
  ["run_id", pl.Utf8],
  ["label", pl.Utf8],
  ["sweep", pl.Utf8],
  ["status", pl.Utf8],
  ["router", pl.Utf8],
  ["E", pl.Int64],
  ["R", pl.Float64],
  ["k", pl.Int64],
  ["dModel", pl.Int64],
  ["layers", pl.Int64],
  ["heads", pl.Int64],
  ["seed", pl.Int64],
  ["steps", pl.Int64],
  ["batchSize", pl.Int64],
  ["seqLen", pl.Int64],
  ["N", pl.Float64],
  ["P", pl.Float64],
  ["F", pl.Float64],
  ["val_loss", pl.Float64],
  ["train_loss", pl.Float64],
  ["tokens", pl.Float64],
  ["tokens_per_s", pl.Float64],
  ["wall_s", pl.Float64],
  ["backend", pl.Utf8],
  ["adapter", pl.Utf8],
  ["host", pl.Utf8],
  ["finished_at", pl.Utf8],
  ["val_loss_by_source", pl.Utf8],
  ["config", pl.Utf8],
];
