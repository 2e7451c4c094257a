import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, isSoftwareAdapter, probeGpuAdapter } from "../lib/backend/mod.ts";
import { Rng } from "../lib/util/random.ts";

const ROOT = new URL("../", import.meta.url);

/** Runs TypeScript in a fresh Deno process at the repository root; returns rc and output. */
async function runDeno(code: string, env: Record<string, string> = {}, timeoutMs = 120_000) {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Reference in float64 JS: softmax(A @ B) row-wise, and A @ B. */
function reference(a: number[], b: number[], m: number, k: number, n: number) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * n + j];
      c[i * n + j] = s;
    }
  }
  const p = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, c[i * n + j]);
    let z = 0;
    for (let j = 0; j < n; j++) z += Math.exp(c[i * n + j] - max);
    for (let j = 0; j < n; j++) p[i * n + j] = Math.exp(c[i * n + j] - max) / z;
  }
  return { c, p };
}

function maxAbsDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

describe("backends", () => {
  it("classifies software adapters", () => {
    expect(isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" })).toBe(true);
    expect(isSoftwareAdapter({ description: "lavapipe" })).toBe(true);
    expect(isSoftwareAdapter({ description: "SwiftShader Device (Subzero)" })).toBe(true);
    expect(isSoftwareAdapter({ description: "NVIDIA H200", isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ description: "NVIDIA H200" })).toBe(false);
    expect(isSoftwareAdapter({ description: "AMD Radeon RX 7900 XTX (RADV NAVI31)" })).toBe(false);
  });

  it("auto picks webgpu only on a hardware adapter, else wasm", async () => {
    const adapter = await probeGpuAdapter();
    const info = await initBackend("auto");
    expect(info.name).toBe(adapter && !adapter.software ? "webgpu" : "wasm");
    expect(tf.getBackend()).toBe(info.name);
    if (info.name === "wasm") expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it("cpu, wasm and webgpu initialise and agree on matmul + softmax to float tolerance", async () => {
    const m = 33, k = 47, n = 29;
    const rng = new Rng(5);
    const a = Array.from({ length: m * k }, () => rng.normal());
    const b = Array.from({ length: k * n }, () => rng.normal() * 0.3);
    const ref = reference(a, b, m, k, n);
    const results: Record<string, { c: Float32Array; p: Float32Array }> = {};
    for (const name of ["cpu", "wasm", "webgpu"] as const) {
      const info = await initBackend(name);
      expect(info.name).toBe(name);
      expect(tf.getBackend()).toBe(name);
      if (name === "webgpu") expect(typeof info.adapter).toBe("string");
      const [c, p] = tf.tidy(() => {
        const x = tf.tensor2d(a, [m, k]);
        const y = tf.tensor2d(b, [k, n]);
        const prod = tf.matMul(x, y);
        return [prod, tf.softmax(prod)];
      });
      results[name] = { c: (await c.data()) as Float32Array, p: (await p.data()) as Float32Array };
      tf.dispose([c, p]);
    }
    for (const name of Object.keys(results)) {
      expect(maxAbsDiff(results[name].c, ref.c)).toBeLessThan(1e-4);
      expect(maxAbsDiff(results[name].p, ref.p)).toBeLessThan(1e-5);
    }
    expect(maxAbsDiff(results.wasm.c, results.webgpu.c)).toBeLessThan(1e-4);
  });

  it("rejects an unknown backend name with the list of valid ones", async () => {
    await expect(initBackend("tpu" as never)).rejects.toThrow(
      /unknown backend "tpu": use one of auto, wasm, cpu, webgpu/,
    );
  });

  it("without any GPU adapter, forced webgpu fails clearly and auto falls back to wasm", async () => {
    // No Vulkan driver at all: navigator.gpu returns no adapter.
    const r = await runDeno(
      `import { initBackend } from "./lib/backend/mod.ts";
       console.log(JSON.stringify(await initBackend("auto")));
       try { await initBackend("webgpu"); console.log("NO ERROR"); }
       catch (e) { console.log("ERROR " + (e as Error).message); }`,
      { VK_ICD_FILENAMES: "/nonexistent.json", DENO_WEBGPU_BACKEND: "vulkan" },
    );
    expect(r.code).toBe(0);
    const [auto, err] = r.stdout.trim().split("\n");
    expect(JSON.parse(auto).name).toBe("wasm");
    expect(err).toMatch(/^ERROR webgpu backend unavailable: .*mesa-vulkan-drivers.*--backend wasm/);
  });

  it("two-thread wasm starts 2 threads, matches one thread, and lets the process exit", async () => {
    const code = (threads: number) =>
      `import * as tf from "@tensorflow/tfjs-core";
       import { initBackend } from "./lib/backend/mod.ts";
       const info = await initBackend("wasm", { threads: ${threads}, blas: "off" });
       const a = tf.randomNormal([256, 300], 0, 1, "float32", 3);
       const b = tf.randomNormal([300, 200], 0, 1, "float32", 4);
       const c = await tf.matMul(a, b).data();
       console.log(JSON.stringify({ threads: info.threads, c: Array.from(c.slice(0, 2000)) }));`;
    const one = await runDeno(code(1));
    const two = await runDeno(code(2), {}, 60_000); // a hang (workers kept alive) fails here
    expect(one.code).toBe(0);
    expect(two.code).toBe(0);
    const r1 = JSON.parse(one.stdout), r2 = JSON.parse(two.stdout);
    expect(r1.threads).toBe(1);
    expect(r2.threads).toBe(2);
    expect(maxAbsDiff(r1.c, r2.c)).toBeLessThan(1e-3);
  });

  it("refuses to change the wasm thread count once wasm runs in this process", async () => {
    const info = await initBackend("wasm", { blas: "off" });
    await expect(initBackend("wasm", { threads: info.threads! + 1, blas: "off" })).rejects.toThrow(
      /thread count is fixed once wasm starts/,
    );
  });
});
