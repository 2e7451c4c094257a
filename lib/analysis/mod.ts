/**
 * Every law variant fitted to every technique, and its views (JSON, the paper side by side, text,
 * tables). The one place the kit fits laws: lib/figures draws what these functions return.
 *
 *   const df = await loadRelease();
 *   const input = releaseAnalysisInput(df);
 *   const a = analyse(input, { restarts: 500, bootstrap: 200 });
 *   console.log(analysisText(a, input));
 *
 * The notebooks' shorter paths from a main-sweep frame: fitEq1PerTechnique, compareTechniques,
 * slopeData, residualData, lawsOverTraining, computeLawData and the tables.
 */
export {
  analyse,
  type Analysis,
  type AnalysisOptions,
  type BootstrapProgress,
  type DenseAnalysis,
  type Eq1Fit,
  type HeldOutSummary,
  type LawFit,
  MAX_BOOTSTRAP,
  OUR_RUNS_EQ1_MIN_E_START,
  type TechniqueAnalysis,
} from "./analyse.ts";
export {
  type AnalysisInput,
  DENSE,
  frameAnalysisInput,
  type GroupData,
  OUTLIER_DECADES,
  readFitFrame,
  releaseAnalysisInput,
  releaseGeneralisedInput,
} from "./input.ts";
export {
  type CellPlaces,
  compareCells,
  type Comparison,
  type Difference,
  type GroupSpread,
  type SeedSpread,
  seedSpread,
  type SizeSpread,
  SPREAD_MULTIPLE,
  spreadAt,
  type SpreadRun,
  spreadWords,
} from "./seed_spread.ts";
export {
  analysisJson,
  analysisText,
  type ComparisonRow,
  comparisonRows,
  fmt,
  goodnessCell,
  heldOutCell,
  paperComparison,
  table3Mse,
  textTable,
} from "./summary.ts";
export {
  compareTechniques,
  type Eq1FitOpts,
  fitEq1PerTechnique,
  type FitOpts,
  type Fits,
  PAPER_FITS,
  paramsOf,
} from "./techniques.ts";
export { residualData, type ResidualRow, type SlopeData, slopeData } from "./variants.ts";
export { lawsOverTraining, type TrainingFitRow } from "./training.ts";
export { type ComputeLawData, computeLawData } from "./compute_law.ts";
export {
  comparisonTable,
  denseFitTable,
  epcTable,
  fitQualityTable,
  releaseOverview,
} from "./tables.ts";
