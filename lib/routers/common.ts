/** Helpers shared by the routers. */
import * as tf from "@tensorflow/tfjs-core";
import { Rng } from "../util/random.ts";

/** A trainable matrix, typed as the 2-D tensor it is (no cast before `linear`). */
export type Matrix = tf.Variable<tf.Rank.R2>;

/** A trainable [rows, cols] matrix N(0, std) drawn from `rng`. */
export function normalMatrix(rows: number, cols: number, rng: Rng, std: number): Matrix {
  const a = new Float32Array(rows * cols);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
  return tf.variable(tf.tensor2d(a, [rows, cols]), true);
}

/** A d x E router matrix N(0, std) drawn from `seed`. */
export function routerMatrix(d: number, E: number, seed: number, std = 0.02): Matrix {
  return normalMatrix(d, E, new Rng(seed), std);
}

/** Row-wise softmax of row-major logits [T, E], in float64. */
export function softmaxRows(logits: Float32Array, T: number, E: number): Float64Array {
  const p = new Float64Array(T * E);
  for (let t = 0; t < T; t++) {
    let m = -Infinity;
    for (let e = 0; e < E; e++) m = Math.max(m, logits[t * E + e]);
    let z = 0;
    for (let e = 0; e < E; e++) z += p[t * E + e] = Math.exp(logits[t * E + e] - m);
    for (let e = 0; e < E; e++) p[t * E + e] /= z;
  }
  return p;
}

/** Mean over rows of the entropy (nats) of row-stochastic p [T, E]. */
export function meanEntropy(p: Float64Array, T: number, E: number): number {
  let h = 0;
  for (let i = 0; i < T * E; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
  return h / T;
}

/** Indices of the k largest entries of each row of scores [T, E] -> [T * k] (ties: lower index). */
export function topKRows(scores: ArrayLike<number>, T: number, E: number, k: number): Int32Array {
  const out = new Int32Array(T * k);
  const taken = new Uint8Array(E);
  for (let t = 0; t < T; t++) {
    taken.fill(0);
    for (let j = 0; j < k; j++) {
      let best = -1, bv = -Infinity;
      for (let e = 0; e < E; e++) {
        const v = scores[t * E + e];
        if (!taken[e] && (best < 0 || v > bv)) best = e, bv = v;
      }
      taken[best] = 1;
      out[t * k + j] = best;
    }
  }
  return out;
}

/**
 * Fraction of tokens whose first training choice (sampled, or Sinkhorn-balanced) is also the
 * evaluation choice, the top-1 of p [T, E]. Low agreement means experts are evaluated on tokens
 * they were not trained on.
 */
export function agreementWithTop1(
  p: ArrayLike<number>,
  T: number,
  E: number,
  expertIndex: Int32Array,
  k = 1,
): number {
  const top = topKRows(p, T, E, 1);
  let same = 0;
  for (let t = 0; t < T; t++) if (expertIndex[t * k] === top[t]) same++;
  return T ? same / T : 1;
}

/** A constant [T * k, E] 0/1 matrix selecting each choice's expert (for gathers with gradient). */
export function choiceMask(expertIndex: Int32Array, E: number): tf.Tensor2D {
  const n = expertIndex.length;
  const m = new Float32Array(n * E);
  for (let i = 0; i < n; i++) if (expertIndex[i] >= 0) m[i * E + expertIndex[i]] = 1;
  return tf.tensor2d(m, [n, E]);
}

/** probs [T, E], expertIndex [T * k] -> the chosen probabilities [T, k] (differentiable in probs). */
export function pickChosen(probs: tf.Tensor2D, expertIndex: Int32Array, k: number): tf.Tensor2D {
  const [T, E] = probs.shape;
  const mask = tf.reshape(choiceMask(expertIndex, E), [T, k, E]);
  return tf.sum(tf.mul(tf.reshape(probs, [T, 1, E]), mask), 2) as tf.Tensor2D;
}

/** A boolean router option: absent -> `dflt`, else its truthiness. */
export function optBool(
  options: Record<string, unknown> | undefined,
  key: string,
  dflt: boolean,
): boolean {
  const v = options?.[key];
  return v === undefined ? dflt : Boolean(v);
}

export function optChoice<T extends string>(
  options: Record<string, unknown> | undefined,
  key: string,
  choices: readonly T[],
  dflt: T,
  router: string,
): T {
  const v = options?.[key];
  if (v === undefined) return dflt;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v)) {
    throw new Error(
      `${router} option ${key} = ${JSON.stringify(v)}: use one of ${choices.join(", ")}`,
    );
  }
  return v as T;
}

export function optNumber(
  options: Record<string, unknown> | undefined,
  key: string,
  dflt: number,
  router: string,
  check: (v: number) => boolean = Number.isFinite,
  need = "a finite number",
): number {
  const v = options?.[key];
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !check(v)) {
    throw new Error(`${router} option ${key} = ${JSON.stringify(v)}: it must be ${need}`);
  }
  return v;
}
