/** Shared types of the scaling laws. All logarithms are base 10 unless a name says otherwise. */

/** The inputs a law may read: dense parameters N, experts E, FLOPs F, parameter utilisation B. */
export type Input = "N" | "E" | "F" | "B";

/** One model, as the inputs a law reads (missing inputs are an error for laws that need them). */
export type Point = Partial<Record<Input, number>>;

/** A typed scaling law: named parameters, prediction of log10 L and its analytic gradient. */
export interface Law<P extends Record<string, number> = Record<string, number>> {
  readonly name: string;
  /** Parameter names, in the order used by `basis` and by the fitters. */
  readonly paramNames: readonly (keyof P & string)[];
  /** Which inputs the law reads. */
  readonly inputs: readonly Input[];
  /** "linear": log10 L is linear in the parameters (exact least squares); "saturating": Eq. (1) form. */
  readonly kind: "linear" | "saturating";
  predictLog10(params: P, x: Point): number;
  /** d log10 L / d parameter, for every named parameter. */
  gradLog10(params: P, x: Point): P;
  /** Linear laws only: log10 L = sum_j params[paramNames[j]] * out[j]. */
  basis?(x: Point, out: Float64Array): void;
}

/** Read one input of a point or throw a clear error. */
export function need(x: Point, key: Input, law: string): number {
  const v = x[key];
  if (v === undefined) {
    throw new Error(`law ${law} needs input ${key} but the point has none: pass { ${key}: ... }`);
  }
  return v;
}
