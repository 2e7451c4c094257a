/**
 * Every law variant of the paper fitted to every technique: Eq. (1) with bootstrap intervals, the
 * separable and bilinear laws, per-N and per-E power laws, the dense power law, the generalised
 * (F, Bhat) law and a held-out check. One call serves the CLI, the notebooks and the reports.
 */
import {
  bilinearLaw,
  type BilinearParams,
  denseAlphaNc,
  denseLaw,
  type DenseParams,
  effectiveParameterCount,
  eq1Law,
  type Eq1Params,
  generalisedLaw,
  type GeneralisedParams,
  type Law,
  nCutoff,
  powerELaw,
  powerNLaw,
  separableLaw,
  type SeparableParams,
} from "../laws/mod.ts";
import {
  bootstrap,
  checkMinStart,
  EPC_EXAMPLE,
  eq1ProfileRegion,
  type FitData,
  fitLaw,
  fitPerGroup,
  type FitResult,
  heldOut,
  type HeldOutResult,
  type LossKind,
  MIN_PROFILE_RUNS,
  type ProfileRegion,
} from "../fit/mod.ts";
import type { AnalysisInput } from "./input.ts";

/**
 * Most bootstrap resamples per law: 95% percentile intervals settle within a few thousand, and
 * every resample refits the law from random restarts (100000 take minutes per law on the
 * release; 1e9, accepted before this limit, would take years).
 */
export const MAX_BOOTSTRAP = 100_000;

/** Where a bootstrap stands: which law (index of count in this analysis), resamples done. */
export interface BootstrapProgress {
  /** "S-Base eq1", "Dense dense", ... */
  label: string;
  /** 1-based position of this law among the bootstrapped laws of the analysis. */
  index: number;
  count: number;
  done: number;
  total: number;
}

/**
 * E_start >= 1 for Eq. (1) fitted to our own runs. With few expert counts and seed noise, the
 * unbounded fit of our sweeps runs along a flat valley to E_start = E_max -> 0, where Eq. (1)
 * collapses into loss linear in 1/(E + K) with unbounded b; the claims call E_start < 1
 * degenerate, so the fit is kept where the law means what the paper says (Ehat(1) >= 1).
 */
export const OUR_RUNS_EQ1_MIN_E_START = 1;

export interface AnalysisOptions {
  /** Random restarts of each saturating fit (default 500). */
  restarts?: number;
  /** Bootstrap resamples per law (default 200; 0 = no intervals). */
  bootstrap?: number;
  /** Random restarts of each bootstrap refit, besides a start at the full fit (default 20). */
  bootstrapRestarts?: number;
  seed?: number;
  loss?: LossKind;
  /** Fit on N <= heldOutMaxN, predict the rest (default 4e8: up to 370M, predict 1.3B). */
  heldOutMaxN?: number;
  /**
   * Lower bound on Eq. (1)'s E_start, the dense model's effective expert count (default 0: none,
   * as the authors fit). Our small sweeps use 1 (OUR_RUNS_EQ1_MIN_E_START): unbounded, their fit
   * slides to E_start -> 0, where Eq. (1) degenerates (see docs/paper.md).
   */
  eq1MinEStart?: number;
  /** Only these techniques (default all); an unknown name is an error. */
  techniques?: string[];
  /** Called before each fit, for progress displays. */
  onProgress?: (message: string) => void;
  /** Called when a law's bootstrap starts and after each of its resamples. */
  onBootstrap?: (p: BootstrapProgress) => void;
}

/** A fitted law: coefficients, goodness of fit and, with bootstrap, 95% intervals. */
export interface LawFit<P> {
  params: P;
  mse_log10: number;
  rmse_loss: number;
  max_residual: number;
  max_residual_loss: number;
  converged: boolean;
  n: number;
  method: string;
  /** [low, high] per coefficient and derived quantity, when bootstrapped. */
  ci95?: Record<string, [number, number]>;
  /** The full result of the fit (iterations, restarts, objective). */
  result: FitResult<P>;
}

/** A held-out check's figures, without the fit and per-point detail (lib/fit's heldOut). */
export type HeldOutSummary = Pick<
  HeldOutResult<unknown>,
  "nTrain" | "nTest" | "mse_log10" | "rmse_loss" | "max_abs_error" | "mean_abs_rel_error"
>;

/** Eq. (1) fitted, with its derived quantities N_cutoff and EPC(5M, E = 128). */
export type Eq1Fit = LawFit<Eq1Params> & { N_cutoff: number; EPC_5M_128: number };

export interface TechniqueAnalysis {
  n: number;
  eq1: Eq1Fit;
  separable: LawFit<SeparableParams>;
  bilinear: LawFit<BilinearParams>;
  /** For each dense size: log L = b(N) log E + d(N) over that size's runs. */
  perN: { N: number; b: number; d: number; mse_log10: number; n: number }[];
  /** For each expert count: log L = a(E) log N + d(E) over that count's runs. */
  perE: { E: number; a: number; d: number; mse_log10: number; n: number }[];
  heldOut?: Record<"eq1" | "separable" | "bilinear", HeldOutSummary>;
  generalised?: LawFit<GeneralisedParams>;
  /**
   * Eq. (1)'s (E_start, E_max) 95% profile-likelihood region (lib/fit/profile.ts): whether the
   * runs measure the saturation at all. Absent with fewer than MIN_PROFILE_RUNS runs.
   */
  eq1Profile?: ProfileRegion;
}

