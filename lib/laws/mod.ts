/** Scaling laws of Clark et al. 2022: typed models, predictions, gradients, derived quantities. */
export type { Input, Law, Point } from "./types.ts";
export { ehat } from "./saturate.ts";
export {
  bilinearLaw,
  type BilinearParams,
  denseAlphaNc,
  denseLaw,
  type DenseParams,
  powerELaw,
  type PowerEParams,
  powerNLaw,
  type PowerNParams,
  separableLaw,
  type SeparableParams,
} from "./linear.ts";
export {
  eq1Law,
  type Eq1Params,
  generalisedLaw,
  type GeneralisedParams,
  PAPER_DENSE,
  PAPER_EPC_EXAMPLE,
  PAPER_N_CUTOFF,
  type SaturatingLaw,
  TABLE3,
} from "./eq1.ts";
export {
  effectiveParameterCount,
  eq1Loss,
  isoLossN,
  nCutoff,
  optimalE,
  saturationReached,
  slopeA,
  slopeB,
  unifiedDenseLine,
  utilisationInputs,
  type UtilisationRow,
} from "./derived.ts";
export { log10EhatLog2 } from "./saturate.ts";
