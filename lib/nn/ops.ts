/**
 * Differentiable building blocks with hand-written gradients (tf.customGrad).
 *
 * Why: on the wasm backend only plain (non-transposed, non-batched) 2-D matMul is fast; the
 * transposed and batched matMuls that tfjs's own gradients emit are 10-45x slower, tf.gather is
 * ~25x slower than a row copy in JS and its gradient kernel (UnsortedSegmentSum) is missing. So
 * every op here computes its backward pass from plain 2-D matMuls and explicit transposes, and
 * (on the "host" backends wasm and cpu, whose tensors live in this process's memory) does row
 * gathers/scatters and transposes in JS over views of tensor memory (./host.ts). tfjs-wasm packs
 * the right operand of a matMul afresh whenever it is a new tensor, so the operand orders are
 * picked by measured cost (matMulTransB, matMulFreshWeight, weightGrad). On other backends (webgpu)
 * the same ops use tf.gather / tf.transpose so that nothing is read back to the CPU.
 */
import * as tf from "@tensorflow/tfjs-core";
import process from "node:process";
// The gradient registry is global; the full tfjs bundle registers every op gradient in it.
import "@tensorflow/tfjs";
import { blasActive } from "../backend/mod.ts";
import { hostColSum, hostTensor, hostTranspose2d, hostView } from "./host.ts";

/**
 * tfjs runs a custom op's forward inside tf.tidy: intermediates it needs in the backward pass must
 * go through `save` (kept clones, handed to gradFunc as `saved`; freed after backprop, and not
 * kept at all when no gradient is being recorded). Inputs and JS arrays can be captured directly.
 */
export type SaveFn = (tensors: tf.Tensor[]) => void;

/** What a custom op's forward returns: its value and its gradient function. */
export interface CustomOpResult {
  value: tf.Tensor;
  // deno-lint-ignore no-explicit-any
  gradFunc: (dy: any, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/**
 * tf.customGrad with loose typing: f receives the input tensors, then tfjs's `save` function.
 */
// deno-lint-ignore no-explicit-any
export function customOp<F = (...inputs: any[]) => any>(
  // deno-lint-ignore no-explicit-any
  f: (...args: any[]) => CustomOpResult,
  label = "op",
): F {
  // deno-lint-ignore no-explicit-any
  const wrapped = (...args: any[]): CustomOpResult => {
    if (!profile) return f(...args);
    const t0 = clock();
    const r = f(...args);
    addTime(`${label}.fwd`, t0);
    return {
      value: r.value,
      gradFunc: (dy, saved) => {
        const t1 = clock();
        const g = r.gradFunc(dy, saved);
        addTime(`${label}.bwd`, t1);
        return g;
      },
    };
  };
  return tf.customGrad(wrapped as never) as unknown as F;
}

let profile: Map<string, { ms: number; calls: number }> | null = null;

let wallClock = false;

/** Process CPU time in ms (robust to other processes sharing the cores), or wall time. */
function clock(): number {
  if (wallClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function addTime(key: string, t0: number): void {
  const e = profile!.get(key) ?? { ms: 0, calls: 0 };
  e.ms += clock() - t0;
  e.calls++;
  profile!.set(key, e);
}

/**
 * Time spent in each custom op's forward and backward (for profiling on host backends, where
 * kernels run synchronously): process CPU time, or wall time with `wall`. `startOpProfile()`
 * resets; `stopOpProfile()` reads.
 */
export function startOpProfile(wall = false): void {
  profile = new Map();
  wallClock = wall;
}

export function stopOpProfile(): Map<string, { ms: number; calls: number }> {
  const p = profile ?? new Map();
  profile = null;
  return p;
}

let hostOverride: boolean | undefined;

/**
 * Forces the host (JS typed-array) or device (tf.gather/tf.transpose) code paths regardless of the
 * backend; `undefined` restores the automatic choice. For tests that cross-check the two paths.
 */
export function setHostPathOverride(v: boolean | undefined): void {
  hostOverride = v;
}

/** True when tensor data lives in this process (wasm, cpu): cheap dataSync, JS row copies win. */
export function isHostBackend(): boolean {
  if (hostOverride !== undefined) return hostOverride;
  const b = tf.getBackend();
  return b === "wasm" || b === "cpu";
}

/** Copies rows `idx` of a row-major [rows, cols] array into `out` ([idx.length, cols]); -1 skips. */
function copyRows(
  src: Float32Array,
  cols: number,
  idx: Int32Array,
  out: Float32Array,
): void {
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r >= 0) out.set(src.subarray(r * cols, r * cols + cols), i * cols);
  }
}

/** Rows `idx` of x [rows, cols] -> [idx.length, cols]; index -1 gives a zero row (host backends). */
export function hostGatherRows(x: tf.Tensor2D, idx: Int32Array): tf.Tensor2D {
  const cols = x.shape[1];
  return hostTensor<tf.Rank.R2>([idx.length, cols], (o) => copyRows(hostView(x), cols, idx, o));
}

/** Plain 2-D transpose [r, c] -> [c, r] (in JS on host backends: 3x faster than the kernel). */
export function transpose2d(x: tf.Tensor2D): tf.Tensor2D {
  return isHostBackend() ? hostTranspose2d(x) : tf.transpose(x) as tf.Tensor2D;
}

/** Column sums of [n, m] -> [m] (a [1, n] x [n, m] matMul off the host: column reductions are slow). */
export function colSum(x: tf.Tensor2D): tf.Tensor1D {
  if (isHostBackend()) return hostColSum(x);
  return tf.reshape(tf.matMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]]);
}

