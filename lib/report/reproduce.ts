/**
 * The kit's main job: fit the release, run (or resume) a preset sweep, fit every law to our runs,
 * export every figure for both, and write one self-contained report.html plus summary.json.
 * Every long step keeps its work on disk (the sweep resumes; figures are written one by one) and
 * the report and summary are replaced atomically, so an interrupted run is simply rerun.
 */
import pl from "nodejs-polars";
import { join, resolve } from "node:path";
import {
  analyse,
  type Analysis,
  type AnalysisInput,
  analysisJson,
  frameAnalysisInput,
  OUR_RUNS_EQ1_MIN_E_START,
  paperComparison,
  releaseAnalysisInput,
} from "../analysis/mod.ts";
import { exportFigures, FigureRenderer, findChromium, type PlotlyFigure } from "../export/mod.ts";
import { releaseFigures } from "../figures/mod.ts";
import { ROUTER_LABELS, routerIdOf } from "../routers/mod.ts";
import { loadRelease, mainSweep, resolveCurvesPath } from "../release/mod.ts";
import {
  checkSweepFolder,
  expandSpec,
  type FolderSpecOptions,
  formatDuration,
  formatProgress,
  loadShippedSweep,
  loadSpecFile,
  loadSweepCurves,
  loadSweepResults,
  plannedShippedRuns,
  preset,
  runCost,
  runSweep,
  type ShippedSweep,
  sweepMainFrame,
  type SweepProgress,
  type SweepSpec,
} from "../sweep/mod.ts";
import { checkClaims, type ClaimCheck } from "./claims.ts";
import { type ReportFigure, reportHtml, type SweepInfo } from "./html.ts";
import { sweepFigures } from "./figures.ts";

export interface ReproduceOptions {
  /** Output folder (report.html, summary.json, figures/, sweep/). */
  out: string;
  /** Sweep preset (default "quick"). */
  preset?: string;
  /** A sweep spec file (JSON) instead of a preset. */
  spec?: string;
  /** The authors' curves.csv.gz (default: env ROUTING_CURVES, else the cached download). */
  curves?: string;
  /** Sweep folder (default OUT/sweep). */
  sweepDir?: string;
  /** Use the runs already in the sweep folder instead of running the sweep. */
  skipSweep?: boolean;
  /**
   * A shipped results folder (data/ours/standard, written by `deno task sweep --export`): report
   * its committed runs under its own spec, train nothing. Excludes preset, spec and the sweep.
   */
  shipped?: string;
  /** Sweep processes (default: 2 when the machine has 2+ cores). */
  workers?: number;
  /** Run the sweep into a sweep folder that belongs to another spec (default: refuse). */
  allowOtherSpec?: boolean;
  restarts?: number;
  bootstrap?: number;
  bootstrapRestarts?: number;
  seed?: number;
  /** PNG pixel density of the exported figures (default 2). */
  scale?: number;
  /** Progress lines (default console.error). */
  log?: (line: string) => void;
  /** Whole-sweep progress (default: throttled lines through `log`). */
  onSweepProgress?: (p: SweepProgress) => void;
  /** Shown in the report as the command that made it. */
  command?: string;
}

export interface ReproduceResult {
  report: string;
  summary: string;
  reportBytes: number;
  figures: { release: string[]; ours: string[] };
  skippedFigures: Record<string, string>;
  release: Analysis;
  ours?: Analysis;
  claims: { release: ClaimCheck[]; ours?: ClaimCheck[] };
  sweep?: SweepInfo;
  /** Why our runs could not be fitted (too few runs), when they could not. */
  fitError?: string;
  timings: Record<string, number>;
}

/** Writes `data` to `path` through a temporary file and a rename: readers never see half a file. */
export async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** The release's (and the figures') name for a router name in any spelling (sbase, S-BASE, ...). */
export function paperTechnique(name: string): string {
  const id = routerIdOf(name);
  return id ? ROUTER_LABELS[id] : name;
}

