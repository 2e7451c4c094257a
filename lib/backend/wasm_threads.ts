/**
 * Multi-threaded tfjs wasm under Deno.
 *
 * The threaded build of @tensorflow/tfjs-backend-wasm 4.22 does not start threads in Deno for three
 * reasons, each worked around here for the duration of the backend's initialisation only:
 * 1. It sees `process` and assumes Node, where it disables threads (flag
 *    WASM_HAS_MULTITHREAD_SUPPORT): we set the flag.
 * 2. Its pthread workers are made from `blob:` URLs, which Deno's `node:worker_threads` refuses:
 *    we write the worker script to a file (.cjs) that loads the threaded factory from its package
 *    file, and hand that path out instead of the blob URL. The script's `location` assignment,
 *    read-only in a Deno worker, is dropped.
 * 3. Its C++ side caps threads at (logical cores / 2), i.e. 1 on a 2-core machine: `os.cpus()`
 *    reports 2 x threads while the module starts.
 */
import { createRequire } from "node:module";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const WORKER = "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
const FACTORY = "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js";
/** The worker's branch that imports the main script from a blob; replaced by a file import. */
const BLOB_IMPORT = 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}' +
  "else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);" +
  "URL.revokeObjectURL(objectUrl)}";
const LOCATION = "location:{href:__filename},";

let workerPath: string | undefined;

/** Writes the patched pthread worker script once per process; returns its path. */
function writeWorker(): string {
  if (workerPath) return workerPath;
  const require = createRequire(import.meta.url);
  const contents: unknown = require(WORKER).wasmWorkerContents;
  const factoryPath = require.resolve(FACTORY);
  if (
    typeof contents !== "string" || !contents.includes(BLOB_IMPORT) || !contents.includes(LOCATION)
  ) {
    throw new Error(
      "wasm threads: the worker script of @tensorflow/tfjs-backend-wasm is not the 4.22.0 one " +
        "this workaround patches; use threads: 1",
    );
  }
  // The script is the body of a template literal upstream: escape newlines inside its strings.
  const src = contents
    .replace(/\n/g, "\\n")
    .replace(LOCATION, "")
    .replace(BLOB_IMPORT, `importScripts(${JSON.stringify(factoryPath)});`);
  const dir = mkdtempSync(join(tmpdir(), "tfjs-wasm-threads-"));
  workerPath = join(dir, "tfjs-backend-wasm-threaded-simd.worker.cjs");
  writeFileSync(workerPath, src);
  return workerPath;
}

/**
 * Runs `init` (which must initialise the wasm backend) with the three workarounds in place, so that
 * XNNPACK gets `threads` threads; restores URL.createObjectURL and os.cpus afterwards.
 */
export async function withThreadedWasm<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const path = writeWorker();
  const require = createRequire(import.meta.url);
  const os = require("os") as { cpus: () => unknown[] };
  const originalCpus = os.cpus;
  const originalCreate = URL.createObjectURL;
  os.cpus = () => {
    const real = originalCpus.call(os);
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  URL.createObjectURL =
    ((obj: Blob) =>
      obj instanceof Blob && obj.type === "application/javascript"
        ? path
        : originalCreate.call(URL, obj)) as typeof URL.createObjectURL;
  try {
    return await init();
  } finally {
    URL.createObjectURL = originalCreate;
    os.cpus = originalCpus;
  }
}