/**
 * dW = x^T dy for y = x W, x [n, a], dy [n, b] -> [a, b]. tfjs-wasm's fast matMul takes neither
 * operand transposed and packs its right operand afresh whenever that is a new tensor, so one
 * n-row activation is transposed and the other packed: x^T dy, or (dy^T x)^T. Packing costs more
 * per element (~4.4 ns) than our transpose (~2.3 ns), so the larger activation is transposed and
 * the smaller packed (measured 8.3 vs 10.4 ms for n 2048, a 256, b 1024 on 2 threads).
 */
export function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (blasActive()) return tf.matMul(x, dy, true, false); // the BLAS transposes for free
  if (x.shape[1] >= dy.shape[1]) return tf.matMul(transpose2d(x), dy);
  return transpose2d(tf.matMul(transpose2d(dy), x));
}

/**
 * Measured costs per element (`deno task bench:kernels`): our JS transpose (2.3 ns on [2048, 1024]
 * in a plain buffer, up to 3.9 ns in the shared heap of the 2-thread build) and XNNPACK's packing of
 * a new right operand (4.4-5.5 ns).
 */
const TRANSPOSE_NS = 2.3, PACK_NS = 4.4;

/**
 * a b^T for a [n, k], b [m, k] -> [n, m] (the backward pass's dx = dy W^T). tfjs-wasm's fast
 * matMul takes no transposed operand, so either b is transposed and packed, a b^T, or a is, and
 * the small result transposed back, (b a^T)^T. The cheaper one is picked from the sizes: for an
 * expert's few tokens (30 rows against a 1024 x 256 weight) the second skips the weight's
 * transpose and packing altogether: 0.52 against 1.74 ms (`deno task bench:kernels`).
 */
export function matMulTransB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!isHostBackend() || blasActive()) return tf.matMul(a, b, false, true);
  if (transBRoute(a.shape, b.shape) === "transpose-b") return tf.matMul(a, transpose2d(b));
  return transpose2d(tf.matMul(b, transpose2d(a)));
}

/** Which way matMulTransB computes a [n, k] b^T ([m, k]) on a host backend. */
export function transBRoute(
  a: [number, number],
  b: [number, number],
): "transpose-b" | "transpose-a" {
  const costB = b[0] * b[1] * (TRANSPOSE_NS + PACK_NS);
  const costA = a[0] * a[1] * (TRANSPOSE_NS + PACK_NS) + a[0] * b[0] * TRANSPOSE_NS;
  return costB <= costA ? "transpose-b" : "transpose-a";
}

