/**
 * tfjs backends: `initBackend("auto" | "wasm" | "cpu" | "webgpu")`.
 *
 * - `auto`: webgpu when a hardware GPU adapter is present, else wasm. A software adapter (Mesa's
 *   llvmpipe/lavapipe, SwiftShader, WARP; WebGPU's `isFallbackAdapter`) does not count: it is
 *   slower than wasm and is only good for checking the GPU path.
 * - `webgpu` can be forced on a software adapter (Debian: mesa-vulkan-drivers gives lavapipe; Deno
 *   picks Vulkan by default, no DENO_WEBGPU_BACKEND needed); it then warns once on stderr. How an
 *   adapter is told software, and the error when there is none: ./adapter.ts. The adapter is
 *   named in BackendInfo (`adapter`, `software`, `gpu`), so in every run's metrics.
 *   `checkGpuMemory` (./webgpu_memory.ts) refuses a run that cannot fit the adapter up front.
 * - `wasm`: single-threaded unless `threads` > 1 (see wasm_threads.ts for the Deno workaround).
 *   The thread count is fixed for the life of the process once wasm has initialised. On an idle
 *   2-core machine two threads pay off well: XNNPACK's matMul ran at 68-74 GFLOP/s on two threads
 *   against 25-37 on one (`deno task bench:kernels`; one thread varies from run to run on that
 *   VM), and a d_model 256 training step took 1.3 s against 1.9-3.0 s (`deno task bench`). Under load (another process per core) they do not (512^2
 *   matMul at load ~8: 11.7-12.7 GFLOP/s on one thread, 8.6-11.7 on two), so they stay opt-in:
 *   sweeps run single-thread processes side by side, `bench` and a lone `train --threads 2` use
 *   both cores.
 *
 * tfjs has one engine per process: switching backends later (`tf.setBackend`) works, and tensors
 * move between backends on use, but a model's variables live where they were made.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { withThreadedWasm } from "./wasm_threads.ts";
import { useDeterministicMatMul } from "./webgpu_deterministic.ts";
import {
  adapterLabel,
  type GpuAdapterInfo,
  gpuProbeFailure,
  noAdapterMessage,
  probeGpuAdapter,
  warnSoftwareOnce,
} from "./adapter.ts";
import { useBoundedBufferPool } from "./webgpu_pool.ts";
import { type BlasInfo, useBlas } from "./blas.ts";
import { blasAvailable, type BlasChoice } from "../openblas/mod.ts";
import { BACKEND_NAMES, type BackendName } from "../config/mod.ts";

export { type AdamWKernel, adamwKernel } from "./adamw_simd.ts";
export { blasActive, type BlasInfo, restoreXnnpackKernels } from "./blas.ts";
export {
  adapterLabel,
  describeAdapter,
  type GpuAdapterInfo,
  type GpuLimits,
  gpuProbeFailure,
  isSoftwareAdapter,
  noAdapterMessage,
  probeGpuAdapter,
  softwareReason,
  vendorName,
  vulkanFacts,
} from "./adapter.ts";
export { bufferPoolStats, type PoolStats, useBoundedBufferPool } from "./webgpu_pool.ts";
export {
  checkGpuMemory,
  checkWebgpuMemory,
  estimateGpuMemory,
  formatBytes,
  gpuHeldParameters,
  type GpuMemoryBudget,
  type GpuMemoryEstimate,
  gpuMemoryFromEnv,
  type GpuRunShape,
  resolveGpuMemoryBudget,
} from "./webgpu_memory.ts";
export {
  BLAS_CHOICES,
  type BlasChoice,
  OPENBLAS_PACKAGE,
  resolveBlasChoice,
  sgemm,
  sumSquares,
} from "../openblas/mod.ts";

export { BACKEND_NAMES, type BackendName } from "../config/mod.ts";

export interface BackendInfo {
  /** The backend now active in tfjs. */
  name: "wasm" | "cpu" | "webgpu";
  /**
   * The GPU adapter in one line (webgpu only): description [vendor, architecture, "software"],
   * e.g. "NVIDIA H200 [nvidia]" or "llvmpipe (LLVM 15.0.6, 256 bits) [mesa, software]".
   */
  adapter?: string;
  /** True when the webgpu adapter is a software rasteriser (the CPU runs the shaders). */
  software?: boolean;
  /** The adapter in full (webgpu only): vendor, architecture, description, limits. */
  gpu?: GpuAdapterInfo;
  /** `auto` only: the GPU adapter it passed over and why (a software adapter), when there was one. */
  gpuSkipped?: string;
  /** XNNPACK threads (wasm only). */
  threads?: number;
  /** The matMul path of the wasm backend: OpenBLAS, or "off" (XNNPACK). */
  blas?: BlasInfo;
}

