/**
 * `deno task reproduce`: the release refit, our sweep, every law on both, every figure, and one
 * self-contained HTML report (plotly.js inlined, PNG fallbacks) plus summary.json.
 *
 *   const r = await reproduce({ out: "out/reproduce", preset: "quick" });
 *   console.log(r.report, r.reportBytes);
 */
export {
  heldOutMaxNOf,
  ourMainFrame,
  paperTechnique,
  reproduce,
  type ReproduceOptions,
  type ReproduceResult,
  writeAtomic,
} from "./reproduce.ts";
export {
  carryOver,
  checkClaims,
  type ClaimCheck,
  claimsText,
  compareOrders,
  degenerateFits,
  E_MAX_REACH,
  frameSeedSpread,
  type GainRow,
  gainTable,
  orderWords,
  techniqueOrder,
  type Verdict,
  verdictWords,
} from "./claims.ts";
export { changeMarkdown, gainMarkdown } from "./markdown.ts";
export {
  escapeHtml,
  type ReportContent,
  type ReportFigure,
  reportHtml,
  type SweepInfo,
} from "./html.ts";
export { comparisonRowsOf, fitsOf, sweepFigures, type SweepFigureSet } from "./figures.ts";
