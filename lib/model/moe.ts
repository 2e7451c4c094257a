/**
 * The routed FFN: E experts, each a full FFN (d -> d_ff -> d, GELU, no biases), top-k dispatch with
 * a capacity per expert. Dispatch is per-expert row gather/scatter (measured faster than one-hot
 * dispatch matMuls on wasm, ../shared/STACK.md): each expert runs two plain 2-D matMuls on just
 * its own tokens, and its output rows are scattered back, scaled by the combine weight.
 *
 * Capacity: C = ceil(capacityFactor * k * T / E) slots per expert. Slots are filled choice by
 * choice (all tokens' first choices, then their second choices, ...) and, within a choice, in
 * token order; a choice that finds its expert full is dropped: that token gets nothing from that
 * expert and its representation passes on through the residual connection unchanged.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  customOp,
  geluBackward,
  geluForward,
  hostGatherRows,
  isHostBackend,
  matMulFreshWeight,
  matMulTransB,
  type SaveFn,
  weightGrad,
} from "./ops.ts";
import { hostTensor, hostView } from "./host.ts";
import { blasActive } from "../backend/mod.ts";
import { routedFfnBlas } from "./moe_blas.ts";

export interface Dispatch {
  /** Per expert, the slots (t * k + j) it serves, in fill order. */
  slots: Int32Array[];
  /** Per expert, the token of each of its slots. */
  tokens: Int32Array[];
  /** Per expert, the number of choices that asked for it (before capacity). */
  requested: Int32Array;
  /** Choices dropped for capacity (of T * k, excluding index -1). */
  dropped: number;
  /** Choices with an expert (index >= 0). */
  assigned: number;
  capacity: number;
}

/** Capacity C = ceil(cf * k * T / E). */
export function expertCapacity(
  tokens: number,
  experts: number,
  k: number,
  capacityFactor: number,
): number {
  return Math.max(1, Math.ceil((capacityFactor * k * tokens) / experts));
}

/** Assigns choices to expert slots under the capacity (see the module comment for the order). */
export function dispatch(
  expertIndex: Int32Array,
  T: number,
  k: number,
  experts: number,
  capacity: number,
): Dispatch {
  if (expertIndex.length !== T * k) {
    throw new Error(
      `router returned ${expertIndex.length} expert indices; expected tokens x k = ${T * k}`,
    );
  }
  const lists: number[][] = Array.from({ length: experts }, () => []);
  const requested = new Int32Array(experts);
  let dropped = 0, assigned = 0;
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < T; t++) {
      const s = t * k + j;
      const e = expertIndex[s];
      if (e < 0) continue;
      if (e >= experts || !Number.isInteger(e)) {
        throw new Error(
          `router chose expert ${e} for token ${t}; valid experts are 0..${experts - 1}`,
        );
      }
      assigned++;
      requested[e]++;
      if (lists[e].length < capacity) lists[e].push(s);
      else dropped++;
    }
  }
  const slots = lists.map((l) => Int32Array.from(l));
  const tokens = slots.map((sl) => sl.map((s) => Math.floor(s / k)));
  return { slots, tokens, requested, dropped, assigned, capacity };
}

/**
 * The arguments tfjs passes a routed FFN's custom op: h, the combine weights (when given), the E
 * first-layer weights, the E second-layer weights, then tfjs's `save`.
 */
// deno-lint-ignore no-explicit-any
export function ffnArgs(args: any[], hasC: boolean, E: number): {
  hIn: tf.Tensor2D;
  cIn: tf.Tensor2D | null;
  W1: tf.Tensor2D[];
  W2: tf.Tensor2D[];
  save: SaveFn;
} {
  const off = hasC ? 2 : 1;
  return {
    hIn: args[0] as tf.Tensor2D,
    cIn: hasC ? (args[1] as tf.Tensor2D) : null,
    W1: args.slice(off, off + E) as tf.Tensor2D[],
    W2: args.slice(off + E, off + 2 * E) as tf.Tensor2D[],
    save: args[args.length - 1] as SaveFn,
  };
}

/**
 * y = sum over kept choices (t, j) of combine[t, j] * FFN_e(h[t]), e = the choice's expert.
 * h [T, d]; combine [T, k] or null (weight 1); w1[e] [d, dff]; w2[e] [dff, d]. -> [T, d]
 */
