/**
 * The routed FFN on the host backends (wasm with XNNPACK, cpu): each expert's rows are copied out
 * of h in JS (lib/nn's hostGatherRows), run through two plain 2-D matMuls, and scatter-added back
 * into one heap output in a single JS pass, scaled by their combine weights. Backward the same in
 * reverse; nothing is read back, every tensor is viewed in place (lib/nn/host.ts).
 */
import * as tf from "@tensorflow/tfjs-core";
import { hostGatherRows, hostTensor, hostView } from "../nn/mod.ts";
import type { Dispatch } from "./dispatch.ts";
import { assertWeightsLive, expertBackward, expertForward, ffnOp } from "./expert.ts";

/** See moe.ts's routedFfn: h [T, d], combine [T, k] or null, w1[e] [d, dff], w2[e] [dff, d]. */
export function routedFfnHost(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  disp: Dispatch,
  k: number,
): tf.Tensor2D {
  const E = w1.length;
  const [T, d] = h.shape;
  const hasC = combine !== null;
  return ffnOp(h, combine, w1, w2, ({ h: hIn, combine: cIn, w1: W1, w2: W2, save }) => {
    // Saved for the backward pass, per expert with rows: X [n, d], H [n, dff], A [n, dff],
    // Y [n, d] at keep[slot[e]] .. keep[slot[e] + 3]; then the combine weights last.
    const keep: tf.Tensor[] = [];
    const slot = new Int32Array(E).fill(-1);
    for (let e = 0; e < E; e++) {
      if (disp.tokens[e].length === 0) continue;
      const x = hostGatherRows(hIn, disp.tokens[e]); // [n, d]
      const { h: hh, a, y } = expertForward(x, W1[e], W2[e]);
      slot[e] = keep.length;
      keep.push(x, hh, a, y);
    }
    // One pass that scatter-adds every expert's rows, scaled, into the heap output [T, d].
    const value = hostTensor<tf.Rank.R2>([T, d], (out) => {
      const cData = cIn ? hostView(cIn) : null; // [T * k]
      for (let e = 0; e < E; e++) {
        if (slot[e] < 0) continue;
        const yd = hostView(keep[slot[e] + 3]);
        const sl = disp.slots[e], tk = disp.tokens[e];
        for (let m = 0; m < tk.length; m++) {
          const c = cData ? cData[sl[m]] : 1;
          const o = tk[m] * d, src = m * d;
          for (let j = 0; j < d; j++) out[o + j] += c * yd[src + j];
        }
      }
    });
    if (cIn) keep.push(cIn);
    save(keep);
    return {
      value,
      gradFunc: (dy, saved) => {
        assertWeightsLive([...W1, ...W2]);
        const cs = hasC ? saved[saved.length - 1] : null; // [T, k]
        const dW1: tf.Tensor[] = [], dW2: tf.Tensor[] = [];
        const dXs: (tf.Tensor2D | null)[] = []; // per expert dX [n, d], scatter-added at the end
        const dc = hasC ? new Float32Array(T * k) : null; // dcombine: dy . y per slot
        for (let e = 0; e < E; e++) {
          const n = disp.tokens[e].length;
          if (n === 0) {
            dW1.push(tf.zeros(W1[e].shape)), dW2.push(tf.zeros(W2[e].shape));
            dXs.push(null);
            continue;
          }
          const sl = disp.slots[e], tk = disp.tokens[e];
          const [X, H, A, Y] = saved.slice(slot[e], slot[e] + 4) as tf.Tensor2D[];
          // dY [n, d]: dy at each row's token, times its combine weight (the gradient of the
          // expert's unscaled output); dc += dy . y
          const dY = hostTensor<tf.Rank.R2>([n, d], (g) => {
            const dyv = hostView(dy);
            for (let m = 0; m < n; m++) g.set(dyv.subarray(tk[m] * d, tk[m] * d + d), m * d);
            if (!cs) return;
            const yd = hostView(Y), cData = hostView(cs);
            for (let m = 0; m < n; m++) {
              const c = cData[sl[m]];
              let dot = 0;
              for (let j = 0; j < d; j++) {
                dot += g[m * d + j] * yd[m * d + j];
                g[m * d + j] *= c;
              }
              dc![sl[m]] += dot;
            }
          });
          const b = expertBackward(X, H, A, dY, W1[e], W2[e]);
          dW1.push(b.dW1), dW2.push(b.dW2), dXs.push(b.dX);
        }
        // dh [T, d]: every expert's dX rows scatter-added at their tokens
        const dh = hostTensor<tf.Rank.R2>([T, d], (out) => {
          for (let e = 0; e < E; e++) {
            if (!dXs[e]) continue;
            const dxd = hostView(dXs[e]!), tk = disp.tokens[e];
            for (let m = 0; m < tk.length; m++) {
              const o = tk[m] * d, src = m * d;
              for (let j = 0; j < d; j++) out[o + j] += dxd[src + j];
            }
          }
        });
        return { dh, dc: dc ? tf.tensor2d(dc, [T, k]) : null, dW1, dW2 };
      },
    };
  });
}
