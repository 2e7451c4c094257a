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
import { blasActive, sgemm } from "../backend/mod.ts";
import {
  customOp,
  hostTensor,
  hostView,
  isHostBackend,
  type SaveFn,
  transpose2d,
} from "../nn/mod.ts";

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
  if (blasActive()) return attentionBlas(qkv, seqLen, heads);
  return isHostBackend()
    ? attentionHost(qkv, seqLen, heads)
    : attentionReference(qkv, seqLen, heads);
}

/** A reused JS scratch buffer of at least n floats (no fresh pages per call). */
let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch.subarray(0, n);
}

/**
 * The host path with a native BLAS (wasm + OpenBLAS): every product reads its operands straight
 * out of qkv [T, 3d] (or dy [T, d]) by row stride and writes straight into the output's columns,
 * so nothing is copied into per-head blocks. Scores of all (sequence, head) pairs go into one
 * [B*H, S, S] tensor pre-filled with the causal mask (sgemm with beta 1 adds to it), and one
 * softmax kernel normalises them all.
 */
export function attentionBlas(qkv: tf.Tensor2D, seqLen: number, heads: number): tf.Tensor2D {
  const [T, d3] = qkv.shape;
  const d = d3 / 3, dh = d / heads, B = T / seqLen, S = seqLen, SS = S * S;
  const scale = 1 / Math.sqrt(dh);
  // Offsets into qkv (row stride 3d) of head h's q, k, v columns in sequence b's first row.
  const at = (b: number, h: number, part: number) => b * S * d3 + part * d + h * dh;
  const op = customOp(
    (qkvT: tf.Tensor2D, save: SaveFn) => {
      const mask = causalMask(S);
      // scores [B*H, S, S] = mask + scale Q K^T per (b, h)
      const scores = hostTensor<tf.Rank.R3>([B * heads, S, S], (o) => {
        const q = hostView(qkvT), m = hostView(mask);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < heads; h++) {
            const c = o.subarray((b * heads + h) * SS, (b * heads + h + 1) * SS);
            c.set(m);
            sgemm(
              false,
              true,
              S,
              S,
              dh,
              scale,
              q.subarray(at(b, h, 0)),
              d3,
              q.subarray(at(b, h, 1)),
              d3,
              1,
              c,
              S,
            );
          }
        }
      });
      const p = tf.softmax(scores) as tf.Tensor3D; // [B*H, S, S]
      scores.dispose();
      save([qkvT, p]);
      const value = hostTensor<tf.Rank.R2>([T, d], (out) => {
        const q = hostView(qkvT), pv = hostView(p);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < heads; h++) {
            const i = b * heads + h;
            // O [S, dh] = P V, into columns h*dh.. of rows b*S.. of out (row stride d)
            sgemm(
              false,
              false,
              S,
              dh,
              S,
              1,
              pv.subarray(i * SS, (i + 1) * SS),
              S,
              q.subarray(at(b, h, 2)),
              d3,
              0,
              out.subarray(b * S * d + h * dh),
              d,
            );
          }
        }
      });
      return {
        value,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const [qkvS, pS] = saved;
          const grad = hostTensor<tf.Rank.R2>([T, d3], (g) => {
            const q = hostView(qkvS), pv = hostView(pS), gy = hostView(dy);
            const dS = scratchOf(SS);
            for (let b = 0; b < B; b++) {
              for (let h = 0; h < heads; h++) {
                const i = b * heads + h, P = pv.subarray(i * SS, (i + 1) * SS);
                const dO = gy.subarray(b * S * d + h * dh);
                // dP = dO V^T [S, S]
                sgemm(false, true, S, S, dh, 1, dO, d, q.subarray(at(b, h, 2)), d3, 0, dS, S);
                // softmax backward dS = P * (dP - rowsum(dP * P)), causal half (P is 0 above)
                for (let r = 0; r < S; r++) {
                  const o = r * S;
                  let dot = 0;
                  for (let j = 0; j <= r; j++) dot += dS[o + j] * P[o + j];
                  for (let j = 0; j <= r; j++) dS[o + j] = P[o + j] * (dS[o + j] - dot);
                  for (let j = r + 1; j < S; j++) dS[o + j] = 0;
                }
                // dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO: straight into grad's columns
                sgemm(
                  false,
                  false,
                  S,
                  dh,
                  S,
                  scale,
                  dS,
                  S,
                  q.subarray(at(b, h, 1)),
                  d3,
                  0,
                  g.subarray(at(b, h, 0)),
                  d3,
                );
                sgemm(
                  true,
                  false,
                  S,
                  dh,
                  S,
                  scale,
                  dS,
                  S,
                  q.subarray(at(b, h, 0)),
                  d3,
                  0,
                  g.subarray(at(b, h, 1)),
                  d3,
                );
                sgemm(true, false, S, dh, S, 1, P, S, dO, d, 0, g.subarray(at(b, h, 2)), d3);
              }
            }
          });
          return [grad];
        },
      };
    },
    "attention",
  );
  return op(qkv) as tf.Tensor2D;
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
 * backward are written in JS straight into heap tensors (lib/nn/host.ts), with no fresh JS
 * buffers. The probabilities P of each (sequence, head) are saved for the backward pass.
 */
