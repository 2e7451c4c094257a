/**
 * Every figure of the kit, built from the authors' release (what `deno task figures` writes): the
 * fits from lib/analysis, drawn by the builders of this folder.
 */
import pl from "nodejs-polars";
import type { PlotlyFigure } from "../export/mod.ts";
import { eq1ProfileRegion } from "../fit/mod.ts";
import { TABLE3 } from "../laws/mod.ts";
import {
  finalSteps,
  fitData,
  mainSweep,
  routingFrequencySweep,
  topKSweep,
  trainingCurves,
} from "../release/mod.ts";
import {
  compareTechniques,
  computeLawData,
  fitEq1PerTechnique,
  type Fits,
  lawsOverTraining,
  paramsOf,
  residualData,
  slopeData,
} from "../analysis/mod.ts";
import { fig1, fig1a, fig1b, fig1c, lossVsExpertsPanels, modelSizes } from "./fig1.ts";
import { residualsFigure, slopesFigure } from "./laws.ts";
import { comparisonFigure } from "./comparison.ts";
import { saturationProfileFigure } from "./profile.ts";
import { routingFrequencyFigure, topKFigure } from "./ablations.ts";
import { computeLawFigure } from "./compute_law.ts";
import { lawsOverTrainingFigure, trainingCurvesFigure } from "./training.ts";
import { downstreamFigure } from "./downstream.ts";

export interface ReleaseFigureOptions {
  /** Restarts of each Eq. (1) fit (default 500, the authors'). */
  restarts?: number;
  /** Bootstrap resamples for the comparison intervals (default 200). */
  resamples?: number;
  seed?: number;
  /** Only build these figures (names as in RELEASE_FIGURES). */
  only?: string[];
}

/** Names of the figures built from the release, in order. */
export const RELEASE_FIGURES = [
  "fig1",
  "fig1a",
  "fig1b",
  "fig1c",
  "loss_vs_experts",
  "slopes",
  "residuals",
  "technique_comparison",
  "saturation_profile",
  "routing_frequency",
  "top_k",
  "compute_law",
  "laws_over_training",
  "training_curves",
  "downstream",
] as const;

/**
 * Builds the figures from the release frame. Fits follow the authors' procedure (seed-42 main
 * sweep); the plotted runs use the mean of dense 130M's three seeds so that size shows a dense point,
 * as in the paper's Figure 1 (it is not part of the fit).
 */
export function releaseFigures(
  df: pl.DataFrame,
  opts: ReleaseFigureOptions = {},
): Record<string, PlotlyFigure> {
  const want = (n: string) => !opts.only || opts.only.includes(n);
  const unknown = (opts.only ?? []).filter((n) =>
    !(RELEASE_FIGURES as readonly string[]).includes(n)
  );
  if (unknown.length) {
    throw new Error(
      `unknown figure(s) ${unknown.join(", ")}; known: ${RELEASE_FIGURES.join(", ")}`,
    );
  }
  const seed = opts.seed ?? 0, restarts = opts.restarts ?? 500;
  const main = mainSweep(df);
  const shown = mainSweep(df, { seedPolicy: "mean-dense-seeds" });
  const fits: Fits = paramsOf(fitEq1PerTechnique(main, { restarts, seed }));
  const out: Record<string, PlotlyFigure> = {};
  const levels = modelSizes(main).filter((s) => s.N > 2e7);
  if (want("fig1")) out.fig1 = fig1(shown, fits, levels);
  if (want("fig1a")) out.fig1a = fig1a(shown, fits, { fitLabel: "our refit" });
  if (want("fig1b")) out.fig1b = fig1b(fits, levels);
  if (want("fig1c")) out.fig1c = fig1c(shown, fits);
  if (want("loss_vs_experts")) out.loss_vs_experts = lossVsExpertsPanels(shown, fits);
  if (want("slopes")) out.slopes = slopesFigure(Object.keys(fits).map((t) => slopeData(main, t)));
  if (want("residuals")) out.residuals = residualsFigure(residualData(main, { restarts, seed }));
  if (want("technique_comparison")) {
    out.technique_comparison = comparisonFigure(
      compareTechniques(main, { restarts, resamples: opts.resamples ?? 200, seed }),
    );
  }
  if (want("saturation_profile")) {
    const techs = Object.keys(fits) as (keyof typeof TABLE3)[];
    const regions = Object.fromEntries(techs.map((t) => {
      const d = fitData(main.filter(pl.col("technique").eq(pl.lit(t))));
      return [t, eq1ProfileRegion(d.N, d.E, d.loss)];
    }));
    const marks = Object.fromEntries(techs.map((t) => [t, [
      { E_start: fits[t].E_start, E_max: fits[t].E_max, label: "our refit" },
      { E_start: TABLE3[t].E_start, E_max: TABLE3[t].E_max, label: "Table 3" },
    ]]));
    out.saturation_profile = saturationProfileFigure(regions, { marks });
  }
  if (want("routing_frequency")) {
    out.routing_frequency = routingFrequencyFigure(
      routingFrequencySweep(df, { includeDense: true }),
    );
  }
  if (want("top_k")) out.top_k = topKFigure(topKSweep(df));
  if (want("compute_law")) {
    out.compute_law = computeLawFigure(computeLawData(finalSteps(df), { restarts, seed }));
  }
  if (want("laws_over_training")) {
    out.laws_over_training = lawsOverTrainingFigure(
      lawsOverTraining(df, main, { restarts: Math.min(restarts, 100), seed }),
    );
  }
  if (want("training_curves")) {
    const ids = mainSweep(df, { technique: "S-Base" }).select("hyper_id", "technique");
    out.training_curves = trainingCurvesFigure(
      trainingCurves(df).drop("technique").join(ids, { on: "hyper_id" }),
    );
  }
  if (want("downstream")) out.downstream = downstreamFigure(main);
  return out;
}
