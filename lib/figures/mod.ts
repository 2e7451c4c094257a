/**
 * Figure builders: one function per figure of the paper, each returning a plotly.js figure
 * {data, layout} built from a frame (a release view, or our own runs with the same columns) and
 * what lib/analysis fitted (fits, slopes, residuals, comparison rows, refits over training). Show
 * them with lib/display, write them with lib/export. Nothing here fits a law; releaseFigures
 * asks lib/analysis for the fits it draws.
 */
export {
  axis,
  baseLayout,
  COLORS,
  DISPLAY_NAMES,
  displayName,
  formatCount,
  log2Axis,
  techniqueColor,
} from "./style.ts";
export { type RunRow, runRows } from "./rows.ts";
export {
  fig1,
  fig1a,
  fig1b,
  type Fig1bOptions,
  fig1c,
  type Fig1cOptions,
  lossVsExperts,
  type LossVsExpertsOptions,
  lossVsExpertsPanels,
  modelSizes,
} from "./fig1.ts";
export { residualsFigure, slopesFigure } from "./laws.ts";
export { analysisProfileFigure, type ProfileMark, saturationProfileFigure } from "./profile.ts";
export { comparisonFigure } from "./comparison.ts";
export { routingFrequencyFigure, topKFigure } from "./ablations.ts";
export { computeLawFigure } from "./compute_law.ts";
export { lawsOverTrainingFigure, trainingCurvesFigure } from "./training.ts";
export { downstreamFigure, EVAL_SETS } from "./downstream.ts";
export { expertLoadFigure, runCurvesFigure, type TrainedRun } from "./trained_runs.ts";
export { RELEASE_FIGURES, type ReleaseFigureOptions, releaseFigures } from "./release.ts";
// What the builders take, defined with the fits in lib/analysis; releaseOverview is a table of
// the release that notebook 00 imports from here.
export { type Fits, PAPER_FITS, releaseOverview } from "../analysis/mod.ts";
