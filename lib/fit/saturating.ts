/**
 * Fitting the saturating-bilinear laws (Eq. 1, generalised law):
 *   log L = a z + b' l2 + c z l2 + d',  z = log X1 - mu (centred), l2 = log Xhat2(ls, lm)
 * with ls = log2 start and lm = log2 max = ls + softplus(v), so start < max always holds (the authors
 * also optimise log2 values). The centred (b', d') map back to b = b' - c mu, d = d' - a mu.
 * With a lower bound on start (`minStart`, e.g. E_start >= 1) the optimiser's first transform
 * coordinate is u with ls = log2 minStart + softplus(u); without one it is ls itself.
 *
 * Two optimisers over the same objective:
 * - "varpro": variable projection. For fixed (ls, v) the four linear coefficients are solved exactly
 *   by weighted least squares (Householder QR), so L-BFGS runs in 2 dimensions; by the envelope
 *   theorem the gradient of the reduced objective is the partial gradient at the solved coefficients.
 *   MSE only.
 * - "joint": L-BFGS over all six (a, b', c, d', ls, v); works for MSE and Huber.
 */
import { Rng } from "../util/random.ts";
import { lbfgs, type LbfgsResult } from "./lbfgs.ts";
import { LsqWorkspace, solveLeastSquares } from "./lstsq.ts";
import { type LossKind, penalty, penaltyDeriv } from "./objective.ts";

const LN2 = Math.LN2, LN10 = Math.LN10;

function softplus(v: number): number {
  return v > 30 ? v : Math.log1p(Math.exp(v));
}
function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
/** Inverse of softplus, for gap > 0. */
export function invSoftplus(gap: number): number {
  return gap > 30 ? gap : Math.log(Math.expm1(gap));
}

/** Throws unless `minStart` (a lower bound on the start parameter) is finite and >= 0 (0: none). */
export function checkMinStart(minStart: number, what = "minStart"): void {
  if (!(minStart >= 0 && Number.isFinite(minStart))) {
    throw new Error(`${what} must be a finite number >= 0 (0: no bound), got ${minStart}`);
  }
}

/** Raw solution in the optimiser's coordinates. */
export interface SatSolution {
  /** [a, b', c, d', ls, v] (centred linear part). */
  theta: Float64Array;
  f: number;
}

/** Parameters in natural units. */
export interface SatParams {
  a: number;
  b: number;
  c: number;
  d: number;
  start: number;
  max: number;
}

export class SatProblem {
  readonly n: number;
  readonly mu: number;
  readonly z: Float64Array; // [n] log10 x1 - mu
  readonly x2: Float64Array; // [n] raw second input (E or B)
  readonly y: Float64Array; // [n] log10 loss
  readonly w: Float64Array; // [n] weights (bootstrap multiplicities), default 1
  private W = 0;
  private readonly l2: Float64Array; // [n] log10 Xhat2
  private readonly d2s: Float64Array; // [n] d l2 / d ls
  private readonly d2m: Float64Array; // [n] d l2 / d lm
  private readonly ws: LsqWorkspace;
  /** Linear coefficients (a, b', c, d') of the last `solveLinear`. */
  readonly lin = new Float64Array(4);
  loss: LossKind = "mse";
  delta = 0.005;
  evaluations = 0;
  /** log2 of the lower bound on start; -Infinity: unbounded (u = ls). */
  readonly lsMin: number;

  /** `minStart` > 0 bounds start from below (start >= minStart); omitted or 0: unbounded. */
  constructor(
    x1: ArrayLike<number>,
    x2: ArrayLike<number>,
    loss: ArrayLike<number>,
    minStart = 0,
  ) {
    checkMinStart(minStart);
    this.lsMin = minStart > 0 ? Math.log2(minStart) : -Infinity;
    const n = (this.n = loss.length);
    this.z = new Float64Array(n);
    this.x2 = Float64Array.from(x2);
    this.y = new Float64Array(n);
    this.w = new Float64Array(n).fill(1);
    let mu = 0;
    for (let i = 0; i < n; i++) mu += Math.log10(x1[i]);
    this.mu = mu / n;
    for (let i = 0; i < n; i++) {
      this.z[i] = Math.log10(x1[i]) - this.mu;
      this.y[i] = Math.log10(loss[i]);
    }
    this.W = n;
    this.l2 = new Float64Array(n);
    this.d2s = new Float64Array(n);
    this.d2m = new Float64Array(n);
    this.ws = new LsqWorkspace(n, 4);
  }

