/**
 * The figures of our own sweep: the release's figure builders applied to our runs (a main-sweep
 * frame from sweepMainFrame) and to the fits lib/analysis made of them. A figure that cannot be
 * drawn from the runs at hand (e.g. too few sizes) is reported as skipped, not fatal.
 */
import pl from "nodejs-polars";
import {
  type Analysis,
  type ComparisonRow,
  paperComparison,
  residualData,
  slopeData,
} from "../analysis/mod.ts";
import type { PlotlyFigure } from "../export/mod.ts";
import {
  analysisProfileFigure,
  comparisonFigure,
  fig1a,
  fig1b,
  fig1c,
  type Fits,
  lossVsExpertsPanels,
  modelSizes,
  residualsFigure,
  slopesFigure,
  trainingCurvesFigure,
} from "../figures/mod.ts";

export interface SweepFigureSet {
  figures: Record<string, PlotlyFigure>;
  /** Figures that could not be drawn from these runs, with the reason. */
  skipped: Record<string, string>;
}

/** The Eq. (1) parameters of each technique of an Analysis, as the figure builders take them. */
export function fitsOf(a: Analysis): Fits {
  return Object.fromEntries(Object.entries(a.techniques).map(([t, r]) => [t, r.eq1.params]));
}

/** The comparison rows of an Analysis (no refitting: its fits and intervals): paperComparison. */
export function comparisonRowsOf(a: Analysis): ComparisonRow[] {
  return paperComparison(a);
}

/**
 * Figures of our runs. `frame`: sweepMainFrame(results) with paper technique names; `curves`:
 * loadSweepCurves(dir) (run_id, step, val_loss); `results`: loadSweepResults(dir) (for tokens a
 * step). Names follow RELEASE_FIGURES where the figure is the same kind.
 */
export function sweepFigures(
  frame: pl.DataFrame,
  analysis: Analysis,
  opts: { curves?: pl.DataFrame; results?: pl.DataFrame; restarts?: number; seed?: number } = {},
): SweepFigureSet {
  const fits = fitsOf(analysis);
  const techs = Object.keys(fits);
  const figures: Record<string, PlotlyFigure> = {};
  const skipped: Record<string, string> = {};
  const tryFig = (name: string, build: () => PlotlyFigure) => {
    try {
      figures[name] = build();
    } catch (e) {
      skipped[name] = (e as Error).message.split("\n")[0];
    }
  };
  const first = techs.includes("S-Base") ? "S-Base" : techs[0];
  const sizes = modelSizes(frame);
  tryFig("fig1a", () => fig1a(frame, fits, { technique: first, fitLabel: "our refit" }));
  tryFig("fig1b", () => {
    const f = fig1b(fits, sizes);
    // fig1b's x axis is set for the paper's sizes (5M-1.3B): let plotly fit ours.
    const xaxis = { ...(f.layout.xaxis as Record<string, unknown>) };
    for (const k of ["range", "tickvals", "ticktext"]) delete xaxis[k];
    return { ...f, layout: { ...f.layout, xaxis: { ...xaxis, autorange: true } } };
  });
  tryFig("fig1c", () => fig1c(frame, fits));
  tryFig("loss_vs_experts", () => lossVsExpertsPanels(frame, fits));
  tryFig("slopes", () => slopesFigure(techs.map((t) => slopeData(frame, t))));
  tryFig(
    "residuals",
    () =>
      residualsFigure(
        residualData(frame, {
          restarts: opts.restarts,
          seed: opts.seed,
          eq1MinEStart: analysis.options.eq1MinEStart,
        }),
      ),
  );
  tryFig("technique_comparison", () => comparisonFigure(comparisonRowsOf(analysis)));
  tryFig("saturation_profile", () => analysisProfileFigure(analysis));
  if (opts.curves && opts.results && opts.curves.height > 0) {
    const curves = opts.curves, results = opts.results;
    tryFig("training_curves", () => {
      // Our curves in the release's training-curve shape: one row per eval, tokens seen so far.
      const perStep = results.select(
        "run_id",
        pl.col("batchSize").mul(pl.col("seqLen")).alias("tokens_per_step"),
      );
      const runs = frame.select("run_id", "technique", "router_type", "N", "E", "model_size_label");
      const c = curves
        .filter(pl.col("val_loss").isNotNull())
        .join(perStep, { on: "run_id" })
        .join(runs, { on: "run_id" })
        .select(
          "technique",
          "router_type",
          "N",
          "E",
          "model_size_label",
          pl.col("run_id").alias("hyper_id"),
          pl.col("step").mul(pl.col("tokens_per_step")).cast(pl.Float64).alias("tokens"),
          pl.col("val_loss").alias("loss"),
        );
      const experts = [...new Set(frame.getColumn("E").toArray() as number[])].sort((a, b) =>
        a - b
      );
      const f = trainingCurvesFigure(c, { technique: first, experts });
      // The release's axes tick once a decade; our runs span less than one: let plotly tick.
      const layout: Record<string, unknown> = { ...f.layout };
      for (const [k, v] of Object.entries(layout)) {
        if (k.startsWith("xaxis") && v && typeof v === "object") {
          const { dtick: _drop, ...rest } = v as Record<string, unknown>;
          layout[k] = rest;
        }
      }
      return { ...f, layout };
    });
  } else {
    skipped.training_curves = "no loss curves in the sweep folder";
  }
  return { figures, skipped };
}
