/**
 * OpenBLAS through Deno's FFI: loading (with a message naming the package when it is absent),
 * `cblas_sgemm` on Float32Array views, and its thread count. A folder of its own, outside
 * lib/backend (whose mod.ts loads tfjs): it loads no tfjs, so that the sweep can resolve
 * `blas: "auto"` into its run identity without the training stack (lib/sweep/spec.ts).
 *
 * `ROUTING_OPENBLAS=/path/to/libopenblas.so` loads that file instead of the sonames below.
 */
import process from "node:process";

export type BlasChoice = "auto" | "openblas" | "off";
export const BLAS_CHOICES: readonly BlasChoice[] = ["auto", "openblas", "off"];

/** Sonames tried in order (Debian: libopenblas0-pthread or libopenblas0-openmp). */
const OPENBLAS_NAMES = ["libopenblas.so.0", "libopenblas.so"];
/** The Debian package that provides it; named in every message about a missing library. */
export const OPENBLAS_PACKAGE = "libopenblas0-pthread";

const CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "buffer", // A
      "i32", // lda
      "buffer", // B
      "i32", // ldb
      "f32", // beta
      "buffer", // C
      "i32", // ldc
    ],
    result: "void",
  },
  cblas_sdot: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "f32" },
  openblas_set_num_threads: { parameters: ["i32"], result: "void" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_get_config: { parameters: [], result: "pointer" },
  openblas_get_corename: { parameters: [], result: "pointer" },
} as const;

type OpenBlasLib = Deno.DynamicLibrary<typeof SYMBOLS>;

export interface Loaded {
  lib: OpenBlasLib;
  library: string;
  config: string;
  core: string;
}

let loaded: Loaded | undefined;

function cString(p: Deno.PointerValue): string {
  return p ? new Deno.UnsafePointerView(p).getCString() : "";
}

/**
 * Loads OpenBLAS once per process. Throws an Error that names the package to install when the
 * library is absent, or says that FFI is not permitted.
 */
export function loadOpenBlas(): Loaded {
  if (loaded) return loaded;
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    throw new Error("OpenBLAS needs Deno's FFI (Deno.dlopen), which this runtime lacks");
  }
  const errors: string[] = [];
  const override = process.env.ROUTING_OPENBLAS;
  for (const name of override ? [override] : OPENBLAS_NAMES) {
    try {
      const lib = Deno.dlopen(name, SYMBOLS);
      loaded = {
        lib,
        library: name,
        config: cString(lib.symbols.openblas_get_config()).trim(),
        core: cString(lib.symbols.openblas_get_corename()).trim(),
      };
      return loaded;
    } catch (e) {
      const msg = (e as Error).message;
      if (/permission|--allow-ffi|NotCapable|PermissionDenied/i.test(msg + (e as Error).name)) {
        throw new Error(
          `OpenBLAS: loading a native library needs FFI permission: run deno with -A or --allow-ffi`,
        );
      }
      errors.push(`${name}: ${msg.split("\n")[0]}`);
    }
  }
  throw new Error(
    `OpenBLAS not found (${errors.join("; ")}). Install it (Debian/Ubuntu: apt-get install -y ` +
      `${OPENBLAS_PACKAGE}), or choose --blas off for tfjs-wasm's own matMul (XNNPACK)`,
  );
}

/**
 * Whether OpenBLAS loads here (false when absent); with `required`, its absence throws the
 * message naming the package to install.
 */
export function blasAvailable(required: boolean): boolean {
  try {
    loadOpenBlas();
    return true;
  } catch (e) {
    if (required) throw e;
    return false;
  }
}

/**
 * Row-major C = alpha op(A) op(B) + beta C, op(A) [M, K], op(B) [K, N], C [M, N], with leading
 * dimensions (row strides) lda, ldb, ldc. A, B, C are views whose first element is the matrix's
 * first element (subarrays of the wasm heap, or any Float32Array). Bounds are checked here: the
 * native call would otherwise read or write past the views.
 */
export function sgemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C: Float32Array,
  ldc: number,
): void {
  const lib = loadOpenBlas().lib;
  if (M === 0 || N === 0) return;
  if (K === 0) {
    for (let i = 0; i < M; i++) {
      const row = C.subarray(i * ldc, i * ldc + N);
      if (beta === 0) row.fill(0);
      else for (let j = 0; j < N; j++) row[j] *= beta;
    }
    return;
  }
  const aRows = transA ? K : M, aCols = transA ? M : K;
  const bRows = transB ? N : K, bCols = transB ? K : N;
  const need = (rows: number, cols: number, ld: number) => rows === 0 ? 0 : (rows - 1) * ld + cols;
  if (
    lda < Math.max(1, aCols) || ldb < Math.max(1, bCols) || ldc < Math.max(1, N) ||
    A.length < need(aRows, aCols, lda) || B.length < need(bRows, bCols, ldb) ||
    C.length < need(M, N, ldc)
  ) {
    throw new Error(
      `sgemm: operand views too small or bad strides (M ${M} N ${N} K ${K}, lda ${lda} ldb ${ldb} ` +
        `ldc ${ldc}, lengths ${A.length} ${B.length} ${C.length})`,
    );
  }
  lib.symbols.cblas_sgemm(
    CBLAS_ROW_MAJOR,
    transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
    transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
    M,
    N,
    K,
    alpha,
    A,
    lda,
    B,
    ldb,
    beta,
    C,
    ldc,
  );
}

/** Sum of squares of x (OpenBLAS's sdot of x with itself: SIMD, float32 partial sums). */
export function sumSquares(x: Float32Array): number {
  if (x.length === 0) return 0;
  return loadOpenBlas().lib.symbols.cblas_sdot(x.length, x, 1, x, 1);
}

/** Sets OpenBLAS's thread count (its pool is per process); returns the count now in use. */
export function setBlasThreads(threads: number): number {
  const lib = loadOpenBlas().lib;
  lib.symbols.openblas_set_num_threads(threads);
  return lib.symbols.openblas_get_num_threads();
}

/**
 * The matMul path a run with this `--blas` choice takes on this machine: "openblas" or "off"
 * ("auto" resolved by trying to load the library). Results of the two differ in the last bits,
 * so sweeps key runs by this.
 */
export function resolveBlasChoice(choice: BlasChoice): "openblas" | "off" {
  if (choice === "off") return "off";
  return blasAvailable(choice === "openblas") ? "openblas" : "off";
}