export function attentionHost(qkv: tf.Tensor2D, seqLen: number, heads: number): tf.Tensor2D {
  const [T, d3] = qkv.shape;
  const d = d3 / 3, dh = d / heads, B = T / seqLen, S = seqLen;
  const scale = 1 / Math.sqrt(dh);
  // Head h of part `part` (0 q, 1 k, 2 v) of sequence b of src [T, 3d]: [S, dh], or [dh, S] if
  // transposed; of src [T, d] (a gradient) when part is -1.
  const block = (
    src: tf.Tensor2D,
    b: number,
    h: number,
    part: number,
    transposed: boolean,
    mul = 1,
  ): tf.Tensor2D =>
    hostTensor<tf.Rank.R2>(transposed ? [dh, S] : [S, dh], (o) => {
      const a = hostView(src);
      const width = src.shape[1], col = Math.max(0, part) * d + h * dh;
      for (let s = 0; s < S; s++) {
        const from = (b * S + s) * width + col;
        if (transposed) { for (let j = 0; j < dh; j++) o[j * S + s] = a[from + j] * mul; }
        else for (let j = 0; j < dh; j++) o[s * dh + j] = a[from + j] * mul;
      }
    });
  const op = customOp(
    (qkvT: tf.Tensor2D, save: SaveFn) => {
      const mask = causalMask(S);
      const probs: tf.Tensor[] = [], outs: tf.Tensor[] = []; // per (b, h): P [S, S], P V [S, dh]
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < heads; h++) {
          const [p, o] = tf.tidy(() => {
            const q = block(qkvT, b, h, 0, false, scale); // [S, dh], pre-scaled
            const kt = block(qkvT, b, h, 1, true); // [dh, S]
            // tfjs's fused softmax kernel beats Math.exp in JS ~5x here.
            const p = tf.softmax(tf.add(tf.matMul(q, kt), mask)); // [S, S]
            return [p, tf.matMul(p, block(qkvT, b, h, 2, false))]; // [S, dh]
          });
          probs.push(p), outs.push(o);
        }
      }
      save([qkvT, ...probs]); // qkv is read again in the backward pass: it must be saved too
      const value = hostTensor<tf.Rank.R2>([T, d], (out) => {
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < heads; h++) {
            const o = hostView(outs[b * heads + h]);
            for (let s = 0; s < S; s++) {
              out.set(o.subarray(s * dh, s * dh + dh), (b * S + s) * d + h * dh);
            }
          }
        }
      });
      return {
        value,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const qkvS = saved[0] as tf.Tensor2D;
          const parts: tf.Tensor[][] = []; // per (b, h): dQ, dK, dV, each [S, dh]
          for (let b = 0; b < B; b++) {
            for (let h = 0; h < heads; h++) {
              parts.push(tf.tidy(() => {
                const p = saved[1 + b * heads + h] as tf.Tensor2D;
                // dP = dO V^T [S, S]; softmax backward dS = P * (dP - rowsum(dP * P)), causal half.
                const dP = tf.matMul(block(dy, b, h, -1, false), block(qkvS, b, h, 2, true));
                // dS [S, S] and dS^T, P^T are left operands below, so that only [S, dh] blocks are
                // packed as right operands (a new [S, S] right operand costs ~0.3 ms to pack).
                const dS = hostTensor<tf.Rank.R2>([S, S], (o) => {
                  const g = hostView(dP), pv = hostView(p);
                  for (let i = 0; i < S; i++) {
                    const r = i * S;
                    let dot = 0;
                    for (let j = 0; j <= i; j++) dot += g[r + j] * pv[r + j];
                    for (let j = 0; j <= i; j++) o[r + j] = pv[r + j] * (g[r + j] - dot);
                  }
                });
                const dSt = transpose2d(dS);
                const dO = block(dy, b, h, -1, false); // [S, dh]
                return [
                  tf.matMul(dS, block(qkvS, b, h, 1, false, scale)), // dQ = dS K [S, dh]
                  tf.matMul(dSt, block(qkvS, b, h, 0, false, scale)), // dK = dS^T Q [S, dh]
                  tf.matMul(transpose2d(p), dO), // dV = P^T dO [S, dh]
                ];
              }));
            }
          }
          const grad = hostTensor<tf.Rank.R2>([T, d3], (g) => {
            for (let b = 0; b < B; b++) {
              for (let h = 0; h < heads; h++) {
                const [dQ, dK, dV] = parts[b * heads + h].map(hostView);
                const cq = h * dh, ck = d + h * dh, cv = 2 * d + h * dh;
                for (let s = 0; s < S; s++) {
                  const r = (b * S + s) * d3, src = s * dh;
                  g.set(dQ.subarray(src, src + dh), r + cq);
                  g.set(dK.subarray(src, src + dh), r + ck);
                  g.set(dV.subarray(src, src + dh), r + cv);
                }
              }
            }
          });
          for (const t of parts.flat()) t.dispose();
          return [grad];
        },
      };
    },
    "attention",
  );
  return op(qkv) as tf.Tensor2D;
}
