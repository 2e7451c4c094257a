/**
 * Figure builders: one function per figure of the paper, each returning a plotly.js figure
 * {data, layout} built from a frame (a release view, or our own runs with the same columns) and
 * fitted laws. Show them with lib/display, write them with lib/export. The computations behind them
 * (fits, slopes, residuals, refits over training) are in analysis.ts, exported here too.
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
  type Fits,
  lossVsExperts,
  type LossVsExpertsOptions,
  lossVsExpertsPanels,
  modelSizes,
} from "./fig1.ts";
export {
  comparisonFigure,
  computeLawFigure,
  downstreamFigure,
  EVAL_SETS,
  lawsOverTrainingFigure,
  residualsFigure,
  routingFrequencyFigure,
  slopesFigure,
  topKFigure,
  trainingCurvesFigure,
} from "./more.ts";
export {
  compareTechniques,
  type ComparisonRow,
  comparisonTable,
  type ComputeLawData,
  computeLawData,
  denseFitTable,
  epcTable,
  fitEq1PerTechnique,
  type FitOpts,
  fitQualityTable,
  lawsOverTraining,
  PAPER_FITS,
  paramsOf,
  releaseOverview,
  residualData,
  type ResidualRow,
  type SlopeData,
  slopeData,
  type TrainingFitRow,
} from "./analysis.ts";
export { RELEASE_FIGURES, type ReleaseFigureOptions, releaseFigures } from "./release.ts";
