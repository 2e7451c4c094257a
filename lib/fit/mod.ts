/** Fitting scaling laws: L-BFGS, least squares, multistart, bootstrap, held-out checks. */
export { type FitData, subset, validateData } from "./data.ts";
export { lbfgs, type LbfgsOptions, type LbfgsResult, type ObjectiveGrad } from "./lbfgs.ts";
export { leastSquares, LsqWorkspace, solveLeastSquares } from "./lstsq.ts";
export { DEFAULT_HUBER_DELTA, type LossKind } from "./objective.ts";
export {
  evaluateFit,
  fitLaw,
  type FitOptions,
  fitPerGroup,
  type FitResult,
  saturatingProblem,
} from "./fit.ts";
export {
  bootstrap,
  type BootstrapOptions,
  type BootstrapResult,
  defaultDerived,
  EPC_EXAMPLE,
  heldOut,
  type HeldOutResult,
  quantileSorted,
} from "./bootstrap.ts";
export {
  checkMinStart,
  fitSaturatingProblem,
  type SatFitOptions,
  type SatParams,
  SatProblem,
} from "./saturating.ts";
export {
  chi2TwoDof,
  eq1ProfileRegion,
  MIN_PROFILE_RUNS,
  type ProfileOptions,
  type ProfileRegion,
  type ProfileSpan,
  profileWords,
  saturationBounded,
} from "./profile.ts";
