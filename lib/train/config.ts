/**
 * Training configuration: lib/config's plain settings with the router also given as a factory,
 * validation with clear errors, a memory estimate.
 */
import { isDenseRouter, resolveRouter, type RouterFactory } from "../routers/mod.ts";
import { BLAS_CHOICES } from "../openblas/mod.ts";
import { BACKEND_NAMES, DEFAULT_CONFIG, type PlainTrainConfig } from "../config/mod.ts";

export { type BackendName, DEFAULT_CONFIG } from "../config/mod.ts";
export { TRAINING_CODE_VERSION } from "../identity/mod.ts";

/** lib/config's PlainTrainConfig, whose router may also be a RouterFactory of your own. */
export interface TrainConfig extends Omit<PlainTrainConfig, "router"> {
  /** "dense" | "sbase" | "hash" | "rlr", or a RouterFactory of your own. */
  router: string | RouterFactory;
}

/** Bytes the wasm backend's heap can hold (4 GiB), with headroom. */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;
/**
 * wasm-heap bytes per parameter in training: weights, gradients, AdamW's two moments (in the heap
 * since the SIMD update, lib/backend/adamw_simd.ts), temporaries and allocator slack. Measured for
 * the whole heap, activations included, at d_model 256, 4 blocks, E = 64 (70M parameters) after 3
 * steps: 24 B/param with OpenBLAS (1.57 GiB), 31 with XNNPACK (2.01 GiB); 41 before the OpenBLAS
 * work with the moments outside the heap; tfjs's own Adam needed ~75. 40 keeps headroom.
 */
export const BYTES_PER_PARAM = 40;

/** Rough peak training memory in bytes: parameters plus activations kept for the backward pass. */
export function estimateMemoryBytes(c: TrainConfig, totalParams: number): number {
  const T = c.batchSize * c.seqLen;
  const act = T * c.layers * c.dModel * 40 * 4 + // residual, LN, qkv, FFN hidden, gradients
    c.batchSize * c.heads * c.seqLen * c.seqLen * c.layers * 4 * 3 + // attention probabilities
    T * c.vocabSize * 4 * 4; // logits, softmax, gradient
  return totalParams * BYTES_PER_PARAM + act;
}

/** All parameters held (embeddings included) of a config; used for the memory check. */
export function heldParameters(c: TrainConfig, routedBlocks: number): number {
  const d = c.dModel;
  const dense = c.layers * (4 * d * d + 8 * d * d + 4 * d);
  const experts = routedBlocks * ((c.experts - 1) * 8 * d * d + d * c.experts + d * d / 4);
  return dense + experts + 2 * c.vocabSize * d + c.seqLen * d + 2 * d;
}

function fail(msg: string): never {
  throw new Error(`Invalid training config: ${msg}`);
}

function posInt(name: string, v: unknown, min = 1): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    fail(`${name} = ${JSON.stringify(v)}; it must be an integer >= ${min}`);
  }
  return v;
}

function finite(name: string, v: unknown, ok: (v: number) => boolean, need: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) {
    fail(`${name} = ${JSON.stringify(v)}; it must be ${need}`);
  }
  return v;
}

