/**
 * Whether data pin down Eq. (1)'s saturation: the profile-likelihood region of (E_start, E_max).
 *
 * For fixed (E_start, E_max), Eq. (1) is linear in (a, b, c, d), so the least-squares fit of the
 * rest is exact (SatProblem's variable projection) and its MSE(log10 L) is the profile. Under
 * Gaussian residuals of unknown variance, 2 x the log-likelihood ratio of a point against the
 * optimum is n ln(MSE / MSE_min), asymptotically chi-squared with 2 degrees of freedom, whose
 * quantile at `level` is -2 ln(1 - level) (5.99 at 95%). The region is every grid point under
 * that threshold; when it reaches an edge of the grid the parameter is not bounded by the data on
 * that side. Bootstrap intervals of a law whose valley is flat run to the optimiser's limits
 * (1e9); this says why, and on which side.
 *
 * With a lower bound on E_start (`minStart`, the bound the Eq. (1) fit was given) the grid starts
 * at the bound, and a region that reaches it is closed there by the bound, not by the data
 * (`atMin`), so the words say which.
 */
import { checkMinStart, SatProblem } from "./saturating.ts";

/** The region's extent along one parameter, natural units. */
export interface ProfileSpan {
  lo: number;
  hi: number;
  /** The region reaches the grid's lower (upper) edge: the data do not bound that side. */
  openLo: boolean;
  openHi: boolean;
  /** The lower end is an imposed bound (ProfileOptions.minStart), not a grid edge. */
  atMin?: boolean;
}

export interface ProfileRegion {
  /** Points fitted. */
  n: number;
  level: number;
  /** Smallest profile MSE(log10 L) on the grid, and where it lies. */
  mseMin: number;
  best: { E_start: number; E_max: number };
  /** Largest MSE inside the region: mseMin x exp(chi2_2(level) / n). */
  threshold: number;
  E_start: ProfileSpan;
  E_max: ProfileSpan;
  /** Grid points inside the region, of all points with E_start < E_max. */
  inside: number;
  points: number;
  /**
   * The profile itself, for a figure: mse[j][i] at log2 E_start = log2Start[i], log2 E_max =
   * log2Max[j] (plotly's z layout), null where E_max <= E_start.
   */
  surface: { log2Start: number[]; log2Max: number[]; mse: (number | null)[][] };
}

export interface ProfileOptions {
  /** Confidence level of the region (default 0.95). */
  level?: number;
  /** log2 E_start grid (default -4 to 10: 1/16 to 1024). */
  log2Start?: [number, number];
  /** log2 E_max grid (default -4 to 16: 1/16 to 65,536). */
  log2Max?: [number, number];
  /** Grid step in log2 units (default 0.25). */
  step?: number;
  /** Lower bound on E_start (> 0): the grid of E_start starts there (default: none). */
  minStart?: number;
}

/** Fewest runs a profile needs: 4 linear coefficients + E_start, E_max + 1. */
export const MIN_PROFILE_RUNS = 7;

/** -2 ln(1 - level): the chi-squared quantile with 2 degrees of freedom. */
export const chi2TwoDof = (level: number) => -2 * Math.log(1 - level);

const grid = ([lo, hi]: [number, number], step: number) => {
  const out: number[] = [];
  for (let i = 0; lo + i * step <= hi + 1e-9; i++) out.push(lo + i * step);
  return out;
};

/**
 * The profile-likelihood region of Eq. (1)'s (E_start, E_max) for data (x1 = N, x2 = E, loss),
 * on a log2 grid. Needs more points than the 4 linear coefficients plus the 2 profiled ones.
 */
