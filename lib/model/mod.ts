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
export {
  attentionBlas,
  attentionHost,
  attentionReference,
  causalAttention,
  causalMask,
} from "./attention.ts";
export {
  colSum,
  crossEntropy,
  embedding,
  freshWeightRoute,
  gelu,
  geluBackward,
  geluForward,
  hostGatherRows,
  isHostBackend,
  layerNorm,
  linear,
  matMulFreshWeight,
  matMulTransB,
  setHostPathOverride,
  startOpProfile,
  stopGradient,
  stopOpProfile,
  transBRoute,
  transpose2d,
  weightGrad,
} from "./ops.ts";
export { hostColSum, hostTensor, hostTranspose2d, hostView } from "./host.ts";
