/** Eq. (1) refitted at every evaluation step of the release's runs: how the law moves in training. */
import pl from "nodejs-polars";
import { eq1Law, type Eq1Params, nCutoff } from "../laws/mod.ts";
import { fitLaw } from "../fit/mod.ts";
import { fitData, trainingCurves } from "../release/mod.ts";
import { type FitOpts, techniqueRows, techniquesOf } from "./techniques.ts";

export interface TrainingFitRow {
  technique: string;
  step: number;
  tokens: number;
  n: number;
  E_start: number;
  E_max: number;
  N_cutoff: number;
  a: number;
  b: number;
  c: number;
  d: number;
  rmse_loss: number;
}

/**
 * Eq. (1) refitted at every evaluation step of the main sweep's runs (same runs as the final fit,
 * each at that step), per technique. `mainFrame` selects the runs (by hyper_id); `df` is the full
 * release. Steps where fewer than `minCoverage` of the runs have a loss are skipped.
 */
export function lawsOverTraining(
  df: pl.DataFrame,
  mainFrame: pl.DataFrame,
  opts: FitOpts & { minStep?: number; minCoverage?: number } = {},
): TrainingFitRow[] {
  const curves = trainingCurves(df);
  const out: TrainingFitRow[] = [];
  for (const t of techniquesOf(mainFrame)) {
    const ids = techniqueRows(mainFrame, t).select("hyper_id");
    const c = curves.join(ids, { on: "hyper_id" }).filter(
      pl.col("loss").isNotNull().and(pl.col("step").gtEq(opts.minStep ?? 20000)),
    );
    const steps = [...new Set(c.getColumn("step").toArray() as number[])].sort((a, b) => a - b);
    let warm: Eq1Params | undefined;
    for (const s of steps) {
      const at = c.filter(pl.col("step").eq(s));
      if (at.height < (opts.minCoverage ?? 0.9) * ids.height) continue;
      const f = fitLaw(eq1Law, fitData(at), {
        restarts: opts.restarts ?? 100,
        seed: opts.seed ?? 0,
        warmStarts: warm ? [warm] : undefined,
      });
      warm = f.params;
      out.push({
        technique: t,
        step: s,
        tokens: Number(at.getColumn("tokens").get(0)),
        n: at.height,
        ...f.params,
        N_cutoff: nCutoff(f.params),
        rmse_loss: f.rmse_loss,
      });
    }
  }
  return out;
}