export function eq1ProfileRegion(
  N: ArrayLike<number>,
  E: ArrayLike<number>,
  loss: ArrayLike<number>,
  opts: ProfileOptions = {},
): ProfileRegion {
  const level = opts.level ?? 0.95, step = opts.step ?? 0.25;
  if (!(level > 0 && level < 1)) throw new Error(`profile level must be in (0, 1), got ${level}`);
  if (!(step > 0)) throw new Error(`profile grid step must be > 0, got ${step}`);
  const n = loss.length;
  if (n < MIN_PROFILE_RUNS) {
    throw new Error(
      `profile region needs at least ${MIN_PROFILE_RUNS} runs (4 linear coefficients + E_start, ` +
        `E_max + 1), got ${n}`,
    );
  }
  const prob = new SatProblem(N, E, loss);
  const minStart = opts.minStart ?? 0;
  checkMinStart(minStart, "profile minStart");
  const [s0, s1] = opts.log2Start ?? [-4, 10];
  const bounded = minStart > 0 && Math.log2(minStart) > s0;
  const starts = grid(bounded ? [Math.log2(minStart), s1] : [s0, s1], step);
  const maxes = grid(opts.log2Max ?? [-4, 16], step);
  const g = new Float64Array(2);
  const mse = new Float64Array(starts.length * maxes.length).fill(Infinity);
  let mseMin = Infinity, bi = -1;
  for (let i = 0; i < starts.length; i++) {
    for (let j = 0; j < maxes.length; j++) {
      const gap = maxes[j] - starts[i];
      if (!(gap > 1e-9)) continue;
      // varpro's coordinates: (log2 E_start, v) with log2 E_max = log2 E_start + softplus(v).
      const v = gap > 30 ? gap : Math.log(Math.expm1(gap));
      const f = prob.varproFG(Float64Array.of(starts[i], v), g);
      mse[i * maxes.length + j] = f;
      if (f < mseMin) (mseMin = f), (bi = i * maxes.length + j);
    }
  }
  if (!(bi >= 0 && Number.isFinite(mseMin))) {
    throw new Error("profile region: no grid point gave a finite fit; check the data");
  }
  // A perfect fit (MSE 0) makes every ratio infinite but its own; keep the threshold finite.
  const threshold = Math.max(mseMin, 1e-300) * Math.exp(chi2TwoDof(level) / n);
  let sLo = Infinity, sHi = -Infinity, mLo = Infinity, mHi = -Infinity, inside = 0, points = 0;
  for (let i = 0; i < starts.length; i++) {
    for (let j = 0; j < maxes.length; j++) {
      const f = mse[i * maxes.length + j];
      if (f === Infinity) continue;
      points++;
      if (f > threshold) continue;
      inside++;
      sLo = Math.min(sLo, starts[i]), sHi = Math.max(sHi, starts[i]);
      mLo = Math.min(mLo, maxes[j]), mHi = Math.max(mHi, maxes[j]);
    }
  }
  const span = (lo: number, hi: number, axis: number[], min = false): ProfileSpan => {
    const atLo = lo <= axis[0] + 1e-9;
    return {
      lo: 2 ** lo,
      hi: 2 ** hi,
      openLo: atLo && !min,
      openHi: hi >= axis[axis.length - 1] - 1e-9,
      ...(atLo && min ? { atMin: true } : {}),
    };
  };
  return {
    n,
    level,
    mseMin,
    best: {
      E_start: 2 ** starts[Math.floor(bi / maxes.length)],
      E_max: 2 ** maxes[bi % maxes.length],
    },
    threshold,
    E_start: span(sLo, sHi, starts, bounded),
    E_max: span(mLo, mHi, maxes),
    inside,
    points,
    surface: {
      log2Start: starts,
      log2Max: maxes,
      mse: maxes.map((_, j) =>
        starts.map((_, i) => {
          const f = mse[i * maxes.length + j];
          return f === Infinity ? null : f;
        })
      ),
    },
  };
}

/**
 * Whether the region bounds both E_start (both sides; an imposed lower bound counts) and E_max
 * (from above).
 */
export const saturationBounded = (r: ProfileRegion) =>
  !r.E_start.openLo && !r.E_start.openHi && !r.E_max.openHi;

/** "E_start [1.2, 3.4], E_max [120, >= 65,536]": the region in words. */
export function profileWords(r: ProfileRegion): string {
  const v = (x: number) => Number(x.toPrecision(3)).toString();
  const s = (name: string, sp: ProfileSpan) =>
    `${name} [${sp.openLo ? `<= ${v(sp.lo)}` : sp.atMin ? `${v(sp.lo)} (the bound)` : v(sp.lo)}, ${
      sp.openHi ? `>= ${v(sp.hi)}` : v(sp.hi)
    }]`;
  return `${s("E_start", r.E_start)}, ${s("E_max", r.E_max)}`;
}
