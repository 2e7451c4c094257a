/**
 * L-BFGS (Nocedal & Wright 2006, Alg. 7.4/7.5) with a strong-Wolfe line search (Alg. 3.5/3.6,
 * cubic interpolation in the zoom). Buffers are allocated once per call; the iteration loop does not
 * allocate.
 */

/** Objective: returns f(x) and writes the gradient into g. */
export type ObjectiveGrad = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  /** History pairs kept (default 8). */
  memory?: number;
  /** Iteration cap (default 200). */
  maxIter?: number;
  /** Stop when ||g||_inf <= gtol * max(|f|, fScale) (default 1e-9). */
  gtol?: number;
  /** Scale below which f counts as zero in the gradient test (default 1e-12). */
  fScale?: number;
  /** Stop when the relative decrease of f in an iteration is below ftol (default 1e-15). */
  ftol?: number;
  /** Armijo and curvature constants (default 1e-4, 0.9). */
  c1?: number;
  c2?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  gradNormInf: number;
  iterations: number;
  evaluations: number;
  /** True when the gradient or relative-decrease test was met (not when the cap or a failure ended it). */
  converged: boolean;
  reason: "gtol" | "ftol" | "precision" | "maxIter" | "lineSearch" | "nonFinite";
}

function dot(a: Float64Array, b: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

function normInf(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(a[i]);
    if (v > s || v !== v) s = v;
  }
  return s;
}

/** Minimiser of the cubic through (a, fa, ga), (b, fb, gb); NaN when it does not exist. */
function cubicMin(a: number, fa: number, ga: number, b: number, fb: number, gb: number): number {
  const d1 = ga + gb - (3 * (fa - fb)) / (a - b);
  const disc = d1 * d1 - ga * gb;
  if (!(disc >= 0)) return NaN;
  const d2 = Math.sign(b - a) * Math.sqrt(disc);
  return b - ((b - a) * (gb + d2 - d1)) / (gb - ga + 2 * d2);
}

