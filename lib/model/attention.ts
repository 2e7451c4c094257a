/**
 * Causal multi-head self-attention core: qkv [T, 3d] -> context [T, d] (before the output
 * projection). T = B * S tokens, rows of one sequence contiguous; columns [0, d) = queries,
 * [d, 2d) = keys, [2d, 3d) = values; head h owns columns h*dh .. (h+1)*dh of each.
 *
 * Two implementations with the same maths:
 * - `attentionHost` (wasm, cpu): lays each (sequence, head) block out in JS as plain 2-D
 *   operands (Q, K^T, V, ...) so forward and backward are plain 2-D matMuls (B * H small ones),
 *   with a hand-written backward.
 * - `attentionReference`: idiomatic batched tf ops differentiated by tfjs (used on webgpu, where
 *   batched matMuls are fast, and in tests as an independent cross-check).
 */
import * as tf from "@tensorflow/tfjs-core";
import { customOp, isHostBackend } from "./ops.ts";

const masks = new Map<string, tf.Tensor2D>();

/** Additive causal mask [S, S]: 0 on and below the diagonal, -1e9 above. Built once per S. */
export function causalMask(S: number): tf.Tensor2D {
  const key = `${tf.getBackend()}:${S}`;
  let m = masks.get(key);
  if (!m || m.isDisposed) {
    const a = new Float32Array(S * S);
    for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) a[i * S + j] = -1e9;
    m = tf.keep(tf.tensor2d(a, [S, S]));
    masks.set(key, m);
  }
  return m;
}

export function causalAttention(qkv: tf.Tensor2D, seqLen: number, heads: number): tf.Tensor2D {
  return isHostBackend()
    ? attentionHost(qkv, seqLen, heads)
    : attentionReference(qkv, seqLen, heads);
}

/** Batched tf ops, differentiated by tfjs. qkv [T, 3d] -> [T, d]. */
export function attentionReference(
  qkv: tf.Tensor2D,
  seqLen: number,
  heads: number,
): tf.Tensor2D {
  const [T, d3] = qkv.shape;
  const d = d3 / 3, dh = d / heads, B = T / seqLen;
  // [B, S, 3, H, dh] -> [3, B, H, S, dh]
  const x = tf.transpose(tf.reshape(qkv, [B, seqLen, 3, heads, dh]), [2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(x).map((t) => tf.reshape(t, [B * heads, seqLen, dh]));
  const scores = tf.add(
    tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)),
    causalMask(seqLen),
  );
  const p = tf.softmax(scores); // [B*H, S, S]
  const o = tf.matMul(p, v); // [B*H, S, dh]
  return tf.reshape(
    tf.transpose(tf.reshape(o, [B, heads, seqLen, dh]), [0, 2, 1, 3]),
    [T, d],
  ) as tf.Tensor2D;
}

/**
 * Host implementation: plain 2-D matMuls per (sequence, head); operand layouts and the softmax
 * backward are done on typed arrays in JS (one pass over the causal half instead of four tfjs
 * elementwise kernels). The probabilities stay in JS between the passes.
 */
export function attentionHost(qkv: tf.Tensor2D, seqLen: number, heads: number): tf.Tensor2D {
  const [T, d3] = qkv.shape;
  const d = d3 / 3, dh = d / heads, B = T / seqLen, S = seqLen;
  const scale = 1 / Math.sqrt(dh);
  const op = customOp(
    (qkvT: tf.Tensor2D) => {
      const a = qkvT.dataSync() as Float32Array; // [T, 3d]
      const out = new Float32Array(T * d);
      const mask = causalMask(S);
      const probs: Float32Array[] = []; // per (b, h): softmax [S, S]
      // Copies head h of part `part` (0 q, 1 k, 2 v) of sequence b: [S, dh], or [dh, S] if transposed.
      const block = (b: number, h: number, part: number, transposed: boolean, mul = 1) => {
        const o = new Float32Array(S * dh);
        const col = part * d + h * dh;
        for (let s = 0; s < S; s++) {
          const src = (b * S + s) * d3 + col;
          if (transposed) { for (let j = 0; j < dh; j++) o[j * S + s] = a[src + j] * mul; }
          else for (let j = 0; j < dh; j++) o[s * dh + j] = a[src + j] * mul;
        }
        return transposed ? tf.tensor2d(o, [dh, S]) : tf.tensor2d(o, [S, dh]);
      };
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < heads; h++) {
          tf.tidy(() => {
            const q = block(b, h, 0, false, scale); // [S, dh], pre-scaled
            const kt = block(b, h, 1, true); // [dh, S]
            // tfjs's fused softmax kernel beats Math.exp in JS ~5x here.
            const pt = tf.softmax(tf.add(tf.matMul(q, kt), mask)); // [S, S]
            probs.push(pt.dataSync() as Float32Array); // a copy, kept for the backward pass
            const o = tf.matMul(pt, block(b, h, 2, false)).dataSync(); // [S, dh]
            for (let s = 0; s < S; s++) {
              out.set(o.subarray(s * dh, s * dh + dh), (b * S + s) * d + h * dh);
            }
          });
        }
      }
      return {
        value: tf.tensor2d(out, [T, d]),
        gradFunc: (dy: tf.Tensor2D) => {
          const g = dy.dataSync() as Float32Array; // [T, d]
          const grad = new Float32Array(T * d3);
          const dyBlock = (b: number, h: number, transposed: boolean) => {
            const o = new Float32Array(S * dh);
            for (let s = 0; s < S; s++) {
              const src = (b * S + s) * d + h * dh;
              if (transposed) { for (let j = 0; j < dh; j++) o[j * S + s] = g[src + j]; }
              else for (let j = 0; j < dh; j++) o[s * dh + j] = g[src + j];
            }
            return transposed ? tf.tensor2d(o, [dh, S]) : tf.tensor2d(o, [S, dh]);
          };
          for (let b = 0; b < B; b++) {
            for (let h = 0; h < heads; h++) {
              tf.tidy(() => {
                const p = probs[b * heads + h];
                // dP = dO V^T [S, S]; softmax backward dS = P * (dP - rowsum(dP * P)), causal half.
                const dS = tf.matMul(dyBlock(b, h, false), block(b, h, 2, true))
                  .dataSync() as Float32Array;
                for (let i = 0; i < S; i++) {
                  const r = i * S;
                  let dot = 0;
                  for (let j = 0; j <= i; j++) dot += dS[r + j] * p[r + j];
                  for (let j = 0; j <= i; j++) dS[r + j] = p[r + j] * (dS[r + j] - dot);
                  dS.fill(0, r + i + 1, r + S);
                }
                const dSt = tf.tensor2d(dS, [S, S]);
                const dQ = tf.matMul(dSt, block(b, h, 1, false, scale)).dataSync(); // [S, dh]
                const dKt = tf.matMul(block(b, h, 0, true, scale), dSt).dataSync(); // Q^T dS: [dh, S]
                const dVt = tf.matMul(dyBlock(b, h, true), tf.tensor2d(p, [S, S])).dataSync(); // dO^T P
                const cq = h * dh, ck = d + h * dh, cv = 2 * d + h * dh;
                for (let s = 0; s < S; s++) {
                  const r = (b * S + s) * d3;
                  for (let j = 0; j < dh; j++) {
                    grad[r + cq + j] = dQ[s * dh + j];
                    grad[r + ck + j] = dKt[j * S + s];
                    grad[r + cv + j] = dVt[j * S + s];
                  }
                }
              });
            }
          }
          return [tf.tensor2d(grad, [T, d3])];
        },
      };
    },
    "attention",
  );
  return op(qkv) as tf.Tensor2D;
}