/** The finished runs of `spec` in `dir`, and when there are none, a message saying why. */
function presetResults(spec: SweepSpec, dir: string) {
  const planned = expandSpec(spec);
  const ids = new Set(planned.map((r) => r.runId));
  let all: pl.DataFrame;
  try {
    all = loadSweepResults(dir);
  } catch {
    all = pl.DataFrame({});
  }
  const results = all.height > 0 ? all.filter(pl.col("run_id").isIn([...ids])) : all;
  const other = all.height > 0
    ? ` (it holds ${all.height} runs of other sweeps: ${
      [...new Set(all.getColumn("sweep").toArray() as string[])].join(", ")
    }; pass the matching --preset or --spec)`
    : "";
  return { planned, ids, results, missing: `no runs of preset ${spec.name} in ${dir}${other}` };
}

const PAPER_ORDER = ["S-Base", "RL-R", "Hash"];

/**
 * Our runs as a main-sweep frame with the paper's technique names (S-BASE, RL-R, Hash, then any
 * other router), in the paper's order: what the report, the claims and notebook 50 read.
 */
export function ourMainFrame(
  results: pl.DataFrame,
  warn: (msg: string) => void = console.warn,
): pl.DataFrame {
  const raw = sweepMainFrame(results, { warn });
  const names = (raw.getColumn("technique").toArray() as string[]).map(paperTechnique);
  const rank = names.map((t) => {
    const i = PAPER_ORDER.indexOf(t);
    return i >= 0 ? i : PAPER_ORDER.length;
  });
  return raw.withColumns(
    pl.Series("technique", names),
    pl.Series("technique_rank", rank),
  ).sort(["technique_rank", "technique", "N", "E"]).drop("technique_rank");
}

function spanOf(frame: pl.DataFrame): number {
  const N = frame.getColumn("N").toArray() as number[];
  return Math.max(...N) / Math.min(...N);
}

/** Runs the sweep in `workers` processes of `deno task sweep`, printing overall progress. */
async function sweepInProcesses(
  spec: SweepSpec,
  source: string[],
  dir: string,
  workers: number,
  log: (line: string) => void,
  allowOtherSpec: boolean,
): Promise<void> {
  const script = new URL("../cli/sweep.ts", import.meta.url).pathname;
  const runs = expandSpec(spec);
  const cost = new Map(runs.map((r) => [r.runId, runCost(r.config)]));
  const finished = () => {
    const ids = new Set<string>();
    try {
      for (const e of Deno.readDirSync(join(dir, "runs"))) {
        if (!e.name.startsWith(".")) ids.add(e.name);
      }
    } catch { /* nothing yet */ }
    return runs.filter((r) => ids.has(r.runId)).map((r) => r.runId);
  };
  const before = new Set(finished());
  const t0 = performance.now();
  const children = Array.from({ length: workers }, (_, w) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        script,
        ...source,
        "--out",
        dir,
        "--shard",
        `${w}/${workers}`,
        ...(allowOtherSpec ? ["--allow-other-spec"] : []),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn());
  // Forward the workers' per-run lines (done / DIVERGED / FAILED / damaged results) and fatal
  // errors ("sweep: ..."), not their step progress.
  const forward = children.map(async (c, w) => {
    const reader = c.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      const lines = buf.split(/[\r\n]/);
      buf = lines.pop() ?? "";
      for (const l of lines) {
        // deno-lint-ignore no-control-regex
        const s = l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trim(); // strip terminal escapes
        if (/\[sweep\] (done|DIVERGED|FAILED|failed|.* is damaged)|^sweep: /.test(s)) {
          log(`  worker ${w}: ${s}`);
        }
      }
    }
  });
  // Interrupted (Ctrl-C, kill): stop the workers too. Their runs resume from checkpoints on the
  // next invocation; without this, orphaned workers would hold their runs' locks meanwhile.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const stop = () => {
    for (const c of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    Deno.exit(130);
  };
  for (const sig of signals) Deno.addSignalListener(sig, stop);
  let last = -1;
  const progress = (force: boolean) => {
    const done = finished();
    const now = done.filter((id) => !before.has(id));
    const elapsed = (performance.now() - t0) / 1000;
    const costNow = now.reduce((s, id) => s + cost.get(id)!, 0);
    const left = runs.filter((r) => !done.includes(r.runId)).reduce(
      (s, r) => s + cost.get(r.runId)!,
      0,
    );
    const eta = costNow > 0 ? (left * elapsed) / costNow : null;
    if (force || done.length !== last || Math.round(elapsed) % 60 < 10) {
      log(
        `[reproduce] sweep: runs ${done.length}/${runs.length} done | ${
          formatDuration(elapsed)
        }, ETA ${formatDuration(eta)}`,
      );
      last = done.length;
    }
  };
  progress(true);
  const timer = setInterval(() => progress(false), 10_000);
  try {
    const codes = await Promise.all(children.map(async (c) => (await c.status).code));
    await Promise.all(forward);
    progress(true);
    if (codes.some((c) => c !== 0)) {
      log(
        `[reproduce] some sweep runs failed (exit codes ${codes.join(", ")}); they are left ` +
          `out of the fits and a rerun retries them`,
      );
    }
  } finally {
    clearInterval(timer);
    for (const sig of signals) Deno.removeSignalListener(sig, stop);
  }
}