/**
 * x w for x [n, k], w [k, m] -> [n, m], where w is a weight that is new every step (so tfjs-wasm
 * packs it afresh). With few rows (an expert's tokens) transposing w in JS and using it as the
 * left operand, (w^T x^T)^T, is a little cheaper than packing it (0.89 against 1.19 ms for 30 x 256
 * x 1024, `deno task bench:kernels`).
 */
export function matMulFreshWeight(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (!isHostBackend() || blasActive() || freshWeightRoute(x.shape, w.shape) === "pack") {
    return tf.matMul(x, w);
  }
  return transpose2d(tf.matMul(transpose2d(w), transpose2d(x)));
}

/** Which way matMulFreshWeight computes x [n, k] w [k, m] on a host backend. */
export function freshWeightRoute(x: [number, number], w: [number, number]): "pack" | "transpose" {
  const costPack = w[0] * w[1] * PACK_NS;
  const costT = w[0] * w[1] * TRANSPOSE_NS + x[0] * x[1] * (TRANSPOSE_NS + PACK_NS) +
    x[0] * w[1] * TRANSPOSE_NS;
  return costPack <= costT ? "pack" : "transpose";
}

/** y = x W with x [n, a], W [a, b] -> [n, b]; gradients from plain matMuls only. */
export const linear: (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D = customOp(
  (x: tf.Tensor2D, w: tf.Tensor2D, save: SaveFn) => {
    // Saving copies; a variable outlives the backward pass and is read in place instead.
    const wIsVariable = w instanceof tf.Variable;
    save(wIsVariable ? [x] : [x, w]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const xs = saved[0] as tf.Tensor2D, ws = wIsVariable ? w : saved[1] as tf.Tensor2D;
        return [matMulTransB(dy, ws), weightGrad(xs, dy)];
      },
    };
  },
  "linear",
);

/** GELU, sigmoid form: x * sigmoid(1.702 x) (Hendrycks & Gimpel 2016; 3 ops instead of 8). */
export const GELU_K = 1.702;

export function geluForward(h: tf.Tensor): tf.Tensor {
  return tf.mul(h, tf.sigmoid(tf.mul(h, GELU_K)));
}

/** dy * d gelu(h) / dh = dy * (s + k h s (1 - s)), s = sigmoid(k h). */
export function geluBackward(h: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  const s = tf.sigmoid(tf.mul(h, GELU_K));
  const ds = tf.mul(tf.mul(s, tf.sub(1, s)), tf.mul(h, GELU_K));
  return tf.mul(dy, tf.add(s, ds));
}

export const gelu: (h: tf.Tensor2D) => tf.Tensor2D = customOp(
  (h: tf.Tensor2D, save: SaveFn) => {
    if (!isHostBackend()) {
      save([h]);
      return {
        value: geluForward(h),
        gradFunc: (dy: tf.Tensor2D, [hs]: tf.Tensor[]) => [geluBackward(hs, dy)],
      };
    }
    // Host: keep s = sigmoid(k h) for a fused JS backward (no second sigmoid, no 7 kernels).
    const s = tf.sigmoid(tf.mul(h, GELU_K));
    save([h, s]);
    return {
      value: tf.mul(h, s),
      gradFunc: (dy: tf.Tensor2D, [hs, ss]: tf.Tensor[]) => [
        hostTensor<tf.Rank.R2>(hs.shape, (g) => {
          const x = hostView(hs), sv = hostView(ss), d = hostView(dy);
          for (let i = 0; i < g.length; i++) {
            const si = sv[i];
            g[i] = d[i] * (si + GELU_K * x[i] * si * (1 - si));
          }
        }),
      ],
    };
  },
  "gelu",
);

export const LN_EPS = 1e-5;

