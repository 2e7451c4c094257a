/**
 * Training: train() (train.ts: the run loop), one step and evaluation (step.ts), AdamW and the
 * schedule (adamw.ts), resuming and checkpoints (resume.ts, checkpoint.ts), router metrics
 * (metrics.ts), the config (config.ts). The live notebook display of a run is lib/display's
 * liveProgress: training itself loads no display code.
 */
export {
  divergenceReason,
  subSeed,
  train,
  type TrainData,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
} from "./train.ts";
export {
  evaluate,
  evaluateAsync,
  type StepOptions,
  type StepResult,
  trainStep,
  trainStepAsync,
} from "./step.ts";
export type { RouterLayerMetrics } from "./metrics.ts";
export type { CurvePoint } from "./resume.ts";
export {
  type BackendName,
  BYTES_PER_PARAM,
  checkMemory,
  CPU_MEMORY_SHARE,
  DEFAULT_CONFIG,
  estimateMemoryBytes,
  heldParameters,
  resolveConfig,
  type TrainConfig,
  TRAINING_CODE_VERSION,
  WASM_HEAP_BYTES,
} from "./config.ts";
export { AdamW, type AdamWOptions, learningRate } from "./adamw.ts";
export { checkpointFile, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
