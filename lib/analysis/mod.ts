/**
 * Every law variant fitted to every technique, and its views (JSON, the paper side by side, text).
 *
 *   const df = await loadRelease();
 *   const input = releaseAnalysisInput(df);
 *   const a = analyse(input, { restarts: 500, bootstrap: 200 });
 *   console.log(analysisText(a, input));
 */
export {
  analyse,
  type Analysis,
  type AnalysisOptions,
  type BootstrapProgress,
  type DenseAnalysis,
  type HeldOutSummary,
  type LawFit,
  MAX_BOOTSTRAP,
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
  analysisJson,
  analysisText,
  type ComparisonRow,
  fmt,
  goodnessCell,
  heldOutCell,
  paperComparison,
  table3Mse,
  textTable,
} from "./summary.ts";
