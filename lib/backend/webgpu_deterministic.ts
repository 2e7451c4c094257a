/**
 * Deterministic matMuls on tfjs-webgpu 4.22.
 *
 * For a matMul with a long inner dimension (K >= 2000) and a small output (few 32x32 tiles),
 * tfjs-webgpu picks its "split-K" program, which sums the K chunks with float atomicAdd: the sum
 * order, and so the last bits of the result, change from run to run. Weight gradients over many
 * tokens and the unembedding's input gradient (K = vocabulary size) take that path, and a resumed
 * run then differs from an uninterrupted one. `useDeterministicMatMul` wraps the webgpu
 * BatchMatMul and _FusedMatMul kernels so that exactly those calls run tfjs-webgpu's
 * "small output size" program instead (same tiles, no atomics); every other call keeps tfjs's own
 * choice. The choice below mirrors batchMatMulImpl in tfjs-backend-webgpu 4.22.
 */
import * as tf from "@tensorflow/tfjs-core";

const PROGRAM_FLAG = "WEBGPU_MATMUL_PROGRAM_TYPE";
const SMALL_OUTPUT_SIZE_PROGRAM = 2; // MatMulProgramType.MatMulSmallOutputSizeProgram
let wrapped = false;

/** Whether tfjs-webgpu 4.22 would run this matMul with its split-K (atomicAdd) program. */
export function wouldSplitK(
  aShape: number[],
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
  threshold: number,
): boolean {
  const ra = aShape.length, rb = bShape.length;
  const inner = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const M = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const N = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  const batch = Math.max(
    aShape.slice(0, -2).reduce((x, y) => x * y, 1),
    bShape.slice(0, -2).reduce((x, y) => x * y, 1),
  );
  const tiles = batch * Math.ceil(M / 32) * Math.ceil(N / 32);
  const few = tiles <= threshold || (M <= 8 && tiles <= threshold * 2);
  return few && batch * M * N > 128 && batch === 1 && inner >= 2000;
}

/** Makes the webgpu backend's matMuls deterministic (idempotent; call after it is registered). */
export function useDeterministicMatMul(): void {
  if (wrapped) return;
  for (const name of ["BatchMatMul", "_FusedMatMul"]) {
    const k = tf.getKernel(name, "webgpu");
    if (!k) continue;
    const inner = k.kernelFunc;
    tf.unregisterKernel(name, "webgpu");
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
        const { transposeA, transposeB } = args.attrs as {
          transposeA: boolean;
          transposeB: boolean;
        };
        const env = tf.env();
        const backend = args.backend as unknown as { thresholdToIncreaseWorkgroups?: number };
        const flag = env.getNumber("WEBGPU_THRESHOLD_TO_INCREASE_WORKGROUPS_FOR_MATMUL");
        const threshold = flag > 0 ? flag : backend.thresholdToIncreaseWorkgroups ?? 8;
        if (
          env.getNumber(PROGRAM_FLAG) >= 0 ||
          !wouldSplitK(a.shape, b.shape, transposeA, transposeB, threshold)
        ) return inner(args);
        env.set(PROGRAM_FLAG, SMALL_OUTPUT_SIZE_PROGRAM);
        try {
          return inner(args);
        } finally {
          env.set(PROGRAM_FLAG, -1);
        }
      },
    });
  }
  wrapped = true;
}
