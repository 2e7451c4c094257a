/**
 * The routed FFN on device backends (webgpu): rows are gathered with tf.gather and scattered back
 * with tf.scatterND, so no value is read back to the CPU. Same maths as moe_host.ts;
 * test/model.test.ts checks the two paths against each other (lib/nn's setHostPathOverride).
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Dispatch } from "./dispatch.ts";
import { assertWeightsLive, expertBackward, expertForward, ffnOp } from "./expert.ts";

/**
 * sum + part, freeing both: a running [T, d] sum over E experts would otherwise keep 2E such
 * tensors alive until the pass ends (about 8 E T d bytes per routed block on a GPU).
 */
function addInto<R extends tf.Rank>(sum: tf.Tensor<R>, part: tf.Tensor): tf.Tensor<R> {
  const next = tf.add(sum, part) as tf.Tensor<R>;
  sum.dispose();
  part.dispose();
  return next;
}

/** See moe.ts's routedFfn: h [T, d], combine [T, k] or null, w1[e] [d, dff], w2[e] [dff, d]. */
export function routedFfnDevice(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  disp: Dispatch,
  k: number,
): tf.Tensor2D {
  const E = w1.length;
  const [T, d] = h.shape;
  const ids = (a: Int32Array) => tf.tensor1d(a, "int32");
  /** The combine weights [T, k] of slots `sl` as a column [n, 1]. */
  const weightsOf = (c: tf.Tensor, sl: Int32Array) =>
    tf.reshape(tf.gather(tf.reshape(c, [T * k]), ids(sl)), [sl.length, 1]);
  return ffnOp(h, combine, w1, w2, ({ h: hIn, combine: cIn, w1: W1, w2: W2, save }) => {
    // Saved for the backward pass, per expert with rows: X [n, d], H [n, dff], A [n, dff],
    // Y [n, d] at keep[slot[e]] .. keep[slot[e] + 3]; then the combine weights last.
    const keep: tf.Tensor[] = [];
    const slot = new Int32Array(E).fill(-1);
    let out = tf.zeros([T, d]) as tf.Tensor2D;
    for (let e = 0; e < E; e++) {
      const n = disp.tokens[e].length;
      if (n === 0) continue;
      const x = tf.gather(hIn, ids(disp.tokens[e])) as tf.Tensor2D; // [n, d]
      const { h: hh, a, y } = expertForward(x, W1[e], W2[e]);
      slot[e] = keep.length;
      keep.push(x, hh, a, y);
      const scaled = cIn ? tf.mul(y, weightsOf(cIn, disp.slots[e])) : y; // [n, d]
      const idx = tf.tensor2d(disp.tokens[e], [n, 1], "int32");
      out = addInto(out, tf.scatterND(idx, scaled, [T, d])); // [T, d]
    }
    if (cIn) keep.push(cIn);
    save(keep);
    return {
      value: out,
      gradFunc: (dy, saved) => {
        assertWeightsLive([...W1, ...W2]);
        const cs = cIn ? saved[saved.length - 1] : null; // [T, k]
        const dW1: tf.Tensor[] = [], dW2: tf.Tensor[] = [];
        let dh = tf.zeros([T, d]) as tf.Tensor2D;
        let dc = cs ? tf.zeros([T * k]) as tf.Tensor1D : null; // dcombine: dy . y per slot
        for (let e = 0; e < E; e++) {
          const n = disp.tokens[e].length;
          if (n === 0) {
            dW1.push(tf.zeros(W1[e].shape)), dW2.push(tf.zeros(W2[e].shape));
            continue;
          }
          const sl = disp.slots[e], tk = disp.tokens[e];
          const [X, H, A, Y] = saved.slice(slot[e], slot[e] + 4) as tf.Tensor2D[];
          const g = tf.gather(dy, ids(tk)) as tf.Tensor2D; // [n, d]
          // dY [n, d]: the gradient of the expert's unscaled output
          let dY = g;
          if (cs) {
            const dot = tf.sum(tf.mul(g, Y), 1); // [n]
            dc = addInto(dc!, tf.scatterND(tf.reshape(ids(sl), [n, 1]), dot, [T * k]));
            dY = tf.mul(g, weightsOf(cs, sl)) as tf.Tensor2D;
          }
          const b = expertBackward(X, H, A, dY, W1[e], W2[e]);
          dW1.push(b.dW1), dW2.push(b.dW2);
          const idx = tf.tensor2d(tk, [n, 1], "int32");
          dh = addInto(dh, tf.scatterND(idx, b.dX, [T, d])); // [T, d]
        }
        return { dh, dc: dc ? tf.reshape(dc, [T, k]) as tf.Tensor2D : null, dW1, dW2 };
      },
    };
  });
}
