/** fitLaw: exact least squares for linear laws, multistart L-BFGS for the saturating laws. */
import type { Law } from "../laws/mod.ts";
import type { SaturatingLaw } from "../laws/mod.ts";
import { type FitData, pointAt, subset, validateData } from "./data.ts";
import { lbfgs } from "./lbfgs.ts";
import { LsqWorkspace, solveLeastSquares } from "./lstsq.ts";
import { DEFAULT_HUBER_DELTA, type LossKind, penalty, penaltyDeriv } from "./objective.ts";
import { fitSaturatingProblem, type SatParams, SatProblem } from "./saturating.ts";

export interface FitOptions<P> {
  /** Random restarts for the saturating laws (default 500). */
  restarts?: number;
  /** Seed of the restarts (default 0). */
  seed?: number;
  /** Objective on log10 residuals (default "mse", the authors'). */
  loss?: LossKind;
  /** Huber threshold in log10 units (default 0.005). */
  huberDelta?: number;
  /** Saturating laws: "varpro" (default for MSE) or "joint" (always used for Huber). */
  method?: "varpro" | "joint";
  /** Saturating laws: extra starting solutions besides the random ones. */
  warmStarts?: P[];
  /**
   * Saturating laws: a lower bound on the start parameter (Eq. (1): E_start >= minStart, so the
   * dense model counts as at least that many experts); 0 or omitted: unbounded, as the authors fit.
   */
  minStart?: number;
}

export interface FitResult<P> {
  law: string;
  params: P;
  loss: LossKind;
  /** Final value of the chosen objective. */
  objective: number;
  /** Mean squared error of log10 L. */
  mse_log10: number;
  /** Root mean squared error in loss units (nats/token). */
  rmse_loss: number;
  /** Largest |log10 predicted - log10 observed|. */
  max_residual: number;
  /** Largest |predicted - observed| in loss units. */
  max_residual_loss: number;
  converged: boolean;
  /** Why the final optimiser run stopped ("exact" for least squares). */
  reason: string;
  n: number;
  /** Iterations of the final optimiser run (0 for exact least squares). */
  iterations: number;
  restarts: number;
  evaluations: number;
  method: "lstsq" | "lbfgs" | "varpro" | "joint";
}

function isSaturating<P extends Record<string, number>>(law: Law<P>): law is SaturatingLaw<P> {
  return law.kind === "saturating";
}

/** Goodness of fit of given parameters on data (no fitting). */
export function evaluateFit<P extends Record<string, number>>(
  law: Law<P>,
  params: P,
  data: FitData,
): {
  mse_log10: number;
  rmse_loss: number;
  max_residual: number;
  max_residual_loss: number;
  n: number;
} {
  const n = validateData(law as unknown as Law, { ...data });
  let se = 0, sl = 0, mr = 0, ml = 0;
  for (let i = 0; i < n; i++) {
    const pl = law.predictLog10(params, pointAt(data, i));
    const y = data.loss[i];
    const r = pl - Math.log10(y);
    se += r * r;
    const rl = Math.pow(10, pl) - y;
    sl += rl * rl;
    mr = Math.max(mr, Math.abs(r));
    ml = Math.max(ml, Math.abs(rl));
  }
  return {
    mse_log10: se / n,
    rmse_loss: Math.sqrt(sl / n),
    max_residual: mr,
    max_residual_loss: ml,
    n,
  };
}

function fitLinear<P extends Record<string, number>>(
  law: Law<P>,
  data: FitData,
  n: number,
  loss: LossKind,
  delta: number,
  weights?: ArrayLike<number>,
): { params: P; objective: number; converged: boolean; iterations: number; evaluations: number } {
  const p = law.paramNames.length;
  const X = new Float64Array(n * p), y = new Float64Array(n), row = new Float64Array(p);
  const ws = new LsqWorkspace(n, p);
  let r = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i] : 1;
    law.basis!(pointAt(data, i), row);
    for (let j = 0; j < p; j++) X[i * p + j] = row[j];
    y[i] = Math.log10(data.loss[i]);
    if (w === 0) continue;
    const sw = Math.sqrt(w);
    for (let j = 0; j < p; j++) ws.A[r * p + j] = sw * row[j];
    ws.b[r] = sw * y[i];
    r++;
  }
  const W = weights ? Array.from(weights).reduce((s, v) => s + v, 0) : n;
  const rss = solveLeastSquares(ws, r);
  let coef: Float64Array = Float64Array.from(ws.coef);
  let objective = rss / W, converged = true, iterations = 0, evaluations = 0;
  if (loss === "huber") {
    // Convex objective: one L-BFGS run from the least-squares solution.
    const fg = (th: Float64Array, g: Float64Array): number => {
      g.fill(0);
      let f = 0;
      for (let i = 0; i < n; i++) {
        const w = weights ? weights[i] : 1;
        if (w === 0) continue;
        let pr = 0;
        for (let j = 0; j < p; j++) pr += th[j] * X[i * p + j];
        const res = pr - y[i];
        f += w * penalty(loss, res, delta);
        const dv = w * penaltyDeriv(loss, res, delta);
        for (let j = 0; j < p; j++) g[j] += dv * X[i * p + j];
      }
      for (let j = 0; j < p; j++) g[j] /= W;
      return f / W;
    };
    const res = lbfgs(fg, coef, { maxIter: 2000, gtol: 1e-7, ftol: 1e-16 });
    coef = res.x;
    objective = res.f;
    converged = res.converged;
    iterations = res.iterations;
    evaluations = res.evaluations;
  }
  const params = {} as Record<string, number>;
  law.paramNames.forEach((k, j) => (params[k] = coef[j]));
  return { params: params as P, objective, converged, iterations, evaluations };
}

