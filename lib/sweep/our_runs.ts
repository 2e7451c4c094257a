/**
 * Our runs as the notebooks read them: the committed standard sweep by default (nothing to
 * train), or a preset trained (or resumed) into out/sweep-<preset> when asked for. Notebooks 50
 * and 55 share this choice instead of each copying a spec and a folder.
 */
import pl from "nodejs-polars";
import { runSweep, type SweepProgress } from "./engine.ts";
import { preset } from "./presets.ts";
import { loadShippedSweep } from "./shipped.ts";
import { expandSpec } from "./spec.ts";
import { finishedRunIds, loadRouterMetrics, loadSweepCurves, loadSweepResults } from "./store.ts";
import type { RunOne, SweepSpec } from "./types.ts";

/** Where the kit keeps its committed standard sweep, relative to the repository root. */
export const SHIPPED_STANDARD = "data/ours/standard";

/** The runs of one sweep, with where they came from. */
export interface OurRuns {
  spec: SweepSpec;
  results: pl.DataFrame;
  curves: pl.DataFrame;
  router: pl.DataFrame;
  /** One line: the folder, and whether the runs were committed or trained here. */
  source: string;
  /** The sweep folder (absent for committed results). */
  dir?: string;
}

/** Only the rows of these run ids (a folder may also hold other specs' runs). */
const only = (df: pl.DataFrame, ids: string[]) =>
  df.height > 0 ? df.filter(pl.col("run_id").isIn(ids)) : df;

/**
 * The runs a notebook shows. `which` "shipped" (default) reads the committed standard sweep under
 * `root`; a preset name runs (or resumes) that preset into root/out/sweep-<name> first.
 */
export async function ourRuns(opts: {
  root: string;
  which?: string;
  onProgress?: (p: SweepProgress) => void;
  runOne?: RunOne;
}): Promise<OurRuns> {
  const which = opts.which ?? "shipped";
  if (which === "shipped") {
    const s = loadShippedSweep(`${opts.root}/${SHIPPED_STANDARD}`);
    return {
      spec: s.spec,
      results: s.results,
      curves: s.curves,
      router: s.router,
      source: `${SHIPPED_STANDARD}: the committed ${s.spec.name} sweep (${s.manifest.runs} ` +
        `runs, training code version ${s.manifest.trainingCodeVersion}, ` +
        `${(s.manifest.sweepWallS / 60).toFixed(0)} min on ${s.manifest.machine.cpu})` +
        s.supplements.map((x) =>
          `, with ${x.manifest.runs} runs of its supplement ${x.spec.name} ` +
          `(${(x.manifest.sweepWallS / 60).toFixed(0)} min)`
        ).join(""),
    };
  }
  const spec = preset(which);
  const dir = sweepFolderOf(opts.root, which);
  const summary = await runSweep(spec, {
    out: dir,
    onProgress: opts.onProgress,
    runOne: opts.runOne,
    log: () => {},
  });
  if (summary.failed.length > 0) {
    throw new Error(
      `${summary.failed.length} run(s) of ${which} failed (${summary.failed[0].error}); rerun ` +
        `this cell to retry them: finished runs are kept`,
    );
  }
  const ids = expandSpec(spec).map((r) => r.runId);
  return {
    spec,
    results: only(loadSweepResults(dir), ids),
    curves: only(loadSweepCurves(dir), ids),
    router: only(loadRouterMetrics(dir), ids),
    source: `${dir}: the ${which} preset trained here (${summary.ran.length} runs now, ` +
      `${summary.skipped.length} already there)`,
    dir,
  };
}

/** The folder a preset trains into when a notebook runs it. */
export const sweepFolderOf = (root: string, presetName: string) =>
  `${root}/out/sweep-${presetName}`;

/** The largest preset of `candidates` whose every run is already in its folder, else `fallback`. */
export function finishedPreset(root: string, candidates: string[], fallback: string): string {
  for (const name of candidates) {
    const have = new Set(finishedRunIds(sweepFolderOf(root, name)));
    if (expandSpec(preset(name)).every((r) => have.has(r.runId))) return name;
  }
  return fallback;
}
