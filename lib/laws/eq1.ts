/**
 * Eq. (1) of the paper and the generalised law: the bilinear form in (log X1, log Xhat2) with the
 * saturating transform on the second input:
 *   log L = a log X1 + b log Xhat2 + c log X1 log Xhat2 + d.
 * Eq. (1): X1 = N, X2 = E. Generalised: X1 = F (in dense-parameter equivalents), X2 = B.
 */
import { ehat, log10EhatRawGrad } from "./saturate.ts";
import { type Input, type Law, need, type Point } from "./types.ts";

export type Eq1Params = {
  a: number;
  b: number;
  c: number;
  d: number;
  E_start: number;
  E_max: number;
};
export type GeneralisedParams = {
  a: number;
  b: number;
  c: number;
  d: number;
  B_start: number;
  B_max: number;
};

/** A saturating-bilinear law: which inputs it reads and what its two transform parameters are called. */
export interface SaturatingLaw<P extends Record<string, number>> extends Law<P> {
  readonly kind: "saturating";
  readonly x1: Input;
  readonly x2: Input;
  readonly startName: keyof P & string;
  readonly maxName: keyof P & string;
}

function checkStartMax(s: number, m: number, law: string): void {
  if (!(s > 0 && m > s)) {
    throw new Error(
      `law ${law}: need 0 < start < max for the saturating transform, got start=${s}, max=${m}`,
    );
  }
}

function saturatingLaw<P extends Record<string, number>>(
  name: string,
  x1: Input,
  x2: Input,
  startName: keyof P & string,
  maxName: keyof P & string,
): SaturatingLaw<P> {
  const paramNames = ["a", "b", "c", "d", startName, maxName] as (keyof P & string)[];
  return {
    name,
    paramNames,
    inputs: [x1, x2],
    kind: "saturating",
    x1,
    x2,
    startName,
    maxName,
    predictLog10(p: P, x: Point): number {
      const s = p[startName], m = p[maxName];
      checkStartMax(s, m, name);
      const l1 = Math.log10(need(x, x1, name));
      const l2 = Math.log10(ehat(need(x, x2, name), s, m));
      return p.a * l1 + p.b * l2 + p.c * l1 * l2 + p.d;
    },
    gradLog10(p: P, x: Point): P {
      const s = p[startName], m = p[maxName];
      checkStartMax(s, m, name);
      const l1 = Math.log10(need(x, x1, name));
      const v2 = need(x, x2, name);
      const l2 = Math.log10(ehat(v2, s, m));
      const [ds, dm] = log10EhatRawGrad(v2, s, m);
      const k = p.b + p.c * l1; // d log L / d log Xhat2
      const g: Record<string, number> = { a: l1, b: l2, c: l1 * l2, d: 1 };
      g[startName] = k * ds;
      g[maxName] = k * dm;
      return g as P;
    },
  };
}

/** Eq. (1): log L = a log N + b log Ehat + c log N log Ehat + d. */
export const eq1Law: SaturatingLaw<Eq1Params> = saturatingLaw<Eq1Params>(
  "eq1",
  "N",
  "E",
  "E_start",
  "E_max",
);

/**
 * Generalised law (docs/paper.md, law 6; our definition):
 *   log L = a log F + b log Bhat + c log F log Bhat + d
 * with F the forward FLOPs expressed in dense-parameter equivalents and B = P / F (see
 * `utilisationInputs`), Bhat the same saturating transform as Ehat with (B_start, B_max).
 */
export const generalisedLaw: SaturatingLaw<GeneralisedParams> = saturatingLaw<GeneralisedParams>(
  "generalised",
  "F",
  "B",
  "B_start",
  "B_max",
);

/** Table 3 of the paper (Eq. 1 solutions), as printed (3 decimals). */
export const TABLE3: Record<"S-Base" | "RL-R" | "Hash", Eq1Params> = {
  "S-Base": { a: -0.082, b: -0.108, c: 0.009, d: 1.104, E_start: 1.847, E_max: 314.478 },
  "RL-R": { a: -0.083, b: -0.126, c: 0.012, d: 1.111, E_start: 1.880, E_max: 469.982 },
  "Hash": { a: -0.087, b: -0.136, c: 0.012, d: 1.157, E_start: 4.175, E_max: 477.741 },
};

/** The paper's dense fit: alpha_N = 0.078, N_c = 3.568e13. */
export const PAPER_DENSE = { alpha_N: 0.078, N_c: 3.568e13 };

/** N_cutoff per technique as printed in the paper's text (at 130B training tokens). */
export const PAPER_N_CUTOFF: Record<string, number> = {
  "S-Base": 937e9,
  "RL-R": 85e9,
  "Hash": 83e9,
};

/** The paper's Effective Parameter Count example: N = 5M with E = 128 is worth about 55M dense. */
export const PAPER_EPC_EXAMPLE = { N: 5e6, E: 128, Nbar: 55e6 };
