/** The laws that are linear in their parameters (fitted by exact least squares). */
import { type Law, need, type Point } from "./types.ts";

const lg = Math.log10;

function linearLaw<P extends Record<string, number>>(
  name: string,
  paramNames: readonly (keyof P & string)[],
  inputs: Law["inputs"],
  basis: (x: Point, out: Float64Array) => void,
): Law<P> {
  const buf = new Float64Array(paramNames.length);
  return {
    name,
    paramNames,
    inputs,
    kind: "linear",
    basis,
    predictLog10(p: P, x: Point): number {
      basis(x, buf);
      let s = 0;
      for (let j = 0; j < paramNames.length; j++) s += p[paramNames[j]] * buf[j];
      return s;
    },
    gradLog10(_p: P, x: Point): P {
      basis(x, buf);
      const g = {} as Record<string, number>;
      for (let j = 0; j < paramNames.length; j++) g[paramNames[j]] = buf[j];
      return g as P;
    },
  };
}

/** Dense power law L = (N_c/N)^alpha_N: log L = a log N + d (alpha_N = -a, N_c = 10^(-d/a)). */
export type DenseParams = { a: number; d: number };
export const denseLaw: Law<DenseParams> = linearLaw<DenseParams>(
  "dense",
  ["a", "d"],
  ["N"],
  (x, o) => {
    o[0] = lg(need(x, "N", "dense"));
    o[1] = 1;
  },
);

/** alpha_N and N_c of a dense fit. */
export function denseAlphaNc(p: DenseParams): { alpha_N: number; N_c: number } {
  return { alpha_N: -p.a, N_c: Math.pow(10, -p.d / p.a) };
}

/** Per-E power law in N (fit one per expert count): log L = a log N + d. */
export type PowerNParams = { a: number; d: number };
export const powerNLaw: Law<PowerNParams> = linearLaw<PowerNParams>(
  "powerN",
  ["a", "d"],
  ["N"],
  (x, o) => {
    o[0] = lg(need(x, "N", "powerN"));
    o[1] = 1;
  },
);

/** Per-N power law in E (fit one per dense size): log L = b log E + d. */
export type PowerEParams = { b: number; d: number };
export const powerELaw: Law<PowerEParams> = linearLaw<PowerEParams>(
  "powerE",
  ["b", "d"],
  ["E"],
  (x, o) => {
    o[0] = lg(need(x, "E", "powerE"));
    o[1] = 1;
  },
);

/** Separable law: log L = a log N + b log E + d. */
export type SeparableParams = { a: number; b: number; d: number };
export const separableLaw: Law<SeparableParams> = linearLaw<SeparableParams>(
  "separable",
  ["a", "b", "d"],
  ["N", "E"],
  (x, o) => {
    o[0] = lg(need(x, "N", "separable"));
    o[1] = lg(need(x, "E", "separable"));
    o[2] = 1;
  },
);

/** Bilinear law in raw E: log L = a log N + b log E + c log N log E + d. */
export type BilinearParams = { a: number; b: number; c: number; d: number };
export const bilinearLaw: Law<BilinearParams> = linearLaw<BilinearParams>(
  "bilinear",
  ["a", "b", "c", "d"],
  ["N", "E"],
  (x, o) => {
    const ln = lg(need(x, "N", "bilinear")), le = lg(need(x, "E", "bilinear"));
    o[0] = ln;
    o[1] = le;
    o[2] = ln * le;
    o[3] = 1;
  },
);
