/**
 * Routed-FFN cases for comparing the per-expert and batched expert paths (test/model.test.ts on
 * cpu and wasm, test/webgpu_experts.test.ts on webgpu): random h, combine weights and expert
 * weights, and a dispatch with dropped choices, an empty expert and a choice routed nowhere (-1).
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  type Dispatch,
  dispatch,
  expertCapacity,
  type ExpertPath,
  routedFfn,
  setExpertPath,
} from "../lib/model/mod.ts";
import { Rng } from "../lib/util/random.ts";

export interface FfnCase {
  name: string;
  T: number;
  d: number;
  E: number;
  k: number;
  withCombine: boolean;
  disp: Dispatch;
  h: tf.Variable;
  c: tf.Variable | null;
  w1: tf.Variable[];
  w2: tf.Variable[];
  /** The loss's weights: loss = sum(y * probe), probe [T, d]. */
  probe: tf.Tensor;
}

function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * std), shape);
}

/**
 * A case on the active backend. Choices avoid the last expert (it stays empty), token 1 is routed
 * nowhere, and the capacity factor 1 with choices skewed towards expert 0 drops some.
 */
export function ffnCase(
  { T, d, E, k, withCombine, seed = 5 }: {
    T: number;
    d: number;
    E: number;
    k: number;
    withCombine: boolean;
    seed?: number;
  },
): FfnCase {
  const rng = new Rng(seed);
  const choice = new Int32Array(T * k);
  for (let t = 0; t < T; t++) {
    const picked: number[] = [];
    for (let j = 0; j < k; j++) {
      let e: number;
      do e = rng.uniform(0, 1) < 0.4 ? 0 : rng.int(E - 1); while (picked.includes(e));
      picked.push(e);
      choice[t * k + j] = e;
    }
  }
  for (let j = 0; j < k; j++) choice[1 * k + j] = -1;
  const disp = dispatch(choice, T, k, E, expertCapacity(T, E, k, 1));
  const h = tf.variable(randn(rng, [T, d]));
  const c = withCombine ? tf.variable(tf.abs(randn(rng, [T, k]))) : null;
  const w1 = Array.from({ length: E }, () => tf.variable(randn(rng, [d, 4 * d], 0.3)));
  const w2 = Array.from({ length: E }, () => tf.variable(randn(rng, [4 * d, d], 0.3)));
  return {
    name: `T=${T} d=${d} E=${E} k=${k}${withCombine ? "" : " no combine"}`,
    T,
    d,
    E,
    k,
    withCombine,
    disp,
    h,
    c,
    w1,
    w2,
    probe: randn(rng, [T, d]),
  };
}

export function disposeCase(x: FfnCase): void {
  for (const v of [x.h, ...(x.c ? [x.c] : []), ...x.w1, ...x.w2, x.probe]) v.dispose();
}

/** The variables of a case, in the order of ffnRun's gradients. */
export function caseVariables(x: FfnCase): tf.Variable[] {
  return [x.h, ...(x.c ? [x.c] : []), ...x.w1, ...x.w2];
}

/**
 * The routed FFN's value [T * d] and the gradients of sum(y * probe) w.r.t. h, combine and every
 * expert weight (caseVariables' order), on the given expert path; read with data() (any backend).
 */
export async function ffnRun(
  x: FfnCase,
  path: ExpertPath,
): Promise<{ y: Float32Array; grads: Float32Array[] }> {
  const vars = caseVariables(x);
  setExpertPath(path);
  let y: tf.Tensor, grads: tf.Tensor[];
  try {
    const f = () =>
      routedFfn(
        x.h as tf.Tensor as tf.Tensor2D,
        x.c as tf.Tensor as tf.Tensor2D | null,
        x.w1 as tf.Tensor[] as tf.Tensor2D[],
        x.w2 as tf.Tensor[] as tf.Tensor2D[],
        x.disp,
        x.k,
      );
    y = f();
    const g = tf.variableGrads(() => tf.sum(tf.mul(f(), x.probe)), vars);
    g.value.dispose();
    grads = vars.map((v) => g.grads[v.name]);
  } finally {
    setExpertPath(undefined);
  }
  const out = {
    y: await y.data() as Float32Array,
    grads: await Promise.all(grads.map(async (g) => await g.data() as Float32Array)),
  };
  tf.dispose([y, ...grads]);
  return out;
}

/** max |a - b| over max(|b|, 1e-3): the error relative to b's largest entry. */
export function relDiff(a: Float32Array, b: Float32Array): number {
  let m = 0, s = 1e-3;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / s;
}

/** Names of a case's gradients, caseVariables' order. */
export function gradNames(x: FfnCase): string[] {
  return [
    "h",
    ...(x.c ? ["combine"] : []),
    ...x.w1.map((_, e) => `w1[${e}]`),
    ...x.w2.map((_, e) => `w2[${e}]`),
  ];
}
