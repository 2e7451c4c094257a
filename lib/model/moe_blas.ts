/**
 * The routed FFN on wasm with OpenBLAS: every expert's rows in one packed block.
 *
 * The kept choices of all experts are gathered once into X [N, d] (N = kept choices, expert by
 * expert, each expert's rows contiguous), and every per-expert product is one `sgemm` on that
 * expert's row range, reading the expert's weights in place and writing straight into shared
 * blocks H [N, dff], Y [N, d] (and dY, dA, dH, dX backward). The GELU runs once over the whole
 * block. Against the per-expert path of moe_host.ts this drops ~10 tensors and kernels per expert per
 * pass (at E = 64, d_model 256, both on OpenBLAS: forward 64 -> 54 ms and backward 116 -> 82 ms a
 * step, `deno task bench:profile --router sbase --experts 64`).
 * Same maths as moe_host.ts; test/blas.test.ts checks them against each other.
 */
import * as tf from "@tensorflow/tfjs-core";
import { sgemm } from "../backend/mod.ts";
import { GELU_K, hostTensor, hostView } from "../nn/mod.ts";
import type { Dispatch } from "./dispatch.ts";
import { assertWeightsLive, ffnOp } from "./expert.ts";

/**
 * y = sum over kept choices (t, j) of combine[t, j] * FFN_e(h[t]). h [T, d]; combine [T, k] or
 * null; w1[e] [d, dff]; w2[e] [dff, d] -> [T, d].
 */
export function routedFfnBlas(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  disp: Dispatch,
  k: number,
): tf.Tensor2D {
  const E = w1.length;
  const [T, d] = h.shape;
  const dff = w1[0].shape[1];
  const hasC = combine !== null;
  // Row range [start[e], start[e + 1]) of expert e in the packed blocks.
  const start = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) start[e + 1] = start[e] + disp.tokens[e].length;
  const N = start[E];
  const token = new Int32Array(N), slot = new Int32Array(N);
  for (let e = 0; e < E; e++) {
    token.set(disp.tokens[e], start[e]), slot.set(disp.slots[e], start[e]);
  }
  /** Per expert with rows: C[rows of e] = op(A[rows of e]) op(W_e) (shapes from the arguments). */
  const perExpert = (
    W: tf.Tensor2D[],
    A: Float32Array,
    aCols: number,
    C: Float32Array,
    cCols: number,
    transW: boolean,
  ) => {
    for (let e = 0; e < E; e++) {
      const n = start[e + 1] - start[e];
      if (n === 0) continue;
      const w = hostView(W[e]);
      sgemm(
        false,
        transW,
        n,
        cCols,
        aCols,
        1,
        A.subarray(start[e] * aCols),
        aCols,
        w,
        W[e].shape[1],
        0,
        C.subarray(start[e] * cCols),
        cCols,
      );
    }
  };
  return ffnOp(h, combine, w1, w2, ({ h: hIn, combine: cIn, w1: W1, w2: W2, save }) => {
    const X = hostTensor<tf.Rank.R2>([N, d], (o) => {
      const hv = hostView(hIn);
      for (let r = 0; r < N; r++) o.set(hv.subarray(token[r] * d, token[r] * d + d), r * d);
    });
    const H = hostTensor<tf.Rank.R2>(
      [N, dff],
      (o) => perExpert(W1, hostView(X), d, o, dff, false),
    );
    const S = tf.sigmoid(tf.mul(H, GELU_K)) as tf.Tensor2D; // [N, dff]
    const A = tf.mul(H, S) as tf.Tensor2D; // gelu(H) [N, dff]
    const Y = hostTensor<tf.Rank.R2>([N, d], (o) => perExpert(W2, hostView(A), dff, o, d, false));
    const value = hostTensor<tf.Rank.R2>([T, d], (out) => {
      const y = hostView(Y), c = cIn ? hostView(cIn) : null; // c: [T * k]
      for (let r = 0; r < N; r++) {
        const w = c ? c[slot[r]] : 1, o = token[r] * d, src = r * d;
        for (let j = 0; j < d; j++) out[o + j] += w * y[src + j];
      }
    });
    save(cIn ? [X, H, S, A, Y, cIn] : [X, H, S, A, Y]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [Xs, Hs, Ss, As, Ys] = saved as tf.Tensor2D[];
        const cs = hasC ? saved[5] : null;
        assertWeightsLive([...W1, ...W2]);
        const dc = hasC ? new Float32Array(T * k) : null;
        // dY [N, d]: dy at each row's token, times its combine weight; dc = dy . y per slot
        const dY = hostTensor<tf.Rank.R2>([N, d], (g) => {
          const dyv = hostView(dy), y = hostView(Ys), c = cs ? hostView(cs) : null;
          for (let r = 0; r < N; r++) {
            const o = r * d;
            g.set(dyv.subarray(token[r] * d, token[r] * d + d), o);
            if (!c) continue;
            const w = c[slot[r]];
            let dot = 0;
            for (let j = 0; j < d; j++) {
              dot += g[o + j] * y[o + j];
              g[o + j] *= w;
            }
            dc![slot[r]] += dot;
          }
        });
        const dA = hostTensor<tf.Rank.R2>(
          [N, dff],
          (o) => perExpert(W2, hostView(dY), d, o, dff, true),
        );
        // dH = dA * gelu'(H) = dA (s + k h s (1 - s))
        const dH = hostTensor<tf.Rank.R2>([N, dff], (o) => {
          const a = hostView(dA), hv = hostView(Hs), s = hostView(Ss);
          for (let i = 0; i < o.length; i++) {
            const si = s[i];
            o[i] = a[i] * (si + GELU_K * hv[i] * si * (1 - si));
          }
        });
        // dW1_e = X_e^T dH_e [d, dff], dW2_e = A_e^T dY_e [dff, d]; zero for an expert with no rows
        const weightGrads = (Act: tf.Tensor2D, G: tf.Tensor2D, rows: number, cols: number) =>
          Array.from({ length: E }, (_, e) =>
            hostTensor<tf.Rank.R2>([rows, cols], (o) => {
              const n = start[e + 1] - start[e];
              if (n === 0) return;
              const av = hostView(Act), gv = hostView(G);
              sgemm(
                true,
                false,
                rows,
                cols,
                n,
                1,
                av.subarray(start[e] * rows),
                rows,
                gv.subarray(start[e] * cols),
                cols,
                0,
                o,
                cols,
              );
            }));
        const dW1 = weightGrads(Xs, dH, d, dff);
        const dW2 = weightGrads(As, dY, dff, d);
        const dX = hostTensor<tf.Rank.R2>(
          [N, d],
          (o) => perExpert(W1, hostView(dH), dff, o, d, true),
        );
        const dh = hostTensor<tf.Rank.R2>([T, d], (out) => {
          const x = hostView(dX);
          for (let r = 0; r < N; r++) {
            const o = token[r] * d, src = r * d;
            for (let j = 0; j < d; j++) out[o + j] += x[src + j];
          }
        });
        return { dh, dc: dc ? tf.tensor2d(dc, [T, k]) : null, dW1, dW2 };
      },
    };
  });
}
