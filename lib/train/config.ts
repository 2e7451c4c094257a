/** Training configuration: defaults, validation with clear errors, a memory estimate. */
import { resolveRouter, type RouterFactory } from "../routers/mod.ts";
import { BLAS_CHOICES, type BlasChoice } from "../backend/openblas.ts";

export type BackendName = "auto" | "wasm" | "cpu" | "webgpu";

/**
 * Version of what a config trains to. Bump it whenever a change to lib/model, lib/routers,
 * lib/train or lib/corpus changes the result of a config (an init, a default, a router's
 * behaviour, the tokenizer): sweeps key runs by a hash of the config AND this version, so results
 * made by older code are retrained instead of silently reused. 2: S-BASE Sinkhorn temperature 0.1.
 * 3: host-backend cross-entropy from one softmax kernel, GELU backward fused in JS, OpenBLAS
 * matMuls (last-bit differences on wasm and cpu). 4: S-BASE temperature 1; RL-R's new defaults
 * (lib/routers/rlr.ts), its baseline on batch-centred rewards and clipped on its own.
 */
export const TRAINING_CODE_VERSION = 4;

export interface TrainConfig {
  /** "dense" | "sbase" | "hash" | "rlr", or a RouterFactory of your own. */
  router: string | RouterFactory;
  /** Options passed to the router (e.g. sbase: tolerance; rlr: policyWeight). */
  routerOptions: Record<string, unknown>;
  /** Experts per routed block (1 with router "dense"). */
  experts: number;
  dModel: number;
  layers: number;
  heads: number;
  /** Fraction R of blocks that are routed, in (0, 1]. */
  routingFrequency: number;
  /** Experts per token. */
  k: number;
  /** Expert capacity factor; undefined = the router's default (2 for the built-in routers). */
  capacityFactor?: number;
  steps: number;
  /** Sequences per batch. */
  batchSize: number;
  seqLen: number;
  /** Peak learning rate (after linear warmup; cosine decay to lrMinRatio x lr at `steps`). */
  lr: number;
  lrMinRatio: number;
  warmupSteps: number;
  /** AdamW decoupled weight decay on weight matrices (not LayerNorm gains/offsets). */
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** Global gradient-norm clip (0 = off). */
  gradClip: number;
  vocabSize: number;
  seed: number;
  backend: BackendName;
  /**
   * Threads: OpenBLAS's when it runs the matMuls, else XNNPACK's (1 = single-threaded build).
   * A fixed count gives the same losses bit for bit (test/blas.test.ts); OpenBLAS on 1 and on 2
   * threads can differ in the last bits (seen at d_model 128), XNNPACK does not. Sweep runs use 1.
   */
  threads: number;
  /**
   * wasm matMuls: "auto" = OpenBLAS when the library loads, "openblas" = required, "off" =
   * XNNPACK. OpenBLAS and XNNPACK round differently: losses agree to float32 rounding, not bit for
   * bit, so sweeps key runs by the resolved choice.
   */
  blas: BlasChoice;
  /** Evaluate every this many steps (and always at the end); 0 = only at the end. */
  evalEvery: number;
  /** Evaluation batches per stream (the whole validation split and each source). */
  evalBatches: number;
}

export const DEFAULT_CONFIG: TrainConfig = {
  router: "dense",
  routerOptions: {},
  experts: 1,
  dModel: 64,
  layers: 2,
  heads: 4,
  routingFrequency: 0.5,
  k: 1,
  capacityFactor: undefined,
  steps: 100,
  batchSize: 8,
  seqLen: 128,
  lr: 2e-3,
  lrMinRatio: 0.1,
  warmupSteps: 10,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  gradClip: 1,
  vocabSize: 2048,
  seed: 1,
  backend: "auto",
  threads: 1,
  blas: "auto",
  evalEvery: 50,
  evalBatches: 4,
};

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
  const label = factory.countingLabel ?? "custom";
  if (label === "Dense" && c.experts !== 1) {
    fail(`router "dense" needs experts = 1 (got ${c.experts}); choose sbase, hash or rlr to route`);
  }
  if (label !== "Dense" && Math.floor(c.layers * c.routingFrequency + 1e-9) < 1) {
    fail(
      `layers x routingFrequency = ${c.layers} x ${c.routingFrequency} < 1: no block would be ` +
        `routed; raise layers or routingFrequency`,
    );
  }
  if (c.capacityFactor !== undefined) {
    finite("capacityFactor", c.capacityFactor, (v) => v > 0, "> 0");
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
  if (!["auto", "wasm", "cpu", "webgpu"].includes(c.backend)) {
    fail(`backend = ${JSON.stringify(c.backend)}; valid backends: auto, wasm, cpu, webgpu`);
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