/** The kit's main job; see the module comment. */
/** What the run works on, resolved from the options before any long step. */
interface Plan {
  spec: SweepSpec;
  /** The sweep CLI's source flags for worker processes. */
  source: string[];
  shipped?: ShippedSweep;
  out: string;
  sweepDir: string;
  skipSweep: boolean;
  folderOpts: FolderSpecOptions;
  fitOpts: { restarts: number; bootstrap: number; bootstrapRestarts: number; seed: number };
  curves: string;
}

/** Our runs, fitted (when there are enough), with what the report says about the sweep. */
interface Ours {
  analysis: Analysis;
  input: AnalysisInput;
  claims: ClaimCheck[];
  NSpan: number;
  frame: pl.DataFrame;
  results: pl.DataFrame;
  /** Run ids of the spec's runs (their curves are drawn). */
  ids: Set<string>;
}

type Timed = <T>(name: string, f: () => T | Promise<T>) => Promise<T>;

export async function reproduce(opts: ReproduceOptions): Promise<ReproduceResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const plan = await planRun(opts, log);
  await Deno.mkdir(plan.out, { recursive: true });
  const timings: Record<string, number> = {};
  const timed: Timed = async (name, f) => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[name] = (performance.now() - t0) / 1000;
    }
  };

  // 1. The release.
  log(`[reproduce] fitting every law to the release (${plan.curves})`);
  const df = await timed("load release", () => loadRelease({ path: plan.curves }));
  const relInput = releaseAnalysisInput(df, { source: "the authors' release" });
  const relA = await timed("fit release", () => analyse(relInput, plan.fitOpts));
  const relFrame = mainSweep(df);
  const relClaims = checkClaims(relFrame, relA);

  // 2. The sweep.
  let sweepWallS = plan.shipped?.manifest.sweepWallS ?? 0;
  if (!plan.skipSweep) {
    sweepWallS = await runOurSweep(plan, opts, log);
    timings["sweep"] = sweepWallS;
  }

  // 3. Our runs: the spec's runs in the sweep folder (or the shipped ones), fitted.
  const { ours, sweep, fitError } = await fitOurs(plan, sweepWallS, timed, log);

  // 4. Figures, exported to files, drawn in one browser.
  log(`[reproduce] building figures`);
  const { restarts, bootstrap, seed } = plan.fitOpts;
  const relFigs = await timed(
    "build release figures",
    () => releaseFigures(df, { restarts, resamples: bootstrap, seed }),
  );
  const skippedFigures: Record<string, string> = {};
  let ourFigs: Record<string, PlotlyFigure> = {};
  if (ours) {
    const set = await timed("build our figures", () =>
      sweepFigures(ours.frame, ours.analysis, {
        curves: (plan.shipped ? plan.shipped.curves : loadSweepCurves(plan.sweepDir)).filter(
          pl.col("run_id").isIn([...ours.ids]),
        ),
        results: ours.results,
        restarts,
        seed,
      }));
    ourFigs = set.figures;
    for (const [k, v] of Object.entries(set.skipped)) {
      skippedFigures[`ours/${k}`] = v;
      log(`[reproduce] our figure ${k} not drawn: ${v}`);
    }
  }
  const pngs = await exportAll(
    { release: relFigs, ours: ourFigs },
    join(plan.out, "figures"),
    opts.scale ?? 2,
    timed,
    log,
  );

  // 5. The report and the summary, each replaced in one rename.
  const html = reportHtml({
    generatedAt: new Date().toISOString(),
    command: opts.command ??
      `deno task reproduce --out ${opts.out} --preset ${plan.spec.name}`,
    release: { analysis: relA, input: relInput, claims: relClaims, NSpan: spanOf(relFrame) },
    ours: ours && { ...ours, sweep: sweep! },
    sweep,
    fitError,
    figures: pngs,
    skippedFigures,
    timings,
  });
  const reportPath = join(plan.out, "report.html");
  const summaryPath = join(plan.out, "summary.json");
  const figures = { release: Object.keys(relFigs), ours: Object.keys(ourFigs) };
  const summary = {
    generated_at: new Date().toISOString(),
    preset: plan.spec.name,
    options: plan.fitOpts,
    release: analysisJson(relA),
    release_vs_paper: paperComparison(relA),
    ours: ours ? analysisJson(ours.analysis) : null,
    // Our fits' settings (eq1MinEStart: an E_start sitting at 1 may be that bound).
    ours_options: ours ? ours.analysis.options : null,
    ours_vs_paper: ours ? paperComparison(ours.analysis) : null,
    sweep: sweep ?? null,
    fit_error: fitError ?? null,
    claims: { release: relClaims, ours: ours?.claims ?? null },
    figures,
    figures_skipped: skippedFigures,
    timings,
  };
  await writeAtomic(summaryPath, JSON.stringify(summary, null, 2) + "\n");
  await writeAtomic(reportPath, html);
  const reportBytes = (await Deno.stat(reportPath)).size;
  log(`[reproduce] wrote ${reportPath} (${(reportBytes / 1e6).toFixed(1)} MB) and ${summaryPath}`);
  return {
    report: reportPath,
    summary: summaryPath,
    reportBytes,
    figures,
    skippedFigures,
    release: relA,
    ours: ours?.analysis,
    claims: { release: relClaims, ours: ours?.claims },
    sweep,
    fitError,
    timings,
  };
}