export function routedFfn(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  disp: Dispatch,
  k: number,
): tf.Tensor2D {
  if (blasActive()) return routedFfnBlas(h, combine, w1, w2, disp, k);
  const E = w1.length;
  const [T, d] = h.shape;
  const hasC = combine !== null;
  const host = isHostBackend();
  const op = customOp(
    // deno-lint-ignore no-explicit-any
    (...args: any[]) => {
      const { hIn, cIn, W1, W2, save } = ffnArgs(args, hasC, E);
      // Tensors the backward pass needs, saved through tfjs (the forward runs inside tf.tidy, and
      // saving copies): per used expert X, H, A, Y at slot[e] .. slot[e] + 3, and the combine
      // weights last. The expert weights are not saved: copying them cost 268 MB of memory
      // traffic a step at E = 64, d 256; they are read in place and must outlive the backward
      // pass, as variables do (checked there).
      const keep: tf.Tensor[] = [];
      const slot = new Int32Array(E).fill(-1);
      let outT: tf.Tensor2D | null = host ? null : tf.zeros([T, d]);
      for (let e = 0; e < E; e++) {
        const n = disp.tokens[e].length;
        if (n === 0) continue;
        const x = host
          ? hostGatherRows(hIn, disp.tokens[e])
          : tf.gather(hIn, tf.tensor1d(disp.tokens[e], "int32")) as tf.Tensor2D; // [n, d]
        const hh = matMulFreshWeight(x, W1[e]); // [n, dff]
        const a = geluForward(hh) as tf.Tensor2D; // [n, dff]
        const y = matMulFreshWeight(a, W2[e]); // [n, d]
        slot[e] = keep.length;
        keep.push(x, hh, a, y);
        if (!host) {
          const scaled = cIn
            ? tf.mul(
              y,
              tf.reshape(tf.gather(tf.reshape(cIn, [T * k]), tf.tensor1d(disp.slots[e], "int32")), [
                n,
                1,
              ]),
            )
            : y;
          const idx = tf.tensor2d(disp.tokens[e], [n, 1], "int32");
          outT = tf.add(outT!, tf.scatterND(idx, scaled, [T, d])) as tf.Tensor2D;
        }
      }
      // Host: one pass that scatter-adds every expert's rows, scaled, into the heap output.
      const value = host
        ? hostTensor<tf.Rank.R2>([T, d], (out) => {
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
        })
        : outT!;
      if (cIn) keep.push(cIn);
      save(keep);
      return {
        value,
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
          const dW1: tf.Tensor[] = [], dW2: tf.Tensor[] = [];
          const dXs: (tf.Tensor | null)[] = []; // host: per expert dX [n, d], summed at the end
          const dc = host && hasC ? new Float32Array(T * k) : null;
          let dhT: tf.Tensor2D | null = host ? null : tf.zeros([T, d]);
          let dcT: tf.Tensor1D | null = !host && hasC ? tf.zeros([T * k]) : null;
          for (let e = 0; e < E; e++) {
            const n = disp.tokens[e].length;
            if (n === 0) {
              dW1.push(tf.zeros(W1[e].shape)), dW2.push(tf.zeros(W2[e].shape));
              dXs.push(null);
              continue;
            }
            const sl = disp.slots[e], tk = disp.tokens[e];
            const [X, H, A, Y] = saved.slice(slot[e], slot[e] + 4) as tf.Tensor2D[];
            const w1e = W1[e], w2e = W2[e];
            if (w1e.isDisposed || w2e.isDisposed) {
              throw new Error(
                "routedFfn: an expert weight was disposed before the backward pass; pass " +
                  "variables (or tensors that live until the gradients are computed)",
              );
            }
            let dY: tf.Tensor2D; // [n, d]: gradient wrt this expert's unscaled outputs
            if (host) {
              const cs = hasC ? saved[saved.length - 1] : null;
              dY = hostTensor<tf.Rank.R2>([n, d], (g) => {
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
            } else {
              const g = tf.gather(dy, tf.tensor1d(tk, "int32")) as tf.Tensor2D;
              if (cIn) {
                const slT = tf.tensor1d(sl, "int32");
                const cs = saved[saved.length - 1];
                const c = tf.reshape(tf.gather(tf.reshape(cs, [T * k]), slT), [n, 1]);
                const dot = tf.sum(tf.mul(g, Y), 1); // [n]
                dcT = tf.add(
                  dcT!,
                  tf.scatterND(tf.reshape(slT, [n, 1]), dot, [T * k]),
                ) as tf.Tensor1D;
                dY = tf.mul(g, c) as tf.Tensor2D;
              } else dY = g;
            }
            const dA = matMulTransB(dY, w2e); // [n, dff]
            dW2.push(weightGrad(A, dY)); // [dff, d]
            const dH = geluBackward(H, dA) as tf.Tensor2D; // [n, dff]
            dW1.push(weightGrad(X, dH)); // [d, dff]
            const dX = matMulTransB(dH, w1e); // [n, d]
            if (host) dXs.push(dX);
            else {
              const idx = tf.tensor2d(tk, [n, 1], "int32");
              dhT = tf.add(dhT!, tf.scatterND(idx, dX, [T, d])) as tf.Tensor2D;
            }
          }
          const dh = host
            ? hostTensor<tf.Rank.R2>([T, d], (out) => {
              for (let e = 0; e < E; e++) {
                if (!dXs[e]) continue;
                const dxd = hostView(dXs[e]!), tk = disp.tokens[e];
                for (let m = 0; m < tk.length; m++) {
                  const o = tk[m] * d, src = m * d;
                  for (let j = 0; j < d; j++) out[o + j] += dxd[src + j];
                }
              }
            })
            : dhT!;
          const grads: tf.Tensor[] = [dh];
          if (hasC) grads.push(host ? tf.tensor2d(dc!, [T, k]) : tf.reshape(dcT!, [T, k]));
          return [...grads, ...dW1, ...dW2];
        },
      };
    },
    "routedFfn",
  );
  const inputs: tf.Tensor[] = [h];
  if (combine) inputs.push(combine);
  return op(...inputs, ...w1, ...w2) as tf.Tensor2D;
}