export interface DenseAnalysis extends LawFit<DenseParams> {
  alpha_N: number;
  N_c: number;
}

export interface Analysis {
  source: string;
  options: Required<Omit<AnalysisOptions, "onProgress" | "onBootstrap" | "techniques">>;
  techniques: Record<string, TechniqueAnalysis>;
  dense?: DenseAnalysis;
}

/** Fit every law for every technique of the input. */
export function analyse(input: AnalysisInput, opts: AnalysisOptions = {}): Analysis {
  const o = {
    restarts: opts.restarts ?? 500,
    bootstrap: opts.bootstrap ?? 200,
    bootstrapRestarts: opts.bootstrapRestarts ?? 20,
    seed: opts.seed ?? 0,
    loss: opts.loss ?? ("mse" as LossKind),
    heldOutMaxN: opts.heldOutMaxN ?? 4e8,
    eq1MinEStart: opts.eq1MinEStart ?? 0,
  };
  checkBootstrap(o.bootstrap);
  checkMinStart(o.eq1MinEStart, "eq1MinEStart");
  const progress = opts.onProgress ?? (() => {});
  const available = Object.keys(input.techniques);
  const names = opts.techniques ?? available;
  for (const t of names) {
    if (!available.includes(t)) {
      throw new Error(
        `Unknown technique ${JSON.stringify(t)} in ${input.source}; available: ${
          available.join(", ")
        }`,
      );
    }
  }
  const hasDense = input.dense.N.length >= 2 && new Set(input.dense.N).size >= 2;
  // eq1, separable and bilinear per technique, the generalised law where given, the dense law.
  const bootstrapped = names.length * 3 + names.filter((t) => input.generalised?.[t]).length +
    (hasDense ? 1 : 0);
  let bootstrapIndex = 0;
  // The bound applies to Eq. (1) only (the generalised law's B_start is not an expert count).
  const minStartOf = (law: Law) => law === eq1Law ? o.eq1MinEStart : 0;
  const fitOf = <P extends Record<string, number>>(
    technique: string,
    law: Law<P>,
    d: FitData,
  ): LawFit<P> => {
    const index = ++bootstrapIndex;
    const label = `${technique} ${law.name}`;
    return lawFit(
      law,
      d,
      { ...o, minStart: minStartOf(law as unknown as Law) },
      `${law.name} fit${ofTechnique(technique)}`,
      (done, total) => opts.onBootstrap?.({ label, index, count: bootstrapped, done, total }),
    );
  };
  // Fit everything before returning anything: an error in any fit leaves nothing half-written.
  const techniques: Record<string, TechniqueAnalysis> = {};
  for (const t of names) {
    const g = input.techniques[t];
    const data: FitData = { N: g.N, E: g.E, loss: g.loss };
    const fitOne = <P extends Record<string, number>>(law: Law<P>, d: FitData): LawFit<P> => {
      progress(`${t}: ${law.name}`);
      return fitOf(t, law, d);
    };
    const eq1 = fitOne(eq1Law, data);
    const perGroup = <P extends Record<string, number>>(law: Law<P>, by: "N" | "E") =>
      fitPerGroup(law, data, by, o).filter((r) => r.fit).map((r) => {
        requireFinite(`${law.name} fit at ${by} = ${r.value}${ofTechnique(t)}`, {
          ...r.fit!.params,
          mse_log10: r.fit!.mse_log10,
        });
        return r;
      });
    const perN = perGroup(powerELaw, "N").map((r) => ({
      N: r.value,
      b: r.fit!.params.b,
      d: r.fit!.params.d,
      mse_log10: r.fit!.mse_log10,
      n: r.n,
    }));
    const perE = perGroup(powerNLaw, "E").map((r) => ({
      E: r.value,
      a: r.fit!.params.a,
      d: r.fit!.params.d,
      mse_log10: r.fit!.mse_log10,
      n: r.n,
    }));
    const result: TechniqueAnalysis = {
      n: g.loss.length,
      eq1: withDerived(eq1),
      separable: fitOne(separableLaw, data),
      bilinear: fitOne(bilinearLaw, data),
      perN,
      perE,
      ...(g.loss.length >= MIN_PROFILE_RUNS
        ? { eq1Profile: eq1ProfileRegion(g.N, g.E, g.loss, { minStart: o.eq1MinEStart }) }
        : {}),
    };
    if (g.N.some((n) => n > o.heldOutMaxN) && g.N.some((n) => n <= o.heldOutMaxN)) {
      progress(`${t}: held-out check`);
      const h = <P extends Record<string, number>>(law: Law<P>): HeldOutSummary => {
        const r = heldOut(law, data, {
          restarts: o.restarts,
          seed: o.seed,
          loss: o.loss,
          maxTrainN: o.heldOutMaxN,
          minStart: minStartOf(law as unknown as Law),
        });
        requireFinite(`${law.name} held-out check${ofTechnique(t)}`, {
          ...r.fit.params,
          rmse_loss: r.rmse_loss,
          max_abs_error: r.max_abs_error,
        });
        return {
          nTrain: r.nTrain,
          nTest: r.nTest,
          mse_log10: r.mse_log10,
          rmse_loss: r.rmse_loss,
          max_abs_error: r.max_abs_error,
          mean_abs_rel_error: r.mean_abs_rel_error,
        };
      };
      result.heldOut = { eq1: h(eq1Law), separable: h(separableLaw), bilinear: h(bilinearLaw) };
    }
    const gen = input.generalised?.[t];
    if (gen) result.generalised = fitOne(generalisedLaw, { F: gen.F, B: gen.B, loss: gen.loss });
    techniques[t] = result;
  }
  let dense: DenseAnalysis | undefined;
  if (hasDense) {
    progress("Dense: power law");
    const f = fitOf("Dense", denseLaw, { N: input.dense.N, loss: input.dense.loss });
    dense = { ...f, ...denseAlphaNc(f.params) };
    requireFinite("dense fit of the dense runs", { alpha_N: dense.alpha_N, N_c: dense.N_c });
  }
  return { source: input.source, options: o, techniques, dense };
}

