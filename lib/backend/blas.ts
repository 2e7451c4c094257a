/**
 * A native BLAS beneath tfjs-wasm: OpenBLAS's `cblas_sgemm`, called through `Deno.dlopen` on
 * views of the wasm heap (no copies).
 *
 * Why: XNNPACK's wasm matMul is capped by 128-bit SIMD without FMA (68-74 GFLOP/s on 2 threads of
 * the 2-core VM this was built on); Debian's OpenBLAS ran the model's shapes at 195-228 GFLOP/s on
 * the same 2 cores (`deno task bench:kernels`).
 *
 * How: `useBlas()` replaces the wasm backend's `BatchMatMul` and `_FusedMatMul` kernels (tfjs-core
 * lets a program re-register a backend's kernel; its gradients call the same kernels, so the
 * backward pass gains too). The project's own host routes (lib/model/ops.ts, attention) call
 * `sgemm` directly with strides and transposes, which the BLAS takes for free.
 *
 * Heap views: a view of the wasm memory is detached when the heap grows, and every tfjs
 * allocation can grow it. The kernels allocate their output first and take views after, and
 * `sgemm` takes plain Float32Array views that its callers make after their last allocation.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  BLAS_CHOICES,
  type BlasChoice,
  type Loaded,
  loadOpenBlas,
  OPENBLAS_PACKAGE,
  setBlasThreads,
  sgemm,
} from "../openblas/mod.ts";

let active = false;

/** True while the BLAS kernels are registered on the wasm backend. */
export function blasActive(): boolean {
  return active && tf.getBackend() === "wasm";
}

/** What `useBlas` chose: the library in use (or "off") and, when off, why. */
export interface BlasInfo {
  name: "openblas" | "off";
  /** The shared library loaded (its path or soname). */
  library?: string;
  /** OpenBLAS's own build description (version, kernel in use). */
  config?: string;
  /** OpenBLAS's kernel (core) name, e.g. "Haswell". */
  core?: string;
  threads?: number;
  /** Why the BLAS is off under "auto": the load error. */
  reason?: string;
}

// ---------------------------------------------------------------------------------------------
// Kernels

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}

interface WasmBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfoLike;
  typedArrayFromHeap(t: TensorInfoLike): Float32Array;
}

type KernelArgs = {
  inputs: Record<string, TensorInfoLike | undefined>;
  backend: WasmBackend;
  attrs: Record<string, unknown>;
};

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/**
 * a [..., M, K] (or [..., K, M] transposed) times b -> [batch..., M, N] with sgemm per batch entry.
 * Batch dims must be equal or one side's product 1 (what the model emits); anything else, or a
 * non-float32 operand, returns undefined and the caller falls back to XNNPACK.
 */
function blasBatchMatMul(
  backend: WasmBackend,
  a: TensorInfoLike,
  b: TensorInfoLike,
  transA: boolean,
  transB: boolean,
): TensorInfoLike | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const ra = a.shape.length, rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const M = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) return undefined; // XNNPACK's kernel raises tfjs's own message
  const outerA = a.shape.slice(0, -2), outerB = b.shape.slice(0, -2);
  const batchA = size(outerA), batchB = size(outerB);
  let outer: number[];
  if (batchA === batchB && outerA.length === outerB.length) outer = outerA;
  else if (batchB === 1) outer = outerA.length >= outerB.length ? outerA : outerB;
  else if (batchA === 1) outer = outerB.length >= outerA.length ? outerB : outerA;
  else return undefined;
  if (size(outer) !== Math.max(batchA, batchB)) return undefined;
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput([...outer, M, N], "float32");
  // Views after the last allocation: makeOutput may have grown (and detached) the heap.
  const av = backend.typedArrayFromHeap(a), bv = backend.typedArrayFromHeap(b);
  const cv = backend.typedArrayFromHeap(out);
  const lda = transA ? M : K, ldb = transB ? K : N;
  for (let i = 0; i < batch; i++) {
    const ao = batchA === 1 ? 0 : i * M * K, bo = batchB === 1 ? 0 : i * K * N;
    sgemm(
      transA,
      transB,
      M,
      N,
      K,
      1,
      av.subarray(ao, ao + M * K),
      lda,
      bv.subarray(bo, bo + K * N),
      ldb,
      0,
      cv.subarray(i * M * N, (i + 1) * M * N),
      N,
    );
  }
  return out;
}

/** Adds bias (broadcast over rows, shape [N] or [1, N] or scalar) and applies relu/linear. */
function biasActivation(
  c: Float32Array,
  rows: number,
  N: number,
  bias: Float32Array | undefined,
  activation: string,
): void {
  if (bias) {
    if (bias.length === 1) { for (let i = 0; i < c.length; i++) c[i] += bias[0]; }
    else {
      for (let r = 0; r < rows; r++) {
        const o = r * N;
        for (let j = 0; j < N; j++) c[o + j] += bias[j];
      }
    }
  }
  if (activation === "relu") { for (let i = 0; i < c.length; i++) if (c[i] < 0) c[i] = 0; }
}

