/**
 * The webgpu memory check (lib/backend/webgpu_memory.ts) and the bounded buffer pool
 * (lib/backend/webgpu_pool.ts): the estimate against lib/train's parameter count and against
 * what the software adapter measures, refusals with the numbers and what fits, the budget's
 * sources, the refusal's time, and the pool's bound on a fake device.
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import {
  bufferPoolStats,
  checkGpuMemory,
  checkWebgpuMemory,
  estimateGpuMemory,
  gpuHeldParameters,
  type GpuRunShape,
  initBackend,
  resolveGpuMemoryBudget,
  useBoundedBufferPool,
} from "../lib/backend/mod.ts";
import { routedBlocks } from "../lib/counting/mod.ts";
import { heldParameters, resolveConfig, trainStepAsync } from "../lib/train/mod.ts";
import { AdamW } from "../lib/train/mod.ts";
import { TransformerLM } from "../lib/model/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { Rng } from "../lib/util/random.ts";

const GIB = 1024 ** 3;
const ROOT = new URL("../", import.meta.url);

/** The issue's run: `--router sbase --d-model 8192 --layers 48 --experts 256` at the defaults. */
const HUGE: GpuRunShape = {
  dModel: 8192,
  layers: 48,
  heads: 4,
  experts: 256,
  routedBlocks: routedBlocks(48, 0.5).length,
  k: 1,
  batchSize: 8,
  seqLen: 128,
  vocabSize: 2048,
};
/** An NVIDIA H200 as wgpu reports it: 2 GiB - 1 per binding (wgpu's cap), 141 GiB of memory. */
const H200 = {
  label: "NVIDIA H200 [nvidia]",
  limits: { maxBufferSize: 2 ** 40, maxStorageBufferBindingSize: 2 ** 31 - 1 },
};
const H200_BUDGET = { bytes: 141 * GIB, source: "nvidia-smi: 143771 MiB" };

function shapeOf(c: Record<string, unknown>): GpuRunShape {
  const cfg = resolveConfig(c);
  const dense = cfg.router === "dense";
  return {
    ...cfg,
    routedBlocks: dense ? 0 : routedBlocks(cfg.layers, cfg.routingFrequency).length,
  };
}