/**
 * Resolves the options into a Plan and fails before hours of work, not after: conflicting
 * options, a sweep folder of another spec (the report would pool both), no Chromium, no release,
 * no results to report with --skip-sweep.
 */
async function planRun(opts: ReproduceOptions, log: (l: string) => void): Promise<Plan> {
  if (opts.spec !== undefined && opts.preset !== undefined) {
    throw new Error("give either a preset or a spec file, not both");
  }
  if (opts.shipped !== undefined && (opts.spec !== undefined || opts.preset !== undefined)) {
    throw new Error(
      "--shipped reports a committed sweep under its own spec: give it without --preset or --spec",
    );
  }
  const shipped = opts.shipped !== undefined
    ? loadShippedSweep(opts.shipped, (m) => log(`[reproduce] ${m}`))
    : undefined;
  // preset() throws listing the presets when the name is unknown.
  const spec = shipped
    ? shipped.spec
    : opts.spec !== undefined
    ? await loadSpecFile(opts.spec)
    : preset(opts.preset ?? "quick");
  const out = resolve(opts.out);
  const sweepDir = resolve(opts.sweepDir ?? join(out, "sweep"));
  const folderOpts: FolderSpecOptions = {
    allowOtherSpec: opts.allowOtherSpec,
    folderFlag: "--sweep-dir DIR, or a new --out DIR",
    log,
  };
  const skipSweep = opts.skipSweep === true || shipped !== undefined;
  if (!skipSweep) await checkSweepFolder(sweepDir, spec, folderOpts);
  findChromium();
  const curves = await resolveCurvesPath({ path: opts.curves });
  if (opts.skipSweep && !shipped) {
    const { results, missing } = presetResults(spec, sweepDir);
    if (results.height === 0) {
      throw new Error(
        `${missing}: run without --skip-sweep, or point --sweep-dir at a sweep folder`,
      );
    }
  }
  return {
    spec,
    source: opts.spec !== undefined
      ? ["--spec", resolve(opts.spec)]
      : ["--preset", opts.preset ?? "quick"],
    shipped,
    out,
    sweepDir,
    skipSweep,
    folderOpts,
    fitOpts: {
      restarts: opts.restarts ?? 500,
      bootstrap: opts.bootstrap ?? 200,
      bootstrapRestarts: opts.bootstrapRestarts ?? 20,
      seed: opts.seed ?? 0,
    },
    curves,
  };
}