/** LayerNorm over the last axis: x [n, d], gain g [d], offset b [d] -> [n, d]. */
export const layerNorm: (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D = customOp(
  (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D, save: SaveFn) => {
    if (isHostBackend()) return layerNormHost(x, g, b, save);
    const { mean, variance } = tf.moments(x, 1, true); // [n, 1] each
    const rstd0 = tf.rsqrt(tf.add(variance, LN_EPS)); // [n, 1]
    const xhat0 = tf.mul(tf.sub(x, mean), rstd0) as tf.Tensor2D; // [n, d]
    save([rstd0, xhat0, g]);
    return {
      value: tf.add(tf.mul(xhat0, g), b),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [rstd, xhat, gs] = saved;
        const dxhat = tf.mul(dy, gs); // [n, d]
        const m1 = tf.mean(dxhat, 1, true); // [n, 1]
        const m2 = tf.mean(tf.mul(dxhat, xhat), 1, true); // [n, 1]
        const dx = tf.mul(rstd, tf.sub(tf.sub(dxhat, m1), tf.mul(xhat, m2)));
        const dg = colSum(tf.mul(dy, xhat) as tf.Tensor2D);
        const db = colSum(dy);
        return [dx, dg, db];
      },
    };
  },
  "layerNorm",
) as unknown as (x: tf.Tensor2D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.Tensor2D;

/**
 * LayerNorm on host backends in JS: one pass per row forward, two backward, against ~9 and ~12
 * tfjs kernels (backward 22 -> 11 ms a d_model 256 step, forward about the same,
 * `deno task bench:profile`). Each row's mean and 1/std stay in JS arrays; the backward recomputes
 * x-hat from a saved copy of x. Statistics in float64.
 */
function layerNormHost(
  x: tf.Tensor2D,
  g: tf.Tensor1D,
  b: tf.Tensor1D,
  save: SaveFn,
): CustomOpResult {
  const [n, d] = x.shape;
  const mean = new Float64Array(n), rstd = new Float64Array(n);
  const value = hostTensor<tf.Rank.R2>([n, d], (y) => {
    const xv = hostView(x), gv = hostView(g), bv = hostView(b);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += xv[o + j];
      const mu = s / d;
      let q = 0;
      for (let j = 0; j < d; j++) {
        const c = xv[o + j] - mu;
        q += c * c;
      }
      const r = 1 / Math.sqrt(q / d + LN_EPS);
      mean[i] = mu, rstd[i] = r;
      for (let j = 0; j < d; j++) y[o + j] = (xv[o + j] - mu) * r * gv[j] + bv[j];
    }
  });
  save([x, g]);
  return {
    value,
    gradFunc: (dy: tf.Tensor2D, [xs, gs]: tf.Tensor[]) => {
      const dg = new Float64Array(d), db = new Float64Array(d);
      const dx = hostTensor<tf.Rank.R2>([n, d], (o) => {
        const xv = hostView(xs), gv = hostView(gs), dyv = hostView(dy);
        for (let i = 0; i < n; i++) {
          const off = i * d, mu = mean[i], r = rstd[i];
          let m1 = 0, m2 = 0;
          for (let j = 0; j < d; j++) {
            const dyj = dyv[off + j], xh = (xv[off + j] - mu) * r, dxh = dyj * gv[j];
            m1 += dxh;
            m2 += dxh * xh;
            dg[j] += dyj * xh;
            db[j] += dyj;
          }
          m1 /= d, m2 /= d;
          for (let j = 0; j < d; j++) {
            const xh = (xv[off + j] - mu) * r;
            o[off + j] = r * (dyv[off + j] * gv[j] - m1 - xh * m2);
          }
        }
      });
      return [
        dx,
        hostTensor<tf.Rank.R1>([d], (o) => o.set(dg)),
        hostTensor<tf.Rank.R1>([d], (o) => o.set(db)),
      ];
    },
  };
}

/**
 * Embedding lookup: rows `ids` of table W [V, d] -> [ids.length, d]. Gradient: scatter-add of dy
 * into [V, d] (duplicate ids sum). Host backends copy rows in JS; others use gather and a one-hot
 * matMul.
 */
export function embedding(w: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  const [V, d] = w.shape;
  const op = customOp(
    // deno-lint-ignore no-explicit-any
    (w: tf.Tensor2D, _save: any) => {
      let value: tf.Tensor2D;
      if (isHostBackend()) {
        value = hostGatherRows(w, ids);
      } else {
        value = tf.gather(w, tf.tensor1d(ids, "int32"));
      }
      return {
        value,
        gradFunc: (dy: tf.Tensor2D) => {
          if (isHostBackend()) {
            return [hostTensor<tf.Rank.R2>([V, d], (g) => {
              const dd = hostView(dy);
              for (let t = 0; t < ids.length; t++) {
                const o = ids[t] * d, s = t * d;
                for (let j = 0; j < d; j++) g[o + j] += dd[s + j];
              }
            })];
          }
          // onehot(ids)^T dy [V, d]: a matMul, deterministic, where scatterND on webgpu sums
          // duplicate ids with float atomicAdd in a varying order.
          const onehot = tf.cast(tf.oneHot(tf.tensor1d(ids, "int32"), V), "float32"); // [n, V]
          return [tf.matMul(onehot, dy, true, false)];
        },
      };
    },
    "embedding",
  );
  return op(w) as tf.Tensor2D;
}

