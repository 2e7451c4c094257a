/** Training: train() (AdamW, warmup + cosine, clipping, evaluation, checkpoints, router metrics). */
export {
  divergenceReason,
  evaluate,
  evaluateAsync,
  type RouterLayerMetrics,
  type StepResult,
  subSeed,
  train,
  type TrainData,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  trainStep,
  trainStepAsync,
} from "./train.ts";
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
export { type LiveOptions, liveProgress, lossChartSvg } from "./live.ts";
