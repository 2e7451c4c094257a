/** Training: train() (AdamW, warmup + cosine, clipping, evaluation, checkpoints, router metrics). */
export {
  evaluate,
  evaluateAsync,
  type RouterLayerMetrics,
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