function satParamsOf<P extends Record<string, number>>(law: SaturatingLaw<P>, p: P): SatParams {
  return { a: p.a, b: p.b, c: p.c, d: p.d, start: p[law.startName], max: p[law.maxName] };
}

function lawParamsOf<P extends Record<string, number>>(law: SaturatingLaw<P>, s: SatParams): P {
  const out: Record<string, number> = { a: s.a, b: s.b, c: s.c, d: s.d };
  out[law.startName] = s.start;
  out[law.maxName] = s.max;
  return out as P;
}

/** The optimisation problem of a saturating law on data (reusable across bootstrap resamples). */
export function saturatingProblem<P extends Record<string, number>>(
  law: SaturatingLaw<P>,
  data: FitData,
  minStart = 0,
): SatProblem {
  return new SatProblem(data[law.x1]!, data[law.x2]!, data.loss, minStart);
}

/** Fit one law to data. */
export function fitLaw<P extends Record<string, number>>(
  law: Law<P>,
  data: FitData,
  opts: FitOptions<P> = {},
): FitResult<P> {
  const n = validateData(law as unknown as Law, data);
  const loss = opts.loss ?? "mse";
  if (loss !== "mse" && loss !== "huber") {
    throw new Error(`fitLaw: loss must be "mse" or "huber", got ${loss}`);
  }
  const delta = opts.huberDelta ?? DEFAULT_HUBER_DELTA;
  let params: P, objective: number, converged: boolean, iterations: number, evaluations: number;
  let restarts = 0, reason = "exact";
  let method: FitResult<P>["method"];
  if (law.kind === "linear") {
    const r = fitLinear(law, data, n, loss, delta);
    ({ params, objective, converged, iterations, evaluations } = r);
    if (loss !== "mse") reason = converged ? "converged" : "not converged";
    method = loss === "mse" ? "lstsq" : "lbfgs";
  } else if (isSaturating(law)) {
    const restartsOpt = opts.restarts ?? 500;
    if (!(Number.isInteger(restartsOpt) && restartsOpt >= 1)) {
      throw new Error(`fitLaw: restarts must be a positive integer, got ${restartsOpt}`);
    }
    const prob = saturatingProblem(law, data, opts.minStart ?? 0);
    prob.loss = loss;
    prob.delta = delta;
    method = loss === "huber" ? "joint" : opts.method ?? "varpro";
    const r = fitSaturatingProblem(prob, {
      restarts: restartsOpt,
      seed: opts.seed ?? 0,
      method,
      warmStarts: opts.warmStarts?.map((p) => satParamsOf(law, p)),
    });
    params = lawParamsOf(law, prob.toParams(r.theta));
    objective = r.f;
    converged = r.converged;
    reason = r.reason;
    iterations = r.iterations;
    evaluations = r.evaluations;
    restarts = r.restarts;
  } else {
    throw new Error(`fitLaw: law ${law.name} has unknown kind ${law.kind}`);
  }
  const ev = evaluateFit(law, params, data);
  return {
    law: law.name,
    params,
    loss,
    objective,
    ...ev,
    converged,
    reason,
    iterations,
    restarts,
    evaluations,
    method,
  };
}

/** Fit a law separately within each group of equal `by` values (per-N or per-E power laws). */
export function fitPerGroup<P extends Record<string, number>>(
  law: Law<P>,
  data: FitData,
  by: "N" | "E",
  opts: FitOptions<P> = {},
): { value: number; n: number; fit: FitResult<P> | null; skipped?: string }[] {
  const col = data[by];
  if (!col) throw new Error(`fitPerGroup: data has no '${by}' column to group by`);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < col.length; i++) {
    const g = groups.get(col[i]);
    if (g) g.push(i);
    else groups.set(col[i], [i]);
  }
  const out: { value: number; n: number; fit: FitResult<P> | null; skipped?: string }[] = [];
  for (const value of [...groups.keys()].sort((a, b) => a - b)) {
    const idx = groups.get(value)!;
    if (idx.length < law.paramNames.length) {
      out.push({
        value,
        n: idx.length,
        fit: null,
        skipped: `${idx.length} points < ${law.paramNames.length} parameters`,
      });
      continue;
    }
    out.push({ value, n: idx.length, fit: fitLaw(law, subset(data, idx), opts) });
  }
  return out;
}

export {
  fitLinear as _fitLinearWeighted,
  lawParamsOf as _lawParamsOf,
  satParamsOf as _satParamsOf,
};