describe("webgpu memory estimate", () => {
  it("counts the parameters as lib/train's heldParameters does", () => {
    for (
      const c of [
        { router: "dense", experts: 1, dModel: 64, layers: 2 },
        { router: "sbase", experts: 64, dModel: 256, layers: 6, routingFrequency: 0.5 },
        { router: "hash", experts: 128, dModel: 512, layers: 6, vocabSize: 4096 },
      ]
    ) {
      const s = shapeOf(c);
      expect(gpuHeldParameters(s)).toBe(heldParameters(resolveConfig(c), s.routedBlocks));
    }
  });

  it("names the largest tensor and grows with experts, batch and width", () => {
    const base: GpuRunShape = { ...HUGE, dModel: 256, layers: 4, experts: 16, routedBlocks: 2 };
    const e = estimateGpuMemory(base);
    expect(e.totalBytes).toBeGreaterThan(e.paramBytes + e.activationBytes);
    expect(estimateGpuMemory({ ...base, experts: 32 }).totalBytes).toBeGreaterThan(e.totalBytes);
    expect(estimateGpuMemory({ ...base, batchSize: 16 }).totalBytes).toBeGreaterThan(e.totalBytes);
    expect(estimateGpuMemory({ ...base, dModel: 512 }).totalBytes).toBeGreaterThan(e.totalBytes);
    const logits = estimateGpuMemory({ ...base, batchSize: 32, seqLen: 128, vocabSize: 50_000 });
    expect(logits.largestTensor).toMatch(/logits \[4096 x 50000\]/);
    expect(logits.largestTensorBytes).toBe(4096 * 50_000 * 4);
  });

  it("the issue's 8192 x 48 x 256-expert run is refused with the numbers and what fits", () => {
    let msg = "";
    try {
      checkGpuMemory(HUGE, H200, H200_BUDGET);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^Invalid training config: the model is too large for the webgpu backend/);
    expect(msg).toMatch(/on NVIDIA H200 \[nvidia\]/);
    expect(msg).toMatch(/3\.3T parameters need about \d+ GiB in training/);
    expect(msg).toMatch(/over the budget of 141 GiB \(nvidia-smi: 143771 MiB/);
    expect(msg).toMatch(/it fits with d_model <= \d+/);
    // The suggested width does fit, and the next multiple of heads does not.
    const d = Number(/d_model <= (\d+)/.exec(msg)![1]);
    expect(() => checkGpuMemory({ ...HUGE, dModel: d }, H200, H200_BUDGET)).not.toThrow();
    expect(() => checkGpuMemory({ ...HUGE, dModel: d + HUGE.heads }, H200, H200_BUDGET))
      .toThrow();
  });

  it("suggests fewer experts when the experts are what does not fit", () => {
    const s: GpuRunShape = { ...HUGE, dModel: 1024, layers: 8, experts: 512, routedBlocks: 4 };
    const budget = { bytes: 80 * GIB, source: "--gpu-memory 80" };
    expect(() => checkGpuMemory(s, H200, budget)).toThrow(/it fits with experts <= \d+/);
    const E = Number(
      /experts <= (\d+)/.exec(
        (() => {
          try {
            checkGpuMemory(s, H200, budget);
          } catch (e) {
            return (e as Error).message;
          }
          return "";
        })(),
      )![1],
    );
    expect(E).toBeGreaterThan(1);
    expect(E).toBeLessThan(512);
    expect(() => checkGpuMemory({ ...s, experts: E }, H200, budget)).not.toThrow();
    expect(() => checkGpuMemory({ ...s, experts: E + 1 }, H200, budget)).toThrow();
  });

  it("refuses a tensor over the adapter's storage binding (lavapipe: 128 MiB)", () => {
    const lavapipe = {
      label: "llvmpipe (LLVM 15.0.6, 256 bits) [mesa, software]",
      limits: { maxBufferSize: 2 ** 31 - 1, maxStorageBufferBindingSize: 128 * 1024 ** 2 },
    };
    const s: GpuRunShape = {
      ...HUGE,
      dModel: 128,
      layers: 2,
      experts: 4,
      routedBlocks: 1,
      batchSize: 32,
      seqLen: 256,
      vocabSize: 8192,
    };
    expect(() => checkGpuMemory(s, lavapipe, { bytes: 100 * GIB, source: "test" })).toThrow(
      /largest tensor, the logits \[8192 x 8192\], needs 256 MiB, over the adapter's maxStorageBufferBindingSize \(128 MiB\).*it fits with batch size <= 16/,
    );
    // The gpu preset's largest run: its largest tensor fits even the software adapter's binding.
    const gpuPreset: GpuRunShape = {
      dModel: 512,
      layers: 6,
      heads: 8,
      experts: 128,
      routedBlocks: 3,
      k: 1,
      batchSize: 32,
      seqLen: 128,
      vocabSize: 4096,
    };
    const est = checkGpuMemory(gpuPreset, H200, H200_BUDGET);
    expect(est.largestTensorBytes).toBeLessThanOrEqual(128 * 1024 ** 2);
    console.log(
      `gpu preset's largest run (d512 x 6, E = 128): ${(est.params / 1e6).toFixed(0)}M ` +
        `parameters, estimated ${(est.totalBytes / GIB).toFixed(1)} GiB`,
    );
    expect(est.totalBytes / GIB).toBeGreaterThan(24); // more than a 24 GB card holds
    expect(est.totalBytes / GIB).toBeLessThan(80); // fits an 80 GB A100/H100 and the H200
    expect(() => checkGpuMemory(gpuPreset, H200, { bytes: 24 * GIB, source: "24 GB card" }))
      .toThrow(/it fits with experts <= \d+/);
  });

  it("takes the budget from --gpu-memory, else RAM for a software adapter, and checks it", async () => {
    const soft = { vendor: "mesa", software: true };
    expect(await resolveGpuMemoryBudget(soft, { gpuMemoryGiB: 24 })).toEqual({
      bytes: 24 * GIB,
      source: "--gpu-memory 24",
    });
    const ram = await resolveGpuMemoryBudget(soft, { systemMemoryBytes: 16 * GIB });
    expect(ram.bytes).toBe(8 * GIB);
    expect(ram.source).toMatch(/software adapter keeps its buffers in RAM: half of .*16\.0 GiB/);
    const unknown = await resolveGpuMemoryBudget({ vendor: "intel", software: false }, {
      systemMemoryBytes: 16 * GIB,
    });
    expect(unknown.source).toMatch(/GPU reports no memory size/);
    await expect(resolveGpuMemoryBudget(soft, { gpuMemoryGiB: -1 })).rejects.toThrow(
      /--gpu-memory must be a number of GiB > 0/,
    );
  });

  it("checkWebgpuMemory does nothing off webgpu", async () => {
    expect(await checkWebgpuMemory(HUGE, { name: "wasm" })).toBeUndefined();
  });

  it("refuses the issue's run in a fresh process within 5 s (backend start included)", async () => {
    const code = `
      const t0 = performance.now();
      const { initBackend, checkWebgpuMemory } = await import("./lib/backend/mod.ts");
      const info = await initBackend("webgpu");
      try {
        await checkWebgpuMemory(${JSON.stringify(HUGE)}, info);
        console.log("FITS");
      } catch (e) {
        console.log((e as Error).message);
      }
      console.log(((performance.now() - t0) / 1000).toFixed(2));`;
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", code],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const wall = (performance.now() - t0) / 1000;
    const [msg, inside] = new TextDecoder().decode(out.stdout).trim().split("\n");
    console.log(`refused in ${inside} s in-process, ${wall.toFixed(2)} s with Deno's start:`, msg);
    expect(out.code).toBe(0);
    expect(msg).toMatch(/^Invalid training config: the model is too large for the webgpu backend/);
    expect(Number(inside)).toBeLessThan(5);
  });
});

describe("the webgpu estimate against the software adapter", () => {
  it("a routed run's peak bytes in use lie within 25% of the estimate before the pool's slack", async () => {
    const c = {
      router: "sbase",
      experts: 8,
      dModel: 32,
      layers: 2,
      heads: 2,
      batchSize: 8,
      seqLen: 32,
      vocabSize: 512,
    };
    const s = shapeOf(c);
    await initBackend("webgpu");
    const model = new TransformerLM({
      ...s,
      routingFrequency: 0.5,
      capacityFactor: 2,
      router: resolveRouter("sbase"),
      seed: 1,
    });
    const opt = new AdamW(model.namedVariables(), {
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
    });
    const data = new Rng(2), rng = new Rng(3);
    const highWater0 = bufferPoolStats(tf.backend())!.highWater;
    for (let i = 0; i < 2; i++) {
      const batch = Int32Array.from({ length: 8 * 33 }, () => data.int(512));
      await trainStepAsync(model, opt, batch, { lr: 1e-3, gradClip: 1, rng });
    }
    const stats = bufferPoolStats(tf.backend())!;
    opt.dispose();
    model.dispose();
    const est = estimateGpuMemory(s);
    const peak = stats.highWater - Math.min(highWater0, stats.bytesUsed);
    console.log(
      `estimate ${(est.paramBytes + est.activationBytes) / 1e6} MB, measured peak ${peak / 1e6} MB`,
    );
    expect(peak / (est.paramBytes + est.activationBytes)).toBeGreaterThan(0.75);
    expect(peak / (est.paramBytes + est.activationBytes)).toBeLessThan(1.25);
    expect(stats.bytesAllocated).toBeLessThanOrEqual((1 + stats.slack) * stats.highWater);
    await initBackend("cpu");
  });
});

/** A fake GPUDevice and tfjs-webgpu 4.22's BufferManager fields, to drive the pool bound alone. */
function fakeManager() {
  let live = 0;
  const device = {
    createBuffer: ({ size, usage }: { size: number; usage: number }) => {
      live += size;
      return {
        size,
        usage,
        destroy() {
          live -= size;
        },
      };
    },
  };
  type B = ReturnType<typeof device.createBuffer>;
  // tfjs-webgpu 4.22's own acquire/release (buffer_manager.js), exact-size reuse, no bound.
  const bm = {
    device,
    numUsedBuffers: 0,
    numFreeBuffers: 0,
    freeBuffers: new Map<string, B[]>(),
    usedBuffers: new Map<string, B[]>(),
    numBytesUsed: 0,
    numBytesAllocated: 0,
    acquireBuffer(size: number, usage: number): B {
      const key = `${size}_${usage}`;
      if (!this.freeBuffers.has(key)) this.freeBuffers.set(key, []);
      let b = this.freeBuffers.get(key)!.pop();
      if (b) this.numFreeBuffers--;
      else b = device.createBuffer({ size, usage }), this.numBytesAllocated += size;
      if (!this.usedBuffers.has(key)) this.usedBuffers.set(key, []);
      this.usedBuffers.get(key)!.push(b);
      this.numUsedBuffers++;
      this.numBytesUsed += size;
      return b;
    },
    releaseBuffer(b: B): void {
      const key = `${b.size}_${b.usage}`;
      const used = this.usedBuffers.get(key)!;
      used.splice(used.indexOf(b), 1);
      this.numUsedBuffers--;
      this.numBytesUsed -= b.size;
      this.freeBuffers.get(key)!.push(b);
      this.numFreeBuffers++;
    },
  };
  return { backend: { bufferManager: bm }, bm, live: () => live };
}

/** Steps of a routed layer: E experts' row blocks of random sizes (sum fixed), then freed. */
function routedSteps(bm: ReturnType<typeof fakeManager>["bm"], steps: number, seed: number) {
  const rng = new Rng(seed);
  const allocated: number[] = [];
  const weights = bm.acquireBuffer(1 << 20, 140); // kept: the parameters
  for (let s = 0; s < steps; s++) {
    const held = [];
    let left = 256;
    for (let e = 0; e < 16 && left > 0; e++) {
      const n = e === 15 ? left : Math.min(left, rng.int(33));
      left -= n;
      if (n > 0) held.push(bm.acquireBuffer(n * 64 * 4, 140), bm.acquireBuffer(n * 256 * 4, 140));
    }
    for (const b of held) bm.releaseBuffer(b);
    allocated.push(bm.numBytesAllocated);
  }
  bm.releaseBuffer(weights);
  return allocated;
}

describe("bounded buffer pool (fake device)", () => {
  it("tfjs's exact-size pool keeps growing under routed shapes; the bound keeps it flat", () => {
    const plain = fakeManager();
    const a = routedSteps(plain.bm, 400, 1);
    const bounded = fakeManager();
    expect(useBoundedBufferPool(bounded.backend)).toBe(true);
    expect(useBoundedBufferPool(bounded.backend)).toBe(true); // idempotent
    const b = routedSteps(bounded.bm, 400, 1);
    const stats = bufferPoolStats(bounded.backend)!;
    console.log(
      `plain pool: ${a[49]} -> ${a[399]} bytes; bounded: ${b[49]} -> ${b[399]} bytes ` +
        `(high-water ${stats.highWater}, evicted ${stats.evicted})`,
    );
    expect(a[399]).toBeGreaterThan(a[49] * 1.1); // it creeps up
    for (const x of b) expect(x).toBeLessThanOrEqual((1 + stats.slack) * stats.highWater);
    expect(Math.max(...b.slice(200))).toBeLessThanOrEqual(Math.max(...b.slice(50, 200)) * 1.01);
    // Destroyed buffers are really freed: the device holds what the pool counts.
    expect(bounded.live()).toBe(bounded.bm.numBytesAllocated);
    expect(stats.evicted).toBeGreaterThan(0);
  });

  it("leaves an unknown buffer manager alone", () => {
    expect(useBoundedBufferPool({})).toBe(false);
    expect(useBoundedBufferPool({ bufferManager: { freeBuffers: [] } })).toBe(false);
    expect(() => useBoundedBufferPool(fakeManager().backend, -1)).toThrow(/slack/);
  });
});
