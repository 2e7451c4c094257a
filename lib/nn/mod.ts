/**
 * Tensor building blocks with hand-written gradients, shared by the model (lib/model) and the
 * routers (lib/routers): below both, importing neither. `linear`, `gelu`, `layerNorm`,
 * `embedding`, `crossEntropy`, `stopGradient` (ops.ts), the measured matMul routes of the backward
 * passes, and zero-copy views of tensor memory on the host backends wasm and cpu (host.ts).
 */
export {
  colSum,
  crossEntropy,
  customOp,
  type CustomOpResult,
  embedding,
  freshWeightRoute,
  gelu,
  GELU_K,
  geluBackward,
  geluForward,
  hostGatherRows,
  isHostBackend,
  layerNorm,
  linear,
  LN_EPS,
  matMulFreshWeight,
  matMulTransB,
  type SaveFn,
  setHostPathOverride,
  startOpProfile,
  stopGradient,
  stopOpProfile,
  transBRoute,
  transpose2d,
  weightGrad,
} from "./ops.ts";
export { hostColSum, hostTensor, hostTranspose2d, hostView } from "./host.ts";
