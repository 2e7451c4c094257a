/**
 * The routed transformer language model: the model (model.ts), routed FFNs (moe.ts: dispatch and
 * capacity in dispatch.ts; the host, device and OpenBLAS paths in moe_host.ts, moe_device.ts,
 * moe_blas.ts, all experts in one batched product in moe_batched.ts), attention (attention.ts) and the routers' read-back replay on webgpu
 * (readback.ts). Its tensor building blocks (linear, gelu, layerNorm, ...) are lib/nn's.
 */
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
export { type Dispatch, dispatch, expertCapacity } from "./dispatch.ts";
export {
  defaultExpertPath,
  EXPERT_PATHS,
  type ExpertPath,
  expertPath,
  routedFfn,
  setExpertPath,
} from "./moe.ts";
export { type BlockIndex, blockIndex, setBatchedTensorLimit } from "./moe_batched.ts";
export {
  attentionBlas,
  attentionHost,
  attentionReference,
  causalAttention,
  causalMask,
} from "./attention.ts";
