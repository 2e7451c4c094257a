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
 *
 * A fourth, moe_batched.ts, runs all experts as one batched product over an [E, capacity, d] block
 * (55 tfjs kernels per routed block whatever E, against ~40 per expert). Which of the two,
 * per-expert or batched, runs is chosen per backend by measurement (`defaultExpertPath`,
 * docs/batched-experts.md) or forced with `setExpertPath`.
 */
import * as tf from "@tensorflow/tfjs-core";
import { blasActive } from "../backend/mod.ts";
import { isHostBackend } from "../nn/mod.ts";
import type { Dispatch } from "./dispatch.ts";
import { routedFfnBatched } from "./moe_batched.ts";
import { routedFfnBlas } from "./moe_blas.ts";
import { routedFfnDevice } from "./moe_device.ts";
import { routedFfnHost } from "./moe_host.ts";

/** How the routed FFN runs its experts: one by one (moe_host/moe_device/moe_blas) or batched. */
export type ExpertPath = "per-expert" | "batched";

export const EXPERT_PATHS: readonly ExpertPath[] = ["per-expert", "batched"];

/**
 * The path each backend takes unless told otherwise, chosen by measured step time
 * (docs/batched-experts.md, `deno run -A bench/expert_dispatch.ts --time-only --backend
 * wasm,webgpu`; d_model 64, 512 tokens a step). wasm keeps the per-expert paths (batched took
 * 1.6x the step time at E = 8 and 6.6-11x at E = 64 on OpenBLAS, 2.7x and 4.4x on XNNPACK), and
 * so does cpu; their results (committed sweeps, TRAINING_CODE_VERSION 5) depend on them. webgpu
 * runs batched (0.73-0.89x the step time at E = 8 and 64, 0.70-0.76x at E = 128 on Mesa's
 * software adapter; about half the GPU dispatches a step).
 */
const DEFAULT_PATH: Record<string, ExpertPath> = {
  wasm: "per-expert",
  cpu: "per-expert",
  webgpu: "batched",
};

/** The expert path a backend (a tfjs backend name) takes by default. */
export function defaultExpertPath(backend: string = tf.getBackend()): ExpertPath {
  return DEFAULT_PATH[backend] ?? "per-expert";
}

let pathOverride: ExpertPath | undefined;

/**
 * Forces the routed FFN's expert path on every backend; `undefined` restores the per-backend
 * default. For tests that cross-check the paths and for benchmarks.
 */
export function setExpertPath(path: ExpertPath | undefined): void {
  if (path !== undefined && !EXPERT_PATHS.includes(path)) {
    throw new Error(`unknown expert path "${path}": use one of ${EXPERT_PATHS.join(", ")}`);
  }
  pathOverride = path;
}

/** The expert path the routed FFN takes now (the override, else the active backend's default). */
export function expertPath(): ExpertPath {
  return pathOverride ?? defaultExpertPath();
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
  if (expertPath() === "batched") return routedFfnBatched(h, combine, w1, w2, disp, k);
  if (blasActive()) return routedFfnBlas(h, combine, w1, w2, disp, k);
  if (isHostBackend()) return routedFfnHost(h, combine, w1, w2, disp, k);
  return routedFfnDevice(h, combine, w1, w2, disp, k);
}
