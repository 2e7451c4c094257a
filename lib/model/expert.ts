/**
 * What the three routed-FFN paths (moe_host.ts, moe_device.ts, moe_blas.ts) share: the custom-op
 * frame over h, the combine weights and the expert weights (`ffnOp`), and one expert's FFN
 * forward and backward on its own rows (`expertForward`, `expertBackward`; the host and device
 * paths, which differ only in how rows are gathered and scattered).
 *
 * Shapes: T tokens, d model width, dff = 4 d, k choices per token, E experts; an expert serves n
 * rows (its kept choices).
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  customOp,
  geluBackward,
  geluForward,
  matMulFreshWeight,
  matMulTransB,
  type SaveFn,
  weightGrad,
} from "../nn/mod.ts";

/** A routed FFN's inputs inside its custom op. */
export interface FfnInputs {
  /** h [T, d]: the token representations. */
  h: tf.Tensor2D;
  /** combine [T, k], or null (every kept choice weighs 1). */
  combine: tf.Tensor2D | null;
  /** Per expert [d, dff]. */
  w1: tf.Tensor2D[];
  /** Per expert [dff, d]. */
  w2: tf.Tensor2D[];
  /** tfjs's `save` (see lib/nn's SaveFn). */
  save: SaveFn;
}

/** A routed FFN's gradients: dh [T, d], dcombine [T, k] (null without combine), per expert dW. */
export interface FfnGrads {
  dh: tf.Tensor2D;
  dc: tf.Tensor2D | null;
  dW1: tf.Tensor[];
  dW2: tf.Tensor[];
}

/**
 * Runs `body` (a forward returning [T, d] and its gradient function) as one custom op over h,
 * the combine weights when given and the expert weights, and returns its value [T, d].
 */
export function ffnOp(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  body: (x: FfnInputs) => {
    value: tf.Tensor2D;
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => FfnGrads;
  },
): tf.Tensor2D {
  const E = w1.length, hasC = combine !== null, off = hasC ? 2 : 1;
  const op = customOp(
    // tfjs passes the inputs in the order given below, then its `save`.
    // deno-lint-ignore no-explicit-any
    (...args: any[]) => {
      const { value, gradFunc } = body({
        h: args[0] as tf.Tensor2D,
        combine: hasC ? (args[1] as tf.Tensor2D) : null,
        w1: args.slice(off, off + E) as tf.Tensor2D[],
        w2: args.slice(off + E, off + 2 * E) as tf.Tensor2D[],
        save: args[args.length - 1] as SaveFn,
      });
      return {
        value,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const g = gradFunc(dy, saved);
          return [g.dh, ...(hasC ? [g.dc!] : []), ...g.dW1, ...g.dW2];
        },
      };
    },
    "routedFfn",
  );
  return op(h, ...(combine ? [combine] : []), ...w1, ...w2) as tf.Tensor2D;
}

/**
 * The expert weights are read in place in the backward pass (not saved: copying them cost 268 MB
 * of memory traffic a step at E = 64, d 256), so they must outlive it, as variables do.
 */
export function assertWeightsLive(weights: tf.Tensor[]): void {
  if (weights.some((w) => w.isDisposed)) {
    throw new Error(
      "routedFfn: an expert weight was disposed before the backward pass; pass " +
        "variables (or tensors that live until the gradients are computed)",
    );
  }
}

/** One expert's FFN on its rows x [n, d]: h = x W1 [n, dff], a = gelu(h) [n, dff], y = a W2 [n, d]. */
export function expertForward(
  x: tf.Tensor2D,
  w1: tf.Tensor2D,
  w2: tf.Tensor2D,
): { h: tf.Tensor2D; a: tf.Tensor2D; y: tf.Tensor2D } {
  const h = matMulFreshWeight(x, w1); // [n, dff]
  const a = geluForward(h) as tf.Tensor2D; // [n, dff]
  const y = matMulFreshWeight(a, w2); // [n, d]
  return { h, a, y };
}

/**
 * expertForward's backward: from the saved x [n, d], h, a [n, dff] and dY [n, d] (the gradient of
 * the expert's unscaled output) -> dW1 [d, dff], dW2 [dff, d], dX [n, d].
 */
export function expertBackward(
  x: tf.Tensor2D,
  h: tf.Tensor2D,
  a: tf.Tensor2D,
  dY: tf.Tensor2D,
  w1: tf.Tensor2D,
  w2: tf.Tensor2D,
): { dW1: tf.Tensor2D; dW2: tf.Tensor2D; dX: tf.Tensor2D } {
  const dA = matMulTransB(dY, w2); // [n, dff]
  const dW2 = weightGrad(a, dY); // [dff, d]
  const dH = geluBackward(h, dA) as tf.Tensor2D; // [n, dff]
  const dW1 = weightGrad(x, dH); // [d, dff]
  const dX = matMulTransB(dH, w1); // [n, d]
  return { dW1, dW2, dX };
}