  /** Set per-point weights (e.g. bootstrap counts); weights must be >= 0 with a positive sum. */
  setWeights(w: ArrayLike<number>): void {
    let s = 0;
    for (let i = 0; i < this.n; i++) {
      this.w[i] = w[i];
      s += w[i];
    }
    if (!(s > 0)) throw new Error("SatProblem.setWeights: weights must have a positive sum");
    this.W = s;
  }

  /** ls of the optimiser's coordinate u. */
  lsOf(u: number): number {
    return this.lsMin === -Infinity ? u : this.lsMin + softplus(u);
  }
  /** d ls / d u. */
  private dlsOf(u: number): number {
    return this.lsMin === -Infinity ? 1 : sigmoid(u);
  }
  /** The optimiser's coordinate u of ls (ls at or below the bound maps just above it). */
  uOf(ls: number): number {
    return this.lsMin === -Infinity ? ls : invSoftplus(Math.max(ls - this.lsMin, 1e-6));
  }

  /** Fill l2, d2s, d2m for (ls, lm); false when the values are not finite. */
  private transform(ls: number, lm: number): boolean {
    if (!(ls > -50 && ls < 50 && lm < 200 && lm > ls)) return false;
    const s = Math.pow(2, ls), m = Math.pow(2, lm);
    const q = 1 / s - 1 / m;
    if (!(q > 0)) return false;
    const K = 1 / q, im = 1 / m;
    const dKdls = K * K * (LN2 / s), dKdlm = -K * K * (LN2 * im);
    const { x2, l2, d2s, d2m, n } = this;
    for (let i = 0; i < n; i++) {
      const D = x2[i] - 1 + K;
      const iD = 1 / D;
      const h = iD + im;
      l2[i] = -Math.log10(h);
      const dhdK = -iD * iD;
      const c = -1 / (h * LN10);
      d2s[i] = c * dhdK * dKdls;
      d2m[i] = c * (dhdK * dKdlm - LN2 * im);
    }
    return true;
  }

  /** Weighted least squares for (a, b', c, d') at the current transform; fills lin. */
  private solveLinear(): void {
    const { ws, z, l2, y, w, n } = this;
    const A = ws.A, b = ws.b;
    let r = 0;
    for (let i = 0; i < n; i++) {
      if (w[i] === 0) continue;
      const sw = Math.sqrt(w[i]);
      const o = r * 4;
      A[o] = sw * z[i];
      A[o + 1] = sw * l2[i];
      A[o + 2] = sw * z[i] * l2[i];
      A[o + 3] = sw;
      b[r] = sw * y[i];
      r++;
    }
    solveLeastSquares(ws, r);
    this.lin.set(ws.coef);
  }

