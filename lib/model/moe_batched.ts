/**
 * The routed FFN with every expert in one batched product (issue 11, item 3): the kept choices are
 * gathered into one block X [E, C, d] (C = the dispatch's capacity, so the block's shape depends
 * only on the step's shape, never on the routing), the expert FFNs run as two rank-3 matMuls
 * against the expert weights stacked inside the op (W1 [E, d, dff], W2 [E, dff, d]), and each
 * token gathers its kept choices' rows back, scaled by their combine weights. A routed block then
 * runs 55 tfjs kernels, forward and backward, whatever E, against ~40 per expert on the per-expert
 * device path (bench/expert_dispatch.ts counts them); what stays O(E) on webgpu is stacking the
 * weights (a Concat dispatch per 7 experts) and splitting their gradients back into the model's
 * per-expert variables (a Slice dispatch each; docs/batched-experts.md).
 *
 * Padding rows: an expert with n < C rows gets zero rows in its free slots (they gather the zero
 * row appended to h), whose outputs are exactly zero (gelu(0) = 0); a dropped choice gathers the
 * zero row appended to the block's output, so its token gets nothing from that expert, as in the
 * per-expert path. No row is scattered: every sum is a gather, so the result does not depend on
 * the order of atomic adds. Same maths as moe_host.ts / moe_device.ts to float32 rounding
 * (test/model.test.ts checks values and gradients against them).
 */
import * as tf from "@tensorflow/tfjs-core";
import { geluBackward, geluForward } from "../nn/mod.ts";
import type { Dispatch } from "./dispatch.ts";
import { assertWeightsLive, ffnOp } from "./expert.ts";

/** The index maps of a dispatch laid out in an [E, C] block (pads point at appended zero rows). */
export interface BlockIndex {
  /** Block row e * C + m -> its token, or T (the zero row appended to h) if free. [E * C] */
  rowToken: Int32Array;
  /** Block row -> its choice t * k + j, or T * k (an appended zero row) for a free slot. [E * C] */
  rowChoice: Int32Array;
  /** Choice t * k + j -> its block row, or E * C (an appended zero row) when dropped. [T * k] */
  choiceRow: Int32Array;
}

/** Lays a dispatch out in the [E, C] block (C = disp.capacity); see BlockIndex. */
export function blockIndex(disp: Dispatch, T: number, k: number): BlockIndex {
  const E = disp.tokens.length, C = disp.capacity;
  const rowToken = new Int32Array(E * C).fill(T);
  const rowChoice = new Int32Array(E * C).fill(T * k);
  const choiceRow = new Int32Array(T * k).fill(E * C);
  for (let e = 0; e < E; e++) {
    const tk = disp.tokens[e], sl = disp.slots[e];
    if (tk.length > C) {
      throw new Error(`expert ${e} holds ${tk.length} rows, over the capacity ${C}`);
    }
    for (let m = 0; m < tk.length; m++) {
      const r = e * C + m;
      rowToken[r] = tk[m];
      rowChoice[r] = sl[m];
      choiceRow[sl[m]] = r;
    }
  }
  return { rowToken, rowChoice, choiceRow };
}

/** x [n, d] with one zero row appended -> [n + 1, d]. */
function withZeroRow(x: tf.Tensor2D): tf.Tensor2D {
  return tf.pad(x, [[0, 1], [0, 0]]);
}

/**
 * rows [T * k, d] (choice t * k + j at row t * k + j), each scaled by its combine weight c [T, k]
 * (null: weight 1) and summed over the k choices of its token -> [T, d].
 */
function combineRows(rows: tf.Tensor2D, c: tf.Tensor2D | null, T: number, k: number) {
  const d = rows.shape[1];
  if (k === 1) return (c ? tf.mul(rows, c) : rows) as tf.Tensor2D;
  const r3 = tf.reshape(rows, [T, k, d]);
  return tf.sum(c ? tf.mul(r3, tf.reshape(c, [T, k, 1])) : r3, 1) as tf.Tensor2D;
}

/**
 * x [E, n, a] times the per-expert weights stacked, W [E, a, b] (or W^T with `transW`), each
 * expert's rows by its own weight. The stack is freed at once: with the unstacked gradients below,
 * a backward pass holds at most one stacked copy of a block's expert weights beyond the model's.
 */
function matMulStacked(x: tf.Tensor3D, w: tf.Tensor2D[], transW: boolean): tf.Tensor3D {
  const ws = tf.stack(w) as tf.Tensor3D;
  const y = tf.matMul(x, ws, false, transW) as tf.Tensor3D;
  ws.dispose();
  return y;
}

/** [E, r, c] -> E tensors [r, c], freeing the stacked one. */
function unstackFreeing(x: tf.Tensor3D): tf.Tensor2D[] {
  const parts = tf.unstack(x) as tf.Tensor2D[];
  x.dispose();
  return parts;
}

let tensorLimitOverride: number | undefined;

/**
 * Sets the largest tensor (bytes) the batched path may make, in place of the adapter's limit
 * (`undefined` restores it): for tests of the expert groups.
 */
export function setBatchedTensorLimit(bytes: number | undefined): void {
  if (bytes !== undefined && !(bytes > 0)) {
    throw new Error(`batched tensor limit ${bytes}: give a positive number of bytes, or undefined`);
  }
  tensorLimitOverride = bytes;
}

/**
 * The largest tensor (bytes) the batched path makes: on webgpu the device's max storage binding
 * (wgpu caps it at 2 GiB - 1) and max buffer size; elsewhere 2 GiB - 1.
 */