/**
 * Per-token cross-entropy: logits [n, V], targets (n ids) -> [n] nats. Gradient
 * (softmax - onehot) * dy.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  return isHostBackend() ? crossEntropyHost(logits, targets) : crossEntropyDevice(logits, targets);
}

/** Idiomatic tf ops (device backends): log-softmax, a one-hot mask, a row sum. */
function crossEntropyDevice(logits: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  const [n, V] = logits.shape;
  const op = customOp(
    (logits: tf.Tensor2D, save: SaveFn) => {
      const logp = tf.logSoftmax(logits) as tf.Tensor2D; // [n, V]
      // oneHot(...,'float32') is wrong on wasm: build int32 and cast.
      const onehot = () => tf.cast(tf.oneHot(tf.tensor1d(targets, "int32"), V), "float32");
      const value = tf.neg(tf.sum(tf.mul(logp, onehot()), 1)) as tf.Tensor1D; // [n]
      save([logp]);
      return {
        value,
        gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => [
          tf.mul(tf.sub(tf.exp(saved[0]), onehot()), tf.reshape(dy, [n, 1])),
        ],
      };
    },
    "crossEntropy",
  );
  return op(logits) as tf.Tensor1D;
}

/**
 * Host backends: one softmax kernel; the loss -log p[target] and the gradient p * dy - dy at the
 * target are read and written in JS. This skips the [n, V] one-hot masks, the log-softmax and the
 * backward exp (39 -> 8 ms a d_model 256 step, n 2048, V 2048 on wasm, `deno task bench:profile`).
 * Where p[target] underflows to 0 (a loss beyond ~87 nats) the row's log-sum-exp is computed
 * exactly in JS.
 */
function crossEntropyHost(logits: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  const [n, V] = logits.shape;
  const op = customOp(
    (logits: tf.Tensor2D, save: SaveFn) => {
      const p = tf.softmax(logits) as tf.Tensor2D; // [n, V]
      save([p]);
      const value = hostTensor<tf.Rank.R1>([n], (o) => {
        const pv = hostView(p);
        for (let i = 0; i < n; i++) {
          const q = pv[i * V + targets[i]];
          o[i] = q > 0 ? -Math.log(q) : exactLoss(hostView(logits), i, V, targets[i]);
        }
      });
      return {
        value,
        gradFunc: (dy: tf.Tensor1D, saved: tf.Tensor[]) => [
          hostTensor<tf.Rank.R2>([n, V], (g) => {
            const pv = hostView(saved[0]), d = hostView(dy);
            for (let i = 0; i < n; i++) {
              const r = i * V, di = d[i];
              for (let j = 0; j < V; j++) g[r + j] = pv[r + j] * di;
              g[r + targets[i]] -= di;
            }
          }),
        ],
      };
    },
    "crossEntropy",
  );
  return op(logits) as tf.Tensor1D;
}

/** log-sum-exp(row i) - row[i][target], computed in float64. */
function exactLoss(x: Float32Array, i: number, V: number, target: number): number {
  const r = i * V;
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, x[r + j]);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp(x[r + j] - max);
  return max + Math.log(sum) - x[r + target];
}

/** Identity forward, zero gradient (tfjs has no stopGradient). */
export const stopGradient: <T extends tf.Tensor>(x: T) => T = customOp(
  // deno-lint-ignore no-explicit-any
  (x: tf.Tensor, _save: any) => ({
    value: tf.clone(x),
    gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)],
  }),
  "stopGradient",
) as unknown as <T extends tf.Tensor>(x: T) => T;