  /** Reduced MSE over th = [u, v] (variable projection); writes its gradient. */
  readonly varproFG = (th: Float64Array, g: Float64Array): number => {
    this.evaluations++;
    const ls = this.lsOf(th[0]), v = th[1];
    const lm = ls + softplus(v);
    if (!this.transform(ls, lm)) {
      g[0] = g[1] = 0;
      return Infinity;
    }
    this.solveLinear();
    const [a, b, c, d] = this.lin;
    const { z, l2, d2s, d2m, y, w, n } = this;
    let f = 0, gs = 0, gm = 0;
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      if (wi === 0) continue;
      const r = a * z[i] + b * l2[i] + c * z[i] * l2[i] + d - y[i];
      f += wi * r * r;
      const k = wi * 2 * r * (b + c * z[i]);
      gs += k * d2s[i];
      gm += k * d2m[i];
    }
    const iW = 1 / this.W;
    g[0] = (gs + gm) * iW * this.dlsOf(th[0]);
    g[1] = gm * sigmoid(v) * iW;
    return f * iW;
  };

  /** Full objective (MSE or Huber) over th = [a, b', c, d', u, v]; writes its gradient. */
  readonly jointFG = (th: Float64Array, g: Float64Array): number => {
    this.evaluations++;
    const a = th[0], b = th[1], c = th[2], d = th[3], ls = this.lsOf(th[4]), v = th[5];
    const lm = ls + softplus(v);
    if (!this.transform(ls, lm)) {
      g.fill(0);
      return Infinity;
    }
    const { z, l2, d2s, d2m, y, w, n, loss, delta } = this;
    let f = 0, ga = 0, gb = 0, gc = 0, gd = 0, gs = 0, gm = 0;
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      if (wi === 0) continue;
      const zi = z[i], li = l2[i];
      const r = a * zi + b * li + c * zi * li + d - y[i];
      f += wi * penalty(loss, r, delta);
      const p = wi * penaltyDeriv(loss, r, delta);
      ga += p * zi;
      gb += p * li;
      gc += p * zi * li;
      gd += p;
      const k = p * (b + c * zi);
      gs += k * d2s[i];
      gm += k * d2m[i];
    }
    const iW = 1 / this.W;
    g[0] = ga * iW;
    g[1] = gb * iW;
    g[2] = gc * iW;
    g[3] = gd * iW;
    g[4] = (gs + gm) * iW * this.dlsOf(th[4]);
    g[5] = gm * sigmoid(v) * iW;
    return f * iW;
  };

  /** Linear coefficients solved at (u, v): the joint start point for those transform parameters. */
  jointStart(u: number, v: number): Float64Array | null {
    const ls = this.lsOf(u);
    if (!this.transform(ls, ls + softplus(v))) return null;
    this.solveLinear();
    return Float64Array.of(this.lin[0], this.lin[1], this.lin[2], this.lin[3], u, v);
  }

  /** Natural-unit parameters of a joint theta. */
  toParams(th: ArrayLike<number>): SatParams {
    const a = th[0], bp = th[1], c = th[2], dp = th[3], ls = this.lsOf(th[4]), v = th[5];
    return {
      a,
      b: bp - c * this.mu,
      c,
      d: dp - a * this.mu,
      start: Math.pow(2, ls),
      max: Math.pow(2, ls + softplus(v)),
    };
  }

  /** Joint theta of natural-unit parameters (requires 0 < start < max; a start below the bound
   * is moved just above it). */
  fromParams(p: SatParams): Float64Array {
    const ls = Math.max(Math.log2(p.start), this.lsMin + 1e-6), lm = Math.log2(p.max);
    return Float64Array.of(
      p.a,
      p.b + p.c * this.mu,
      p.c,
      p.d + p.a * this.mu,
      this.uOf(ls),
      invSoftplus(Math.max(lm - ls, 1e-6)),
    );
  }
}

export interface SatFitOptions {
  restarts: number;
  seed: number;
  method: "varpro" | "joint";
  /** Solutions to also start from (warm starts), natural units. */
  warmStarts?: SatParams[];
  /** How many of the best screened restarts get a tight polish (default 5). */
  polish?: number;
  /** Random start ranges, log2 units: start in [lo, hi], log2(max/start) in [gapLo, gapHi]. */
  startRange?: [number, number];
  gapRange?: [number, number];
}

export interface SatFitResult {
  theta: Float64Array; // joint coordinates of the best solution
  f: number;
  converged: boolean;
  reason: LbfgsResult["reason"];
  iterations: number; // iterations of the final polish
  screenIterations: number; // summed over all restarts
  evaluations: number;
  restarts: number;
}