export interface BackendOptions {
  /** wasm threads (default 1). More than 1 uses the threaded build; see wasm_threads.ts. */
  threads?: number;
  /**
   * wasm matMuls on a native BLAS (./blas.ts): "auto" (default) uses OpenBLAS when it loads,
   * "openblas" requires it, "off" keeps XNNPACK. Its thread count is `threads`.
   */
  blas?: BlasChoice;
  /** No "blas: ..." line on stderr. */
  quiet?: boolean;
}

const WASM_FILE = "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm";

/**
 * The folder URL of the wasm binaries, resolved through the package: `import.meta.resolve` under
 * Deno, Node's resolver where a transform hides it (vitest).
 */
export function wasmDistUrl(): string {
  const wasm = typeof import.meta.resolve === "function"
    ? import.meta.resolve(WASM_FILE)
    : pathToFileURL(createRequire(import.meta.url).resolve(WASM_FILE)).href;
  return new URL("./", wasm).href;
}

let wasmThreads: number | undefined; // threads of the wasm instance of this process, once made
let webgpuImported = false;

/**
 * XNNPACK's pool threads run for the life of the process, and emscripten keeps their workers
 * referenced, so the process would never exit by itself: unreference them.
 */
function unrefPoolWorkers(): void {
  const module = (tf.backend() as unknown as {
    wasm?: {
      PThread?: {
        runningWorkers?: { unref?: () => void }[];
        unusedWorkers?: { unref?: () => void }[];
      };
    };
  }).wasm;
  const pthread = module?.PThread;
  for (const w of [...(pthread?.runningWorkers ?? []), ...(pthread?.unusedWorkers ?? [])]) {
    w.unref?.();
  }
}

/**
 * The wasm backend, its matMuls on OpenBLAS when `blas` allows and the library loads. `threads`
 * is the user's thread count: with OpenBLAS it is the BLAS's (XNNPACK then runs the single-threaded
 * build: a d_model 256 step took 425 ms that way against 540 ms on the 2-thread build, whose
 * shared heap slows every other kernel); without it, XNNPACK's.
 */
async function useWasm(
  threads: number,
  blas: BlasChoice,
  quiet: boolean,
): Promise<BackendInfo> {
  if (!Number.isInteger(threads) || threads < 1 || threads > 8) {
    throw new Error(`wasm threads must be an integer in [1, 8], got ${threads}`);
  }
  const native = blas !== "off" && blasAvailable(blas === "openblas");
  const xnnThreads = native ? 1 : threads;
  if (wasmThreads === undefined) {
    setWasmPaths(wasmDistUrl());
    if (xnnThreads > 1) {
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
      setThreadsCount(xnnThreads);
      const ok = await withThreadedWasm(xnnThreads, () => tf.setBackend("wasm"));
      if (!ok) throw new Error(`wasm backend with ${xnnThreads} threads failed to initialise`);
    } else {
      tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      if (!(await tf.setBackend("wasm"))) {
        throw new Error("wasm backend failed to initialise (see the warning above)");
      }
    }
    wasmThreads = getThreadsCount();
    if (xnnThreads > 1) unrefPoolWorkers();
    if (xnnThreads > 1 && wasmThreads !== xnnThreads) {
      throw new Error(
        `wasm backend asked for ${xnnThreads} threads but XNNPACK started ${wasmThreads}`,
      );
    }
  } else {
    if (!native && threads !== wasmThreads) {
      throw new Error(
        `the wasm backend of this process already runs with ${wasmThreads} thread(s); ` +
          `the thread count is fixed once wasm starts: run ${threads} thread(s) in a new process`,
      );
    }
    if (!(await tf.setBackend("wasm"))) throw new Error("wasm backend failed to activate");
  }
  await tf.ready();
  const blasInfo = useBlas(blas, threads, quiet);
  return { name: "wasm", threads: wasmThreads, blas: blasInfo };
}