function tensorLimit(): number {
  if (tensorLimitOverride !== undefined) return tensorLimitOverride;
  const limits = (tf.backend() as {
    device?: { limits?: { maxStorageBufferBindingSize?: number; maxBufferSize?: number } };
  }).device?.limits;
  return Math.min(
    limits?.maxStorageBufferBindingSize ?? 2 ** 31 - 1,
    limits?.maxBufferSize ?? 2 ** 31 - 1,
  );
}

/** The dispatch of experts [from, to) alone (the others' choices count as dropped here). */
function subDispatch(disp: Dispatch, from: number, to: number): Dispatch {
  return { ...disp, slots: disp.slots.slice(from, to), tokens: disp.tokens.slice(from, to) };
}

/**
 * See moe.ts's routedFfn: h [T, d], combine [T, k] or null, w1[e] [d, dff], w2[e] [dff, d].
 *
 * The stacked weights [E, d, dff] and the block's hidden layer [E, C, dff] grow with E; where one
 * of them would pass the largest buffer the adapter binds (tensorLimit), the experts run in
 * groups, each group one batched product, and the groups' outputs are summed (each kept choice
 * lies in one group; the other groups add exact zeros for it).
 */
export function routedFfnBatched(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  disp: Dispatch,
  k: number,
): tf.Tensor2D {
  const E = w1.length, d = h.shape[1], dff = w1[0].shape[1];
  const bytesPerExpert = 4 * Math.max(d * dff, disp.capacity * dff);
  const group = Math.max(1, Math.floor(tensorLimit() / bytesPerExpert));
  if (group >= E) return batchedGroup(h, combine, w1, w2, disp, k);
  let out: tf.Tensor2D | null = null;
  for (let from = 0; from < E; from += group) {
    const to = Math.min(E, from + group);
    const part = batchedGroup(
      h,
      combine,
      w1.slice(from, to),
      w2.slice(from, to),
      subDispatch(disp, from, to),
      k,
    );
    out = out ? tf.add(out, part) : part;
  }
  return out!;
}

/** A group of experts (all, unless routedFfnBatched splits them) as one batched product. */
function batchedGroup(
  h: tf.Tensor2D,
  combine: tf.Tensor2D | null,
  w1: tf.Tensor2D[],
  w2: tf.Tensor2D[],
  disp: Dispatch,
  k: number,
): tf.Tensor2D {
  const E = w1.length, C = disp.capacity;
  const [T, d] = h.shape;
  const ix = blockIndex(disp, T, k);
  return ffnOp(h, combine, w1, w2, ({ h: hIn, combine: cIn, w1: W1, w2: W2, save }) => {
    const rowToken = tf.tensor1d(ix.rowToken, "int32");
    const rowChoice = tf.tensor1d(ix.rowChoice, "int32");
    const choiceRow = tf.tensor1d(ix.choiceRow, "int32");
    const X = tf.reshape(tf.gather(withZeroRow(hIn), rowToken), [E, C, d]) as tf.Tensor3D;
    const H = matMulStacked(X, W1, false); // [E, C, dff]
    const A = geluForward(H) as tf.Tensor3D; // [E, C, dff]
    const Y = matMulStacked(A, W2, false); // [E, C, d]
    // G [T * k, d]: each choice's (unscaled) expert output row, zero when dropped
    const G = tf.gather(withZeroRow(tf.reshape(Y, [E * C, d])), choiceRow) as tf.Tensor2D;
    const value = combineRows(G, cIn, T, k);
    // The stacked weights are not saved (they would double the expert weights' memory until the
    // backward pass); the backward pass stacks the variables again.
    const keep = [X, H, A, G, rowToken, rowChoice, choiceRow];
    save(cIn ? [...keep, cIn] : keep);
    return {
      value,
      gradFunc: (dy, saved) => {
        assertWeightsLive([...W1, ...W2]);
        const [Xs, Hs, As, Gs] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor2D];
        const [tokS, choiceS, rowS] = saved.slice(4, 7) as tf.Tensor1D[];
        const cs = cIn ? saved[7] as tf.Tensor2D : null;
        let dc: tf.Tensor2D | null = null;
        // dY [E, C, d]: the gradient of each block row's unscaled output, dy at its token times
        // its combine weight (zero in free slots)
        let dYflat: tf.Tensor2D;
        if (cs) {
          // dcombine[t, j] = dy[t] . G[t * k + j]
          const dy3 = tf.reshape(dy, [T, 1, d]);
          dc = tf.sum(tf.mul(tf.reshape(Gs, [T, k, d]), dy3), 2) as tf.Tensor2D; // [T, k]
          const dG = tf.reshape(tf.mul(dy3, tf.reshape(cs, [T, k, 1])), [T * k, d]) as tf.Tensor2D;
          dYflat = tf.gather(withZeroRow(dG), choiceS) as tf.Tensor2D;
        } else {
          dYflat = tf.gather(withZeroRow(dy), tokS) as tf.Tensor2D;
        }
        const dY = tf.reshape(dYflat, [E, C, d]) as tf.Tensor3D;
        const dA = matMulStacked(dY, W2, true); // [E, C, dff]
        const dW2 = unstackFreeing(tf.matMul(As, dY, true, false)); // E x [dff, d]
        const dH = geluBackward(Hs, dA) as tf.Tensor3D; // [E, C, dff]
        dA.dispose();
        const dW1 = unstackFreeing(tf.matMul(Xs, dH, true, false)); // E x [d, dff]
        const dX = matMulStacked(dH, W1, true); // [E, C, d]
        // dh [T, d]: each token's kept choices' dX rows, summed
        const dh = combineRows(
          tf.gather(withZeroRow(tf.reshape(dX, [E * C, d])), rowS) as tf.Tensor2D,
          null,
          T,
          k,
        );
        return { dh, dc, dW1, dW2 };
      },
    };
  });
}
