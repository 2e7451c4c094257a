/**
 * The routed FFN: E experts, each a full FFN (d -> d_ff -> d, GELU, no biases), top-k dispatch with
 * a capacity per expert (dispatch.ts). Each expert runs two plain 2-D matMuls on just its own
 * tokens (per-expert row gather/scatter: measured faster than one-hot dispatch matMuls on wasm,
 * docs/stack.md), and its output rows are scattered back, scaled by the combine weight.
 *
 * Three implementations of the same maths, one per backend kind:
 * - moe_blas.ts: wasm with OpenBLAS; every expert's rows in one packed block, sgemm per expert;
 * - moe_host.ts: wasm with XNNPACK, and cpu; rows copied in JS over views of tensor memory;
 * - moe_device.ts: webgpu; tf.gather / tf.scatterND, nothing read back.
 * The per-expert maths and the custom-op frame they share are in expert.ts.
 */
import type * as tf from "@tensorflow/tfjs-core";
import { blasActive } from "../backend/mod.ts";
import { isHostBackend } from "../nn/mod.ts";
import type { Dispatch } from "./dispatch.ts";
import { routedFfnBlas } from "./moe_blas.ts";
import { routedFfnDevice } from "./moe_device.ts";
import { routedFfnHost } from "./moe_host.ts";

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
  if (isHostBackend()) return routedFfnHost(h, combine, w1, w2, disp, k);
  return routedFfnDevice(h, combine, w1, w2, disp, k);
}
