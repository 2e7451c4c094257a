/**
 * Steady memory on the webgpu backend (software adapter): 200 training steps of a small E = 16
 * routed model keep tfjs's tensor count and the webgpu backend's bytes flat after warm-up, though
 * the experts' token counts (and so the shapes of their tensors) change every step. tfjs-webgpu
 * pools freed buffers by exact size; lib/backend/webgpu_pool.ts bounds that pool (without it the
 * allocated bytes creep up: test/webgpu_memory.test.ts shows it on a fake device).
 *
 * Tiny on purpose (d_model 16, one routed block, 2 x 16 tokens): the software adapter costs
 * ~0.3-0.6 s a step here.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { bufferPoolStats, initBackend } from "../lib/backend/mod.ts";
import { TransformerLM } from "../lib/model/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { AdamW, trainStepAsync } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";

const STEPS = 200, WARMUP = 20, E = 16, V = 300, S = 16, B = 2;

afterAll(async () => {
  await initBackend("cpu");
});

describe("webgpu steady memory (software adapter)", () => {
  it(`${STEPS} steps at E = ${E}: tensor count and GPU bytes flat after warm-up`, async () => {
    const info = await initBackend("webgpu");
    expect(info.name).toBe("webgpu");
    const model = new TransformerLM({
      vocabSize: V,
      seqLen: S,
      dModel: 16,
      layers: 1,
      heads: 2,
      experts: E,
      routingFrequency: 1,
      k: 1,
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
    const tensors: number[] = [], used: number[] = [], allocated: number[] = [];
    const highWater: number[] = [];
    const loads = new Set<string>();
    const t0 = performance.now();
    for (let i = 0; i < STEPS; i++) {
      const batch = Int32Array.from({ length: B * (S + 1) }, () => data.int(V));
      const r = await trainStepAsync(model, opt, batch, { lr: 1e-3, gradClip: 1, rng });
      expect(Number.isFinite(r.loss)).toBe(true);
      loads.add(r.routing.map((l) => l.load.join(",")).join("|"));
      const s = bufferPoolStats(tf.backend())!;
      tensors.push(tf.memory().numTensors);
      used.push(s.bytesUsed);
      allocated.push(s.bytesAllocated);
      highWater.push(s.highWater);
    }
    const msPerStep = (performance.now() - t0) / STEPS;
    const stats = bufferPoolStats(tf.backend())!;
    opt.dispose();
    model.dispose();
    const after = (x: number[]) => x.slice(WARMUP);
    const [lo, hi] = [Math.min(...after(allocated)), Math.max(...after(allocated))];
    console.log(
      `${STEPS} steps, ${msPerStep.toFixed(0)} ms a step, ${loads.size} distinct expert loads; ` +
        `tensors ${tensors[0]} -> ${tensors.at(-1)}; bytes in use at a step's end ` +
        `${Math.min(...after(used))}-${Math.max(...after(used))}; allocated ${
          allocated[0]
        } at step 1, ` +
        `${allocated[WARMUP]} at step ${WARMUP + 1}, ${lo}-${hi} after it, ` +
        `${allocated.at(-1)} at the end; high-water ${highWater[WARMUP]} -> ${highWater.at(-1)}; ` +
        `buffers evicted ${stats.evicted}`,
    );
    // The routing did change shapes from step to step.
    expect(loads.size).toBeGreaterThan(STEPS / 2);
    // No tensor leaks: the same count after every step.
    expect(new Set(after(tensors)).size).toBe(1);
    // Bytes in use at a step's end: the parameters and moments, plus the uniforms and staging
    // buffers tfjs frees at its next submit (they vary a little with the last kernels).
    const half = (WARMUP + STEPS) / 2;
    expect(Math.max(...after(used)) / Math.min(...after(used))).toBeLessThan(1.05);
    expect(Math.max(...used.slice(half))).toBeLessThanOrEqual(
      Math.max(...used.slice(WARMUP, half)),
    );
    // Allocated bytes: bounded by the pool's rule and without a trend after warm-up.
    for (const a of allocated) expect(a).toBeLessThanOrEqual((1 + stats.slack) * stats.highWater);
    expect(hi / lo).toBeLessThan(1.05);
    const firstHalf = Math.max(...allocated.slice(WARMUP, half));
    expect(Math.max(...allocated.slice(half))).toBeLessThanOrEqual(
      firstHalf * 1.02,
    );
    expect(highWater.at(-1)!).toBeLessThanOrEqual(highWater[WARMUP] * 1.05);
  }, 300_000);
});
