/** Bootstrap intervals (runs resampled with replacement) and the held-out size check. */
import {
  denseAlphaNc,
  type DenseParams,
  effectiveParameterCount,
  type Eq1Params,
  type Law,
  nCutoff,
  type SaturatingLaw,
} from "../laws/mod.ts";
import { Rng } from "../util/random.ts";
import { type FitData, subset, validateData } from "./data.ts";
import {
  _fitLinearWeighted,
  _lawParamsOf,
  fitLaw,
  type FitOptions,
  type FitResult,
  saturatingProblem,
} from "./fit.ts";
import { DEFAULT_HUBER_DELTA } from "./objective.ts";
import { fitSaturatingProblem } from "./saturating.ts";

/** The paper's EPC example: N = 5M dense parameters with E = 128 experts (~55M dense). */
export const EPC_EXAMPLE = { N: 5e6, E: 128 };

/** Derived quantities bootstrapped by default: N_cutoff and EPC(5M, 128) for eq1; alpha_N, N_c for dense. */
export function defaultDerived(
  law: Law<Record<string, number>>,
): ((p: Record<string, number>) => Record<string, number>) | undefined {
  if (law.name === "eq1") {
    return (p) => ({
      N_cutoff: nCutoff(p as Eq1Params),
      EPC_5M_128: effectiveParameterCount(p as Eq1Params, EPC_EXAMPLE.N, EPC_EXAMPLE.E),
    });
  }
  if (law.name === "dense") return (p) => ({ ...denseAlphaNc(p as DenseParams) });
  return undefined;
}

export interface BootstrapOptions<P> extends FitOptions<P> {
  /** Resamples (default 1000). */
  resamples?: number;
  /** Random restarts per resample for saturating laws (default 100), plus a warm start at the full fit. */
  restarts?: number;
  /** Random restarts of the full-data fit (default 500). */
  fitRestarts?: number;
  /** Interval level (default 0.95). */
  level?: number;
  /** Extra quantities to interval, computed from each resample's parameters. */
  derived?: (p: P) => Record<string, number>;
  /** The full-data fit, when the caller has it already (it is not refitted). */
  fit?: FitResult<P>;
  /** Called with (0, resamples) once the full fit is done, then after every resample. */
  onResample?: (done: number, total: number) => void;
}

export interface BootstrapResult<P> {
  fit: FitResult<P>;
  level: number;
  resamples: number;
  restarts: number;
  /** Percentile interval per parameter, derived quantity and "mse_log10". */
  intervals: Record<string, [number, number]>;
  /** Every resample's value per name, [resamples]. */
  samples: Record<string, Float64Array>;
}

/** Linear-interpolated quantile of sorted values. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Nonparametric bootstrap: each resample draws n runs with replacement (as integer weights) and is
 * refitted from scratch (saturating laws: `restarts` random restarts plus the full-data optimum as one
 * more start; linear laws: exact least squares). Percentile intervals.
 */
