/**
 * A training run's settings as plain data: their types, the defaults and the backend names. A
 * leaf that loads no tensor library, so that the sweep (lib/sweep) and the run identity can name
 * and key runs without the training stack. lib/train adds what needs it: a router given as a
 * factory of your own, validation against the routers, memory checks.
 */
import type { BlasChoice } from "../openblas/mod.ts";

/** tfjs backends: "auto" (webgpu on a hardware GPU, else wasm), "wasm", "cpu", "webgpu". */
export type BackendName = "auto" | "wasm" | "cpu" | "webgpu";
export const BACKEND_NAMES: readonly BackendName[] = ["auto", "wasm", "cpu", "webgpu"];

/**
 * The settings of one training run with the router given by name, so that a config is plain JSON
 * (lib/train's TrainConfig also takes a RouterFactory; lib/sweep's RunConfig is this one).
 */
export interface PlainTrainConfig {
  /** Router by name as lib/routers resolves it: "dense", "sbase", "hash", "rlr" ("S-Base", ...). */
  router: string;
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
  /**
   * Capacity factor at evaluation; undefined (the default, and every sweep's) = no limit, nothing
   * dropped. Set it to the training factor to score a model as code versions <= 5 did, and so
   * measure what capacity drops at evaluation cost.
   */
  evalCapacityFactor?: number;
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

/** The defaults of a single training run (lib/train's resolveConfig fills the fields left out). */
export const DEFAULT_CONFIG: PlainTrainConfig = {
  router: "dense",
  routerOptions: {},
  experts: 1,
  dModel: 64,
  layers: 2,
  heads: 4,
  routingFrequency: 0.5,
  k: 1,
  capacityFactor: undefined,
  evalCapacityFactor: undefined,
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
