/** Quantities derived from a fitted Eq. (1) (docs/paper.md, laws 4-8). */
import { eq1Law, type Eq1Params } from "./eq1.ts";
import { ehat } from "./saturate.ts";

const lg = Math.log10;

/** a(E) = a + c log Ehat(E): the N-exponent of log L at expert count E. */
export function slopeA(p: Eq1Params, E: number): number {
  return p.a + p.c * lg(ehat(E, p.E_start, p.E_max));
}

/** b(N) = b + c log N: the log Ehat-exponent of log L at dense size N. */
export function slopeB(p: Eq1Params, N: number): number {
  return p.b + p.c * lg(N);
}

/**
 * How far Ehat has saturated at E: (log Ehat(E) - log E_start) / (log E_max - log E_start), the
 * share of the E -> infinity change in log Ehat that E experts already reach (0 at E = 1, -> 1).
 * Reads Eq. (1)'s saturation in the data's own units: at fixed N, log L moves by
 * b(N) x that change, so 0.9 means 90% of the law's whole benefit of experts is in hand.
 */
export function saturationReached(p: Eq1Params, E: number): number {
  if (!(p.E_max > p.E_start && p.E_start > 0)) {
    throw new Error(
      `saturationReached: needs 0 < E_start < E_max, got E_start ${p.E_start}, E_max ${p.E_max}`,
    );
  }
  if (!(E >= 1)) throw new Error(`saturationReached: E must be >= 1, got ${E}`);
  return (lg(ehat(E, p.E_start, p.E_max)) - lg(p.E_start)) / (lg(p.E_max) - lg(p.E_start));
}

/** N_cutoff = 10^(-b/c): the dense size where b(N) = 0 and more experts stop helping. */
export function nCutoff(p: Eq1Params): number {
  return Math.pow(10, -p.b / p.c);
}

/**
 * Effective Parameter Count Nbar with L(Nbar, E = 1) = L(N, E):
 *   Nbar = N^(a(Ehat)/a(E_start)) * (Ehat/E_start)^(b/a(E_start)), a(x) = a + c log x.
 * Computed in log space.
 */
export function effectiveParameterCount(p: Eq1Params, N: number, E: number): number {
  const lh = lg(ehat(E, p.E_start, p.E_max)), ls = lg(p.E_start);
  const aS = p.a + p.c * ls;
  const logNbar = ((p.a + p.c * lh) * lg(N) + p.b * (lh - ls)) / aS;
  return Math.pow(10, logNbar);
}

/** The unified dense line all models lie on: log L = slope log Nbar + intercept. */
export function unifiedDenseLine(p: Eq1Params): {
  slope: number;
  intercept: number;
  alpha_N: number;
  N_c: number;
} {
  const ls = lg(p.E_start);
  const slope = p.a + p.c * ls, intercept = p.d + p.b * ls;
  return { slope, intercept, alpha_N: -slope, N_c: Math.pow(10, -intercept / slope) };
}

/** Loss predicted by Eq. (1) (nats/token). */
export function eq1Loss(p: Eq1Params, N: number, E: number): number {
  return Math.pow(10, eq1Law.predictLog10(p, { N, E }));
}

/**
 * Iso-loss curve: the dense size N that reaches `targetLoss` with E experts,
 *   log N = (log L - b log Ehat - d) / (a + c log Ehat).
 * Throws when a(E) = 0 (loss does not depend on N there).
 */
export function isoLossN(p: Eq1Params, E: number, targetLoss: number): number {
  if (!(targetLoss > 0)) throw new Error(`isoLossN: targetLoss must be > 0, got ${targetLoss}`);
  const lh = lg(ehat(E, p.E_start, p.E_max));
  const slope = p.a + p.c * lh;
  if (slope === 0) throw new Error(`isoLossN: a(E) = 0 at E=${E}; the loss does not depend on N`);
  return Math.pow(10, (lg(targetLoss) - p.b * lh - p.d) / slope);
}

/**
 * Loss-optimal expert count for a dense size N, within [range.min, range.max] (default 1..512, the
 * release's range). For fixed N, Eq. (1) is log L = b(N) log Ehat + const and Ehat increases with E,
 * so the optimum is an end of the range: the largest E when b(N) < 0 (N below N_cutoff), E = min when
 * b(N) > 0; when b(N) = 0 every E is equally good and min is returned. Parameter and FLOP costs of
 * experts are deliberately not in this law.
 */
export function optimalE(
  p: Eq1Params,
  N: number,
  range: { min?: number; max?: number } = {},
): { E: number; loss: number; slopeB: number } {
  const lo = range.min ?? 1, hi = range.max ?? 512;
  if (!(lo >= 1 && hi >= lo)) {
    throw new Error(`optimalE: need 1 <= range.min <= range.max, got [${lo}, ${hi}]`);
  }
  const bN = slopeB(p, N);
  const E = bN < 0 ? hi : lo;
  return { E, loss: eq1Loss(p, N, E), slopeB: bN };
}

/** One input row for the generalised law. */
export interface UtilisationRow {
  N: number;
  P: number;
  F: number;
  router: string;
  flopIncrease?: number;
}

/**
 * Inputs of the generalised law (our definition, documented in the README):
 *   F_eq = N * F / F_dense(N): the run's forward FLOPs in units of a same-shaped dense model's FLOPs
 *          per dense parameter (F_dense(N) = FLOPs of the base dense run with that N,
 *          flop_increase = 1), so a base dense model has F_eq = N;
 *   B    = P / F_eq: parameters per dense-equivalent FLOP; 1 for base dense models, about P/N for
 *          routed k = 1 models, lower for k > 1.
 * The release's `flops_per_step` includes attention and embeddings, so F/N differs by size (1.3e6 to
 * 2.7e6 per step); normalising by the same-shaped dense model removes that. `reference` supplies the
 * base dense runs (default: the rows themselves; pass all dense runs when a size has no seed-42 one).
 */
export function utilisationInputs(
  rows: UtilisationRow[],
  reference: UtilisationRow[] = rows,
): { F: number[]; B: number[] } {
  const denseF = new Map<number, number>();
  for (const r of reference) {
    if (r.router === "Dense" && (r.flopIncrease ?? 1) === 1) denseF.set(r.N, r.F);
  }
  const F: number[] = [], B: number[] = [];
  for (const r of rows) {
    const fd = denseF.get(r.N);
    if (fd === undefined) {
      throw new Error(
        `utilisationInputs: no base dense run (router Dense, flop_increase 1) with N=${r.N}; ` +
          `include the dense runs of every size in the rows`,
      );
    }
    const fe = (r.N * r.F) / fd;
    F.push(fe);
    B.push(r.P / fe);
  }
  return { F, B };
}