export function bootstrap<P extends Record<string, number>>(
  law: Law<P>,
  data: FitData,
  opts: BootstrapOptions<P> = {},
): BootstrapResult<P> {
  const n = validateData(law as unknown as Law, data);
  const B = opts.resamples ?? 1000, R = opts.restarts ?? 100, level = opts.level ?? 0.95;
  if (!(Number.isInteger(B) && B >= 2)) {
    throw new Error(`bootstrap: resamples must be an integer >= 2, got ${B}`);
  }
  if (!(level > 0 && level < 1)) {
    throw new Error(`bootstrap: level must be in (0, 1), got ${level}`);
  }
  const seed = opts.seed ?? 0;
  const fit = opts.fit ?? fitLaw(law, data, { ...opts, restarts: opts.fitRestarts ?? 500, seed });
  const derived = opts.derived ??
    (defaultDerived(law as unknown as Law) as ((p: P) => Record<string, number>) | undefined);
  const names = [
    ...law.paramNames,
    ...Object.keys(derived ? derived(fit.params) : {}),
    "mse_log10",
  ];
  const samples: Record<string, Float64Array> = {};
  for (const k of names) samples[k] = new Float64Array(B);
  const rng = new Rng(seed + 0x5eed);
  const w = new Float64Array(n);
  const loss = opts.loss ?? "mse";
  const delta = opts.huberDelta ?? DEFAULT_HUBER_DELTA;
  const sat = law.kind === "saturating" ? (law as unknown as SaturatingLaw<P>) : null;
  const prob = sat ? saturatingProblem(sat, data, opts.minStart ?? 0) : null;
  if (prob) {
    prob.loss = loss;
    prob.delta = delta;
  }
  const p = law.paramNames.length;
  opts.onResample?.(0, B);
  for (let r = 0; r < B; r++) {
    // Draw until at least p distinct runs are in the resample (always true for the release's sizes).
    let distinct = 0;
    do {
      w.fill(0);
      for (let i = 0; i < n; i++) w[rng.int(n)] += 1;
      distinct = 0;
      for (let i = 0; i < n; i++) if (w[i] > 0) distinct++;
    } while (distinct < p);
    let params: P;
    if (prob && sat) {
      prob.setWeights(w);
      const res = fitSaturatingProblem(prob, {
        restarts: R,
        seed: seed * 1_000_003 + r + 1,
        method: loss === "huber" ? "joint" : opts.method ?? "varpro",
        warmStarts: [{
          a: fit.params.a,
          b: fit.params.b,
          c: fit.params.c,
          d: fit.params.d,
          start: fit.params[sat.startName],
          max: fit.params[sat.maxName],
        }],
        polish: 3,
      });
      params = _lawParamsOf(sat, prob.toParams(res.theta));
      samples.mse_log10[r] = res.f;
    } else {
      const res = _fitLinearWeighted(law, data, n, loss, delta, w);
      params = res.params;
      samples.mse_log10[r] = res.objective;
    }
    for (const k of law.paramNames) samples[k][r] = params[k];
    if (derived) {
      const dv = derived(params);
      for (const k in dv) samples[k][r] = dv[k];
    }
    opts.onResample?.(r + 1, B);
  }
  const intervals: Record<string, [number, number]> = {};
  const lo = (1 - level) / 2;
  for (const k of names) {
    const s = Float64Array.from(samples[k]).sort();
    intervals[k] = [quantileSorted(s, lo), quantileSorted(s, 1 - lo)];
  }
  return { fit, level, resamples: B, restarts: R, intervals, samples };
}

export interface HeldOutResult<P> {
  /** The fit on the training sizes. */
  fit: FitResult<P>;
  maxTrainN: number;
  nTrain: number;
  nTest: number;
  /** On the held-out runs: MSE of log10 L, RMSE and largest error in loss units, mean |rel. error|. */
  mse_log10: number;
  rmse_loss: number;
  max_abs_error: number;
  mean_abs_rel_error: number;
  points: { index: number; N: number; observed: number; predicted: number }[];
}

/** Fit on runs with N <= maxTrainN (default 4e8: sizes up to 370M), predict the larger runs (1.3B). */
export function heldOut<P extends Record<string, number>>(
  law: Law<P>,
  data: FitData,
  opts: FitOptions<P> & { maxTrainN?: number } = {},
): HeldOutResult<P> {
  validateData(law as unknown as Law, data);
  if (!data.N) throw new Error("heldOut: data needs an 'N' column to split by model size");
  const maxTrainN = opts.maxTrainN ?? 4e8;
  const tr: number[] = [], te: number[] = [];
  for (let i = 0; i < data.loss.length; i++) (data.N[i] <= maxTrainN ? tr : te).push(i);
  if (te.length === 0) throw new Error(`heldOut: no runs with N > ${maxTrainN} to predict`);
  const fit = fitLaw(law, subset(data, tr), opts);
  const test = subset(data, te);
  let se = 0, sl = 0, mx = 0, rel = 0;
  const points = te.map((idx, j) => {
    const x = { N: test.N?.[j], E: test.E?.[j], F: test.F?.[j], B: test.B?.[j] };
    const pl = law.predictLog10(fit.params, x);
    const obs = test.loss[j], pred = Math.pow(10, pl);
    se += (pl - Math.log10(obs)) ** 2;
    sl += (pred - obs) ** 2;
    mx = Math.max(mx, Math.abs(pred - obs));
    rel += Math.abs(pred - obs) / obs;
    return { index: idx, N: data.N![idx], observed: obs, predicted: pred };
  });
  const m = te.length;
  return {
    fit,
    maxTrainN,
    nTrain: tr.length,
    nTest: m,
    mse_log10: se / m,
    rmse_loss: Math.sqrt(sl / m),
    max_abs_error: mx,
    mean_abs_rel_error: rel / m,
    points,
  };
}