/** Minimise fg from x0. */
export function lbfgs(
  fg: ObjectiveGrad,
  x0: ArrayLike<number>,
  opts: LbfgsOptions = {},
): LbfgsResult {
  const n = x0.length;
  const m = opts.memory ?? 8, maxIter = opts.maxIter ?? 200;
  const gtol = opts.gtol ?? 1e-9, fScale = opts.fScale ?? 1e-12, ftol = opts.ftol ?? 1e-15;
  const c1 = opts.c1 ?? 1e-4, c2 = opts.c2 ?? 0.9;

  const x = Float64Array.from(x0), g = new Float64Array(n), d = new Float64Array(n);
  const xt = new Float64Array(n), gt = new Float64Array(n);
  const S = new Float64Array(m * n), Y = new Float64Array(m * n);
  const rho = new Float64Array(m), alph = new Float64Array(m);
  let head = 0, size = 0, evals = 0;

  let f = fg(x, g);
  evals++;
  if (!Number.isFinite(f)) {
    return {
      x,
      f,
      gradNormInf: NaN,
      iterations: 0,
      evaluations: evals,
      converged: false,
      reason: "nonFinite",
    };
  }

  // phi(alpha) = f(x + alpha d); writes xt, gt; returns [phi, dphi] via closure vars.
  let phiT = 0, dphiT = 0;
  const evalAt = (alpha: number): void => {
    for (let i = 0; i < n; i++) xt[i] = x[i] + alpha * d[i];
    phiT = fg(xt, gt);
    evals++;
    if (!Number.isFinite(phiT)) phiT = Infinity;
    dphiT = dot(gt, d, n);
    if (!Number.isFinite(dphiT)) dphiT = phiT === Infinity ? Infinity : dphiT;
  };

  // Strong-Wolfe search; on success xt/gt/phiT hold the accepted point.
  const lineSearch = (alpha0: number, phi0: number, dphi0: number): boolean => {
    let aPrev = 0, fPrev = phi0, gPrev = dphi0;
    let a = alpha0;
    const zoom = (lo: number, flo: number, glo: number, hi: number, fhi: number, ghi: number) => {
      for (let j = 0; j < 30; j++) {
        let aj = cubicMin(lo, flo, glo, hi, fhi, ghi);
        const lo_ = Math.min(lo, hi), hi_ = Math.max(lo, hi), w = hi_ - lo_;
        if (!(aj >= lo_ + 0.1 * w && aj <= hi_ - 0.1 * w)) aj = 0.5 * (lo + hi);
        evalAt(aj);
        if (phiT > phi0 + c1 * aj * dphi0 || phiT >= flo) {
          hi = aj;
          fhi = phiT;
          ghi = dphiT;
        } else {
          if (Math.abs(dphiT) <= -c2 * dphi0) return true;
          if (dphiT * (hi - lo) >= 0) {
            hi = lo;
            fhi = flo;
            ghi = glo;
          }
          lo = aj;
          flo = phiT;
          glo = dphiT;
        }
        if (Math.abs(hi - lo) <= 1e-16 * Math.max(1, Math.abs(lo))) break;
      }
      // No strong-Wolfe point found: accept lo if it decreased f (Armijo holds there).
      if (lo > 0 && flo < phi0) {
        evalAt(lo);
        return true;
      }
      return false;
    };
    for (let i = 0; i < 40; i++) {
      evalAt(a);
      if (phiT > phi0 + c1 * a * dphi0 || (i > 0 && phiT >= fPrev)) {
        return zoom(aPrev, fPrev, gPrev, a, phiT, dphiT);
      }
      if (Math.abs(dphiT) <= -c2 * dphi0) return true;
      if (dphiT >= 0) return zoom(a, phiT, dphiT, aPrev, fPrev, gPrev);
      aPrev = a;
      fPrev = phiT;
      gPrev = dphiT;
      a *= 4;
    }
    return false;
  };

  let iter = 0;
  let reason: LbfgsResult["reason"] = "maxIter";
  let converged = false;
  for (; iter < maxIter; iter++) {
    const gn = normInf(g, n);
    if (gn <= gtol * Math.max(Math.abs(f), fScale)) {
      reason = "gtol";
      converged = true;
      break;
    }
    // Two-loop recursion: d = -H g.
    for (let i = 0; i < n; i++) d[i] = -g[i];
    for (let k = 0; k < size; k++) {
      const idx = (head - 1 - k + m) % m;
      const a = rho[idx] * dot(S.subarray(idx * n, idx * n + n), d, n);
      alph[idx] = a;
      for (let i = 0; i < n; i++) d[i] -= a * Y[idx * n + i];
    }
    let gamma = 1;
    if (size > 0) {
      const idx = (head - 1 + m) % m;
      const yy = dot(Y.subarray(idx * n, idx * n + n), Y.subarray(idx * n, idx * n + n), n);
      gamma = 1 / (rho[idx] * yy);
    }
    for (let i = 0; i < n; i++) d[i] *= gamma;
    for (let k = size - 1; k >= 0; k--) {
      const idx = (head - 1 - k + m) % m;
      const b = rho[idx] * dot(Y.subarray(idx * n, idx * n + n), d, n);
      const coef = alph[idx] - b;
      for (let i = 0; i < n; i++) d[i] += coef * S[idx * n + i];
    }
    let dphi0 = dot(g, d, n);
    if (!(dphi0 < 0)) {
      // Not a descent direction: drop the history and use steepest descent.
      size = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dphi0 = -dot(g, g, n);
    }
    const alpha0 = size === 0 ? Math.min(1, 1 / Math.max(gn, 1e-300)) : 1;
    let ok = lineSearch(alpha0, f, dphi0);
    if (!ok && size > 0) {
      size = 0;
      for (let i = 0; i < n; i++) d[i] = -g[i];
      dphi0 = -dot(g, g, n);
      ok = lineSearch(Math.min(1, 1 / Math.max(gn, 1e-300)), f, dphi0);
    }
    if (!ok) {
      // No decrease representable in floating point along a descent direction. With a gradient this
      // small relative to f (1e-5, ~machine precision of the log-loss residuals) that is an optimum.
      const prec = gn <= 1e-5 * Math.max(Math.abs(f), fScale);
      reason = prec ? "precision" : "lineSearch";
      converged = prec;
      break;
    }
    // Store s = xt - x, y = gt - g.
    const base = head * n;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      const s = xt[i] - x[i], y = gt[i] - g[i];
      S[base + i] = s;
      Y[base + i] = y;
      sy += s * y;
    }
    if (sy > 1e-300) {
      rho[head] = 1 / sy;
      head = (head + 1) % m;
      if (size < m) size++;
    }
    const fOld = f;
    x.set(xt);
    g.set(gt);
    f = phiT;
    if ((fOld - f) <= ftol * Math.max(Math.abs(fOld), Math.abs(f), fScale)) {
      reason = "ftol";
      converged = true;
      iter++;
      break;
    }
  }
  return {
    x,
    f,
    gradNormInf: normInf(g, n),
    iterations: iter,
    evaluations: evals,
    converged,
    reason,
  };
}
