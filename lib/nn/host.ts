/**
 * Zero-copy access to tensor memory on the host backends (wasm, cpu).
 *
 * Why: `dataSync()` copies into a fresh ArrayBuffer, and a fresh large buffer costs a page fault
 * per 4 KiB on first touch (measured ~10 us each on the 2-core VM this was built on: a new 8 MB
 * Float32Array costs 20 ms to fill, a reused one 0.1 ms). The wasm heap, by contrast, is reused
 * by tfjs's allocator step after step. So the host code paths read tensors through views of the
 * heap (`hostView`) and write results straight into newly allocated heap tensors (`hostTensor`).
 *
 * Rules (enforced by nothing but these comments and the tests):
 * - A view is valid only until the next tfjs allocation: growing the wasm heap detaches it.
 *   Take views after allocating, use them, and take them again after any tf call.
 * - Views of existing tensors are read-only: tensors are immutable, and tfjs-wasm's matMul caches
 *   packed weights by tensor id, so writing into a tensor that was a matMul operand would leave a
 *   stale copy behind.
 */
import * as tf from "@tensorflow/tfjs-core";

interface WasmBackendLike {
  typedArrayFromHeap(t: { shape: number[]; dtype: string; dataId: object }): Float32Array;
  makeOutput(
    shape: number[],
    dtype: "float32",
  ): { dataId: object; shape: number[]; dtype: "float32" };
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: Float32Array } };
}

/** A read-only Float32 view of a float32 tensor's values (wasm heap or the cpu backend's array). */
export function hostView(t: tf.Tensor): Float32Array {
  if (t.dtype !== "float32") throw new Error(`hostView needs a float32 tensor, got ${t.dtype}`);
  const name = tf.getBackend();
  if (name === "wasm") {
    return (tf.backend() as unknown as WasmBackendLike).typedArrayFromHeap(t as never);
  }
  if (name === "cpu") {
    const values = (tf.backend() as unknown as CpuBackendLike).data.get(t.dataId).values;
    if (values instanceof Float32Array) return values;
  }
  return t.dataSync() as Float32Array; // a copy (device backends; not used on hot paths)
}

/**
 * A new float32 tensor of `shape`, zero-initialised, whose values `fill` writes in place. On wasm
 * the tensor lives in the reused heap (no fresh JS buffer); `fill` gets a view that is valid for
 * the duration of the call, during which it must not call tf.
 */
export function hostTensor<R extends tf.Rank = tf.Rank>(
  shape: number[],
  fill: (out: Float32Array) => void,
): tf.Tensor<R> {
  if (tf.getBackend() === "wasm") {
    const backend = tf.backend() as unknown as WasmBackendLike;
    const info = backend.makeOutput(shape, "float32");
    const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
    const view = backend.typedArrayFromHeap(t as never);
    view.fill(0); // the heap block is reused memory
    fill(view);
    return t;
  }
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(out);
  return tf.tensor(out, shape as number[] as never) as tf.Tensor<R>;
}

/** Row-major [rows, cols] `a` -> `o` as [cols, rows]; 8 x 8 blocks (power-of-two strides). */
function transposeInto(
  a: Float32Array,
  o: Float32Array,
  rows: number,
  cols: number,
): void {
  const B = 8; // larger blocks thrash the cache's sets at power-of-two strides (measured 2.6x)
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        const ib = i * cols;
        for (let j = j0; j < j1; j++) o[j * rows + i] = a[ib + j];
      }
    }
  }
}

/** x [r, c] -> x^T [c, r] in JS over heap views (3x faster than tfjs-wasm's Transpose kernel). */
export function hostTranspose2d(x: tf.Tensor2D): tf.Tensor2D {
  const [r, c] = x.shape;
  return hostTensor<tf.Rank.R2>([c, r], (o) => transposeInto(hostView(x), o, r, c));
}

/** Column sums of x [n, m] -> [m]. */
export function hostColSum(x: tf.Tensor2D): tf.Tensor1D {
  const [n, m] = x.shape;
  return hostTensor<tf.Rank.R1>([m], (o) => {
    const a = hostView(x);
    for (let i = 0; i < n; i++) {
      const r = i * m;
      for (let j = 0; j < m; j++) o[j] += a[r + j];
    }
  });
}