/** The limits of the device tfjs-webgpu made (it asks for the adapter's own), if it has one. */
function deviceLimits(): GpuAdapterInfo["limits"] | undefined {
  const limits = (tf.backend() as unknown as {
    device?: { limits?: { maxBufferSize?: number; maxStorageBufferBindingSize?: number } };
  }).device?.limits;
  if (!limits?.maxBufferSize || !limits.maxStorageBufferBindingSize) return undefined;
  return {
    maxBufferSize: limits.maxBufferSize,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
  };
}

/**
 * The webgpu backend on `adapter`. A software adapter works (for testing the GPU path) but warns
 * once on stderr. The buffer pool is bounded (./webgpu_pool.ts) and matMuls are deterministic.
 */
async function useWebgpu(adapter: GpuAdapterInfo | undefined): Promise<BackendInfo> {
  if (!adapter) throw new Error(noAdapterMessage(gpuProbeFailure()));
  warnSoftwareOnce(adapter);
  if (!webgpuImported) {
    await import("@tensorflow/tfjs-backend-webgpu");
    webgpuImported = true;
  }
  if (!(await tf.setBackend("webgpu"))) {
    throw new Error(`webgpu backend failed to initialise on adapter "${adapterLabel(adapter)}"`);
  }
  useDeterministicMatMul(); // no atomicAdd split-K sums: same bits every run
  await tf.ready();
  useBoundedBufferPool(tf.backend()); // routed shapes change every step: see webgpu_pool.ts
  const gpu = { ...adapter, limits: deviceLimits() ?? adapter.limits };
  return { name: "webgpu", adapter: adapterLabel(gpu), software: gpu.software, gpu };
}

/**
 * Makes `name` the active tfjs backend and returns what was chosen. `auto` = webgpu on a hardware
 * GPU adapter, else wasm. Throws a clear Error when a forced backend is unavailable.
 */
export async function initBackend(
  name: BackendName = "auto",
  opts: BackendOptions = {},
): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`unknown backend "${name}": use one of ${BACKEND_NAMES.join(", ")}`);
  }
  const blas = opts.blas ?? "auto", quiet = opts.quiet ?? false;
  if (blas === "openblas" && (name === "cpu" || name === "webgpu")) {
    throw new Error(
      `--blas openblas runs beneath the wasm backend, not ${name}: use --backend wasm, or --blas auto`,
    );
  }
  switch (name) {
    case "cpu":
      if (!(await tf.setBackend("cpu"))) throw new Error("cpu backend failed to initialise");
      await tf.ready();
      // The cpu backend greets Node users with a banner suggesting tfjs-node (which cannot install
      // here) on its first write; mark that first write as done.
      (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      return { name: "cpu" };
    case "wasm":
      return await useWasm(opts.threads ?? wasmThreads ?? 1, blas, quiet);
    case "webgpu":
      return await useWebgpu(await probeGpuAdapter());
    case "auto": {
      const adapter = await probeGpuAdapter();
      if (adapter && !adapter.software && blas !== "openblas") return await useWebgpu(adapter);
      const info = await useWasm(opts.threads ?? wasmThreads ?? 1, blas, quiet);
      if (!adapter) return info;
      const why = adapter.software
        ? `software adapter (${adapter.softwareReason})`
        : "--blas openblas needs wasm";
      return { ...info, gpuSkipped: `${adapterLabel(adapter)}: ${why}` };
    }
  }
}