/** Throws unless `n` is 0 (no intervals) or a whole number of resamples from 2 to MAX_BOOTSTRAP. */
export function checkBootstrap(n: number): void {
  if (!(Number.isInteger(n) && (n === 0 || (n >= 2 && n <= MAX_BOOTSTRAP)))) {
    throw new Error(
      `bootstrap must be 0 (no intervals) or an integer from 2 to ${MAX_BOOTSTRAP}, got ${n}`,
    );
  }
}

/** An Eq. (1) fit with its derived quantities. */
export function withDerived(eq1: LawFit<Eq1Params>): Eq1Fit {
  return {
    ...eq1,
    N_cutoff: nCutoff(eq1.params),
    EPC_5M_128: effectiveParameterCount(eq1.params, EPC_EXAMPLE.N, EPC_EXAMPLE.E),
  };
}

/** " for technique X" (the dense law is fitted to the dense runs, not to a technique). */
export function ofTechnique(t: string): string {
  return t === "Dense" ? " of the dense runs" : ` for technique ${JSON.stringify(t)}`;
}

/**
 * Throws when a fit gave a non-finite coefficient or error: data far outside the law's range (a
 * loss of 1e308, say) overflow double precision, and the numbers would be meaningless.
 */
function requireFinite(what: string, values: Record<string, number>): void {
  const bad = Object.entries(values).filter(([, v]) => !Number.isFinite(v));
  if (bad.length === 0) return;
  throw new Error(
    `the ${what} is not finite (${bad.map(([k, v]) => `${k} = ${v}`).join(", ")}): ` +
      `the data cannot be fitted in double precision as given. Check the input for extreme or ` +
      `mistyped values of N or loss (rows far from the rest are named in a warning above), ` +
      `fix or remove them and fit again`,
  );
}

/** How lawFit fits: restarts and seed of the fit, resamples (0: none) and their restarts. */
export interface LawFitSettings {
  restarts: number;
  bootstrap: number;
  bootstrapRestarts: number;
  seed: number;
  loss: LossKind;
  /** Saturating laws: lower bound on the start parameter (FitOptions.minStart). */
  minStart?: number;
}

/**
 * One law fitted (checked finite, named `label` in the error) and, when `o.bootstrap` > 0,
 * bootstrapped from that fit: the fits of `analyse` and of `fitEq1PerTechnique`.
 */
export function lawFit<P extends Record<string, number>>(
  law: Law<P>,
  data: FitData,
  o: LawFitSettings,
  label: string,
  onResample: (done: number, total: number) => void = () => {},
): LawFit<P> {
  // The full fit first and checked, so that a hopeless fit fails before its resamples run.
  const fit = fitLaw(law, data, {
    restarts: o.restarts,
    seed: o.seed,
    loss: o.loss,
    minStart: o.minStart,
  });
  requireFinite(label, {
    ...fit.params,
    mse_log10: fit.mse_log10,
    rmse_loss: fit.rmse_loss,
    max_residual_loss: fit.max_residual_loss,
  });
  let ci95: Record<string, [number, number]> | undefined;
  if (o.bootstrap > 0) {
    ci95 = bootstrap(law, data, {
      fit,
      resamples: o.bootstrap,
      restarts: o.bootstrapRestarts,
      seed: o.seed,
      loss: o.loss,
      minStart: o.minStart,
      onResample,
    }).intervals;
  }
  return {
    params: fit.params,
    mse_log10: fit.mse_log10,
    rmse_loss: fit.rmse_loss,
    max_residual: fit.max_residual,
    max_residual_loss: fit.max_residual_loss,
    converged: fit.converged,
    n: fit.n,
    method: fit.method,
    ci95,
    result: fit,
  };
}