/** Runs (or resumes) the sweep, in worker processes or in this one; returns its wall seconds. */
async function runOurSweep(
  plan: Plan,
  opts: ReproduceOptions,
  log: (l: string) => void,
): Promise<number> {
  const { spec, sweepDir } = plan;
  const workers = opts.workers ?? Math.min(2, Math.max(1, navigator.hardwareConcurrency ?? 1));
  log(
    `[reproduce] sweep ${spec.name}: ${expandSpec(spec).length} runs into ${sweepDir} ` +
      `(${workers} process${workers > 1 ? "es" : ""}; rerun to resume)`,
  );
  const t0 = performance.now();
  if (workers > 1) {
    await sweepInProcesses(spec, plan.source, sweepDir, workers, log, opts.allowOtherSpec ?? false);
  } else {
    let last = 0;
    const summary = await runSweep(spec, {
      ...plan.folderOpts,
      out: sweepDir,
      log: (l) => log(l),
      onProgress: opts.onSweepProgress ?? ((p) => {
        const now = performance.now();
        if (p.event === "step" && now - last < 10_000) return;
        last = now;
        log(`[reproduce] sweep: ${formatProgress(p)}`);
      }),
    });
    for (const f of summary.failed) {
      log(`[reproduce] run failed: ${f.label} (${f.runId}): ${f.error}; a rerun retries it`);
    }
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Our runs: the spec's results (shipped or in the sweep folder), what the report says about the
 * sweep, and every law fitted to them (absent, with the reason, when there are too few runs).
 */
async function fitOurs(
  plan: Plan,
  sweepWallS: number,
  timed: Timed,
  log: (l: string) => void,
): Promise<{ ours?: Ours; sweep?: SweepInfo; fitError?: string }> {
  const { shipped, spec } = plan;
  const { planned, ids, results, missing } = shipped
    ? {
      planned: plannedShippedRuns(shipped),
      ids: new Set(shipped.results.getColumn("run_id").toArray() as string[]),
      results: shipped.results,
      missing: "",
    }
    : presetResults(spec, plan.sweepDir);
  if (results.height === 0) {
    log(`[reproduce] ${missing}: the report covers the release only`);
    return {};
  }
  const warnings: string[] = [];
  const frame = ourMainFrame(results, (m) => warnings.push(m));
  for (const w of warnings) log(`[reproduce] ${w}`);
  const Ns = [...new Set(frame.getColumn("N").toArray() as number[])].sort((a, b) => a - b);
  const input = frameAnalysisInput(frame, `our ${spec.name} sweep`, {
    warn: (m) => log(`[reproduce] ${m}`),
  });
  const sweep = sweepInfoOf(plan, planned, results, sweepWallS, Ns);
  if (results.height < planned.length) {
    log(
      `[reproduce] only ${results.height}/${planned.length} runs of ${spec.name} have ` +
        `results; rerun to finish the sweep`,
    );
  }
  log(`[reproduce] fitting every law to our ${results.height} runs`);
  try {
    const analysis = await timed("fit ours", () =>
      analyse(input, {
        ...plan.fitOpts,
        heldOutMaxN: heldOutMaxNOf(Ns),
        eq1MinEStart: OUR_RUNS_EQ1_MIN_E_START,
      }));
    const claims = checkClaims(frame, analysis);
    return {
      ours: { analysis, input, claims, NSpan: spanOf(frame), frame, results, ids },
      sweep,
    };
  } catch (e) {
    // Too few runs for a law (e.g. the smoke preset): report the sweep without its fits.
    const fitError = (e as Error).message;
    log(`[reproduce] cannot fit our runs: ${fitError}; the report shows the sweep without fits`);
    return { sweep, fitError };
  }
}

/**
 * The held-out check of our runs: fit on every size but the largest, predict the largest (the
 * largest N fitted, or -1 for no check with fewer than 3 sizes). `Ns` ascending.
 */
export function heldOutMaxNOf(Ns: number[]): number {
  return Ns.length >= 3 ? Ns[Ns.length - 2] : -1;
}

/** The report's account of the sweep: what was planned, what finished, where and how long. */
function sweepInfoOf(
  plan: Plan,
  planned: ReturnType<typeof expandSpec>,
  results: pl.DataFrame,
  sweepWallS: number,
  Ns: number[],
): SweepInfo {
  const { shipped, spec } = plan;
  const status = results.getColumn("status").toArray() as string[];
  const wall = (results.getColumn("wall_s").toArray() as number[]).filter(Number.isFinite);
  const m = shipped?.manifest;
  return {
    preset: spec.name,
    dir: shipped ? shipped.dir : plan.sweepDir,
    shipped: shipped && m
      ? {
        trainingCodeVersion: m.trainingCodeVersion,
        machine:
          `${m.machine.cpu}, ${m.machine.logicalCores} logical cores, deno ${m.machine.deno}`,
        exportedAt: m.exportedAt,
        commands: m.commands,
        supplements: shipped.supplements.map((x) => ({
          sweep: x.spec.name,
          runs: x.manifest.runs,
          sweepWallS: x.manifest.sweepWallS,
          commands: x.manifest.commands,
        })),
      }
      : undefined,
    planned: planned.length,
    finished: results.height,
    diverged: status.filter((s) => s === "diverged").length,
    trainWallS: wall.reduce((a, b) => a + b, 0),
    sweepWallS,
    routers: spec.routers.map(paperTechnique),
    sizes: spec.sizes.map((s) => `d${s.dModel}L${s.layers}`),
    experts: spec.experts,
    tokensPerRun: planned[0].config.steps * planned[0].config.batchSize * planned[0].config.seqLen,
    NRange: [Ns[0], Ns[Ns.length - 1]],
    runs: (results.sort("label").toRecords() as Record<string, unknown>[]).map((r) => ({
      label: String(r.label),
      N: Number(r.N),
      P: Number(r.P),
      val_loss: Number(r.val_loss),
      status: String(r.status),
      wall_s: Number(r.wall_s),
      adapter: r.adapter == null ? "" : String(r.adapter),
    })),
  };
}

/** Exports every figure (HTML, SVG, PNG) in one browser; returns the 1x PNGs the report embeds. */
async function exportAll(
  sets: { release: Record<string, PlotlyFigure>; ours: Record<string, PlotlyFigure> },
  figDir: string,
  scale: number,
  timed: Timed,
  log: (l: string) => void,
): Promise<ReportFigure[]> {
  const renderer = await FigureRenderer.launch();
  const pngs: ReportFigure[] = [];
  try {
    for (const section of ["release", "ours"] as const) {
      const figs = sets[section];
      const dir = join(figDir, section);
      log(`[reproduce] exporting ${Object.keys(figs).length} figures to ${dir}`);
      await timed(`export ${section} figures`, () => exportFigures(figs, dir, { renderer, scale }));
      // The report embeds 1x PNGs as fallbacks (the 2x files would double its size).
      for (const [name, figure] of Object.entries(figs)) {
        pngs.push({ section, name, figure, png: await renderer.toPng(figure, { scale: 1 }) });
      }
    }
  } finally {
    await renderer.close();
  }
  return pngs;
}