const replaced: { name: string; config: tf.KernelConfig }[] = [];

function register(): void {
  if (replaced.length) return;
  const bmm = tf.getKernel("BatchMatMul", "wasm");
  const fused = tf.getKernel("_FusedMatMul", "wasm");
  if (!bmm || !fused) {
    throw new Error(
      "useBlas: the wasm backend's matMul kernels are not registered; init wasm first",
    );
  }
  const replace = (k: tf.KernelConfig, kernelFunc: (args: KernelArgs) => TensorInfoLike) => {
    tf.unregisterKernel(k.kernelName, "wasm");
    tf.registerKernel({
      ...k,
      setupFunc: undefined,
      kernelFunc: (args) => kernelFunc(args as unknown as KernelArgs) as tf.TensorInfo,
    });
  };
  /** The product of inputs a and b (transposed as attrs say) on OpenBLAS, or undefined. */
  const product = ({ inputs, backend, attrs }: KernelArgs) =>
    blasBatchMatMul(
      backend,
      inputs.a!,
      inputs.b!,
      attrs.transposeA === true,
      attrs.transposeB === true,
    );
  replace(bmm, (args) => {
    return product(args) ?? (bmm.kernelFunc(args as never) as TensorInfoLike);
  });
  replace(fused, (args) => {
    const { inputs, backend, attrs } = args;
    const activation = String(attrs.activation ?? "linear");
    const bias = inputs.bias;
    const simpleBias = !bias ||
      (bias.dtype === "float32" &&
        (size(bias.shape) === 1 ||
          size(bias.shape) === inputs.b!.shape.at(attrs.transposeB ? -2 : -1)));
    if (
      (activation === "linear" || activation === "relu") && simpleBias &&
      !inputs.preluActivationWeights
    ) {
      const out = product(args);
      if (out) {
        const N = out.shape[out.shape.length - 1];
        const c = backend.typedArrayFromHeap(out);
        const bv = bias ? backend.typedArrayFromHeap(bias) : undefined;
        biasActivation(c, c.length / N, N, bv, activation);
        return out;
      }
    }
    return fused.kernelFunc(args as never) as TensorInfoLike;
  });
  replaced.push({ name: "BatchMatMul", config: bmm }, { name: "_FusedMatMul", config: fused });
}

/** Puts XNNPACK's own kernels back (for tests that compare the two paths in one process). */
export function restoreXnnpackKernels(): void {
  for (const { name, config } of replaced.splice(0)) {
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(config);
  }
  active = false;
}

let announced = false;

/**
 * Chooses the matMul path of the wasm backend (call after `initBackend("wasm")`):
 * - "openblas": OpenBLAS or an Error naming the package to install;
 * - "auto": OpenBLAS when it loads (says so once on stderr), else XNNPACK with one line naming the
 *   package;
 * - "off": XNNPACK.
 * `threads` sets OpenBLAS's thread count.
 */
export function useBlas(choice: BlasChoice, threads: number, quiet = false): BlasInfo {
  if (!BLAS_CHOICES.includes(choice)) {
    throw new Error(`unknown --blas "${choice}": use one of ${BLAS_CHOICES.join(", ")}`);
  }
  if (choice === "off") {
    restoreXnnpackKernels();
    return { name: "off" };
  }
  if (tf.getBackend() !== "wasm") {
    if (choice === "openblas") {
      throw new Error(
        `--blas openblas needs the wasm backend (the active one is ${tf.getBackend()})`,
      );
    }
    return { name: "off", reason: `the ${tf.getBackend()} backend has its own matMul` };
  }
  let lib: Loaded;
  try {
    lib = loadOpenBlas();
  } catch (e) {
    if (choice === "openblas") throw e;
    const reason = (e as Error).message;
    if (!quiet && !announced) {
      console.error(
        `blas: OpenBLAS not available, matMuls run on XNNPACK (wasm); apt-get install -y ` +
          `${OPENBLAS_PACKAGE} for native speed`,
      );
      announced = true;
    }
    return { name: "off", reason };
  }
  const activeThreads = setBlasThreads(threads);
  register();
  active = true;
  if (!quiet && !announced) {
    console.error(`blas: matMuls on ${lib.library} (${lib.core}, ${activeThreads} thread(s))`);
    announced = true;
  }
  return {
    name: "openblas",
    library: lib.library,
    config: lib.config,
    core: lib.core,
    threads: activeThreads,
  };
}
