/**
 * Eq. (1) per technique straight from a main-sweep frame (a release view such as mainSweep(df),
 * or our runs from ourMainFrame: dense rows repeated under every technique as E = 1): the short
 * path the notebooks take to the fits that `analyse` makes beside every other law.
 */
import pl from "nodejs-polars";
import { eq1Law, type Eq1Params, TABLE3 } from "../laws/mod.ts";
import { fitData } from "../release/mod.ts";
import { checkBootstrap, type Eq1Fit, lawFit, ofTechnique, withDerived } from "./analyse.ts";
import { type ComparisonRow, comparisonRows } from "./summary.ts";

/** Eq. (1) coefficients per technique: what the figure builders draw. */
export type Fits = Record<string, Eq1Params>;

/** Table 3 of the paper as Fits (3-decimal published coefficients). */
export const PAPER_FITS: Fits = { ...TABLE3 };

export interface FitOpts {
  /** Random restarts of each saturating fit (default 500, the authors'). */
  restarts?: number;
  seed?: number;
  /** Lower bound on Eq. (1)'s E_start (AnalysisOptions.eq1MinEStart; default 0: none). */
  eq1MinEStart?: number;
}

export interface Eq1FitOpts extends FitOpts {
  /** Bootstrap resamples (0: no intervals). */
  resamples?: number;
  /** Random restarts of each bootstrap refit, besides a start at the full fit (default 20). */
  bootRestarts?: number;
}

/** The techniques of a frame, in first-seen order. */
export function techniquesOf(frame: pl.DataFrame): string[] {
  return [...new Set(frame.getColumn("technique").toArray() as string[])];
}

/** The rows of one technique (its routed runs and the dense runs as E = 1). */
export function techniqueRows(frame: pl.DataFrame, technique: string): pl.DataFrame {
  return frame.filter(pl.col("technique").eq(pl.lit(technique)));
}

/**
 * Eq. (1) refit per technique on a main-sweep frame (the authors' procedure: MSE of log10 L),
 * with N_cutoff and EPC(5M, 128); with `resamples`, 95% bootstrap intervals too.
 */
export function fitEq1PerTechnique(
  frame: pl.DataFrame,
  opts: Eq1FitOpts = {},
): Record<string, Eq1Fit> {
  const o = {
    restarts: opts.restarts ?? 500,
    bootstrap: opts.resamples ?? 0,
    bootstrapRestarts: opts.bootRestarts ?? 20,
    seed: opts.seed ?? 0,
    loss: "mse" as const,
    minStart: opts.eq1MinEStart ?? 0,
  };
  checkBootstrap(o.bootstrap);
  const out: Record<string, Eq1Fit> = {};
  for (const t of techniquesOf(frame)) {
    const d = fitData(techniqueRows(frame, t));
    out[t] = withDerived(lawFit(eq1Law, d, o, `eq1 fit${ofTechnique(t)}`));
  }
  return out;
}

/** Just the parameters of per-technique fits. */
export function paramsOf(fits: Record<string, { params: Eq1Params }>): Fits {
  return Object.fromEntries(Object.entries(fits).map(([t, f]) => [t, f.params]));
}

/**
 * Eq. (1) per technique with bootstrap intervals (default 200 resamples), as rows beside the
 * paper (Table 3, N_cutoff and the EPC example): what comparisonFigure draws.
 */
export function compareTechniques(frame: pl.DataFrame, opts: Eq1FitOpts = {}): ComparisonRow[] {
  return comparisonRows(fitEq1PerTechnique(frame, { ...opts, resamples: opts.resamples ?? 200 }));
}