const SCREEN = { maxIter: 60, gtol: 1e-5, ftol: 1e-10 };
const POLISH = { maxIter: 3000, gtol: 1e-7, ftol: 1e-16 };

/** Multistart fit of a saturating-bilinear problem (objective set on the problem: mse or huber). */
export function fitSaturatingProblem(prob: SatProblem, opt: SatFitOptions): SatFitResult {
  if (opt.method === "varpro" && prob.loss !== "mse") {
    throw new Error(
      `method "varpro" solves the MSE only; use method "joint" for loss "${prob.loss}"`,
    );
  }
  const rng = new Rng(opt.seed);
  const [sLo, sHi] = opt.startRange ?? [-2, 6];
  const [gLo, gHi] = opt.gapRange ?? [0.05, 12];
  const starts: Float64Array[] = []; // in [ls, v]
  for (const p of opt.warmStarts ?? []) {
    const t = prob.fromParams(p);
    starts.push(Float64Array.of(t[4], t[5]));
  }
  for (let r = 0; r < opt.restarts; r++) {
    const ls = rng.uniform(sLo, sHi), gap = rng.uniform(gLo, gHi);
    // Under a bound, a draw below it starts just above it (the same draws either way).
    starts.push(Float64Array.of(prob.uOf(Math.max(ls, prob.lsMin + 1e-3)), invSoftplus(gap)));
  }
  const ev0 = prob.evaluations;
  const found: { theta: Float64Array; f: number }[] = [];
  let screenIterations = 0;
  for (const s of starts) {
    if (opt.method === "varpro") {
      const res = lbfgs(prob.varproFG, s, SCREEN);
      screenIterations += res.iterations;
      if (Number.isFinite(res.f)) found.push({ theta: res.x, f: res.f });
    } else {
      const t0 = prob.jointStart(s[0], s[1]);
      if (!t0) continue;
      const res = lbfgs(prob.jointFG, t0, { ...SCREEN, maxIter: 200 });
      screenIterations += res.iterations;
      if (Number.isFinite(res.f)) found.push({ theta: res.x, f: res.f });
    }
  }
  if (found.length === 0) throw new Error("saturating fit: no restart reached a finite objective");
  found.sort((p, q) => p.f - q.f);
  // Polish the best few distinct solutions tightly.
  const K = opt.polish ?? 5;
  const picked: Float64Array[] = [];
  for (const c of found) {
    if (picked.length >= K) break;
    const lsIdx = opt.method === "varpro" ? 0 : 4;
    const dup = picked.some((p) =>
      Math.abs(p[lsIdx] - c.theta[lsIdx]) < 1e-4 &&
      Math.abs(p[lsIdx + 1] - c.theta[lsIdx + 1]) < 1e-4
    );
    if (!dup) picked.push(c.theta);
  }
  let best: LbfgsResult | null = null;
  let bestJoint: Float64Array | null = null;
  for (const t of picked) {
    const res = lbfgs(opt.method === "varpro" ? prob.varproFG : prob.jointFG, t, POLISH);
    if (!Number.isFinite(res.f)) continue;
    if (!best || res.f < best.f) {
      best = res;
      bestJoint = opt.method === "varpro" ? prob.jointStart(res.x[0], res.x[1]) : res.x;
    }
  }
  if (!best || !bestJoint) {
    throw new Error("saturating fit: polishing failed to reach a finite objective");
  }
  let f = best.f, theta = bestJoint, converged = best.converged, reason = best.reason;
  let iterations = best.iterations;
  if (opt.method === "varpro") {
    // Final joint polish from the projected optimum: reports convergence in all six coordinates.
    const j = lbfgs(prob.jointFG, bestJoint, POLISH);
    iterations += j.iterations;
    if (j.f <= f) {
      f = j.f;
      theta = j.x;
      converged = j.converged || converged;
      reason = j.converged ? j.reason : reason;
    }
  }
  return {
    theta,
    f,
    converged,
    reason,
    iterations,
    screenIterations,
    evaluations: prob.evaluations - ev0,
    restarts: starts.length,
  };
}