/** Merges defaults and checks every field; throws an Error naming the bad field and the fix. */
export function resolveConfig(partial: Partial<TrainConfig>): TrainConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in DEFAULT_CONFIG) && key !== "capacityFactor") {
      fail(`unknown field "${key}"; valid fields: ${Object.keys(DEFAULT_CONFIG).join(", ")}`);
    }
  }
  const c: TrainConfig = { ...DEFAULT_CONFIG, ...partial };
  if (partial.routerOptions === undefined) c.routerOptions = {};
  const factory = resolveRouter(c.router); // throws listing the valid routers
  posInt("experts (E)", c.experts);
  posInt("dModel", c.dModel);
  posInt("layers", c.layers);
  posInt("heads", c.heads);
  if (c.dModel % c.heads !== 0) {
    fail(
      `dModel = ${c.dModel} is not divisible by heads = ${c.heads}; choose heads dividing dModel`,
    );
  }
  finite("routingFrequency (R)", c.routingFrequency, (v) => v > 0 && v <= 1, "in (0, 1]");
  posInt("k", c.k);
  if (c.k > c.experts) fail(`k = ${c.k} exceeds experts = ${c.experts}; use k <= experts`);
  const isDense = isDenseRouter(factory);
  if (isDense && c.experts !== 1) {
    fail(`router "dense" needs experts = 1 (got ${c.experts}); choose sbase, hash or rlr to route`);
  }
  if (!isDense && Math.floor(c.layers * c.routingFrequency + 1e-9) < 1) {
    fail(
      `layers x routingFrequency = ${c.layers} x ${c.routingFrequency} < 1: no block would be ` +
        `routed; raise layers or routingFrequency`,
    );
  }
  if (c.capacityFactor !== undefined) {
    finite("capacityFactor", c.capacityFactor, (v) => v > 0, "> 0");
  }
  if (c.evalCapacityFactor !== undefined) {
    finite(
      "evalCapacityFactor",
      c.evalCapacityFactor,
      (v) => v > 0,
      "> 0 (leave it out for no limit)",
    );
  }
  posInt("steps", c.steps);
  posInt("batchSize", c.batchSize);
  posInt("seqLen", c.seqLen, 2);
  finite("lr", c.lr, (v) => v > 0, "> 0");
  finite("lrMinRatio", c.lrMinRatio, (v) => v >= 0 && v <= 1, "in [0, 1]");
  posInt("warmupSteps", c.warmupSteps, 0);
  finite("weightDecay", c.weightDecay, (v) => v >= 0, ">= 0");
  finite("beta1", c.beta1, (v) => v >= 0 && v < 1, "in [0, 1)");
  finite("beta2", c.beta2, (v) => v >= 0 && v < 1, "in [0, 1)");
  finite("gradClip", c.gradClip, (v) => v >= 0, ">= 0 (0 = no clipping)");
  posInt("vocabSize", c.vocabSize, 257);
  finite("seed", c.seed, () => true, "a finite number");
  if (!BACKEND_NAMES.includes(c.backend)) {
    fail(`backend = ${JSON.stringify(c.backend)}; valid backends: ${BACKEND_NAMES.join(", ")}`);
  }
  posInt("threads", c.threads);
  if (!BLAS_CHOICES.includes(c.blas)) {
    fail(`blas = ${JSON.stringify(c.blas)}; valid choices: ${BLAS_CHOICES.join(", ")}`);
  }
  posInt("evalEvery", c.evalEvery, 0);
  posInt("evalBatches", c.evalBatches);
  return c;
}

/**
 * Share of the machine's memory the cpu backend may plan to fill. It keeps every tensor as a JS
 * typed array (ArrayBuffers outside V8's heap cap, not a wasm heap), so its limit is the RAM;
 * the rest is left to the OS, the corpus, V8's own heap and other processes.
 */
export const CPU_MEMORY_SHARE = 0.5;
/** AdamW's two float32 moments: on the cpu backend they share JS memory with the tensors. */
const ADAMW_BYTES_PER_PARAM = 8;

const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(1);

/**
 * Throws when the model will not fit the backend's memory: the 4 GiB wasm heap, or for the cpu
 * backend a share of the machine's RAM (`systemMemoryBytes`, default this machine's total).
 */
export function checkMemory(
  c: TrainConfig,
  routedBlocks: number,
  backend: string,
  opts: { systemMemoryBytes?: number } = {},
): void {
  if (backend !== "wasm" && backend !== "cpu") return;
  const params = heldParameters(c, routedBlocks);
  const need = `the model is too large for the ${backend} backend: ${(params / 1e6).toFixed(1)}M ` +
    `parameters need about`;
  const fixes = "use fewer experts, a smaller dModel or batch, or the webgpu backend";
  if (backend === "wasm") {
    const bytes = estimateMemoryBytes(c, params);
    if (bytes <= WASM_HEAP_BYTES * 0.9) return;
    fail(
      `${need} ${gib(bytes)} GiB in training (~${BYTES_PER_PARAM} bytes a parameter plus ` +
        `activations), over the 4 GiB wasm heap; ${fixes}`,
    );
  }
  const bytes = estimateMemoryBytes(c, params) + params * ADAMW_BYTES_PER_PARAM;
  const total = opts.systemMemoryBytes ?? Deno.systemMemoryInfo().total;
  const budget = total * CPU_MEMORY_SHARE;
  if (bytes <= budget) return;
  fail(
    `${need} ${gib(bytes)} GiB in training (~${BYTES_PER_PARAM + ADAMW_BYTES_PER_PARAM} bytes ` +
      `a parameter with AdamW's moments, plus activations), over the cpu backend's budget of ` +
      `${gib(budget)} GiB: it keeps its tensors in JS memory, so its limit is this machine's ` +
      `RAM (${gib(total)} GiB), of which training may plan to use ${CPU_MEMORY_SHARE * 100}%; ` +
      fixes,
  );
}
