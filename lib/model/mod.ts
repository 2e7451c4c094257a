/** The routed transformer language model and its differentiable building blocks. */
export {
  type ForwardOptions,
  type ForwardResult,
  type LayerRouting,
  type ModelConfig,
  type NamedVariable,
  routerSeed,
  TransformerLM,
} from "./model.ts";
export { PendingRead, ReadCache, withReadCache } from "./readback.ts";
export { type Dispatch, dispatch, expertCapacity, routedFfn } from "./moe.ts";
export { attentionHost, attentionReference, causalAttention, causalMask } from "./attention.ts";
export {
  colSum,
  crossEntropy,
  embedding,
  gelu,
  geluBackward,
  geluForward,
  hostRows,
  hostTranspose,
  isHostBackend,
  layerNorm,
  linear,
  setHostPathOverride,
  startOpProfile,
  stopGradient,
  stopOpProfile,
  transpose2d,
  weightGrad,
} from "./ops.ts";
