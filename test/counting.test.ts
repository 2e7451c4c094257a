import { beforeAll, describe, expect, it } from "vitest";
import {
  activeParameterCount,
  denseParameterCount,
  forwardFlopsPerStep,
  forwardFlopsPerToken,
  MODEL_SIZES,
  type ModelShape,
  routedBlocks,
  shapeFromRelease,
  totalParameterCount,
} from "../lib/counting/mod.ts";
import { finalSteps, loadRelease } from "../lib/release/mod.ts";
import { curvesPath } from "./_curves.ts";

let runs: Record<string, unknown>[];
beforeAll(async () => {
  runs = finalSteps(await loadRelease({ path: curvesPath() })).toRecords();
});

describe("counting against all 223 runs of the release", () => {
  it("N and P reproduce dense_parameter_count and total_parameter_count exactly", () => {
    expect(runs.length).toBe(223);
    for (const r of runs) {
      const s = shapeFromRelease(r);
      expect(denseParameterCount(s), `run ${r.hyper_id} N`).toBe(r.dense_parameter_count);
      expect(totalParameterCount(s), `run ${r.hyper_id} P`).toBe(r.total_parameter_count);
    }
  });

  it("flop_increase baselines: N unchanged, P counts E = k = f on the routed blocks", () => {
    const base = runs.filter((r) => r.router_type === "Dense" && r.flop_increase !== 1);
    expect(base.length).toBe(5);
    for (const r of base) {
      const s = shapeFromRelease(r);
      const f = r.flop_increase as number, d = s.dModel;
      const plain = { ...s, flopIncrease: 1, k: 1 };
      expect(denseParameterCount(s)).toBe(denseParameterCount(plain));
      expect(totalParameterCount(s) - totalParameterCount(plain)).toBe(
        (s.blocks / 2) * ((f - 1) * 8 * d * d + d * f),
      );
      expect(r.total_parameter_count).toBe(totalParameterCount(s));
    }
  });

  it("F per step reproduces flops_per_step exactly (max relative error 0)", () => {
    let worst = 0;
    for (const r of runs) {
      const F = forwardFlopsPerStep(shapeFromRelease(r));
      worst = Math.max(worst, Math.abs(F / (r.flops_per_step as number) - 1));
      expect(F, `run ${r.hyper_id} F`).toBe(r.flops_per_step);
    }
    expect(worst).toBe(0);
  });

  it("every release run routes floor(blocks x R) blocks, an integer", () => {
    for (const r of runs) {
      const n = (r.num_blocks as number) * (r.routing_frequency as number);
      expect(routedBlocks(r.num_blocks as number, r.routing_frequency as number).length)
        .toBe(Math.round(n));
      expect(Math.abs(n - Math.round(n))).toBeLessThan(1e-9);
    }
  });
});

describe("counting: structure and our own small models", () => {
  const s25: ModelShape = {
    ...MODEL_SIZES["25M"],
    experts: 64,
    routingFrequency: 0.5,
    k: 1,
    router: "S-Base",
  };

  it("routed blocks are every (1/R)-th, ending with the last", () => {
    expect(routedBlocks(12, 0.5)).toEqual([1, 3, 5, 7, 9, 11]);
    expect(routedBlocks(12, 1 / 12)).toEqual([11]);
    expect(routedBlocks(8, 0.25)).toEqual([3, 7]);
    expect(routedBlocks(4, 1)).toEqual([0, 1, 2, 3]);
    expect(routedBlocks(3, 0.5)).toEqual([1]);
  });

  it("one more expert per token costs 2 x (2 d d_ff) FLOPs per routed block; P is unchanged", () => {
    const k2 = { ...s25, k: 2 };
    const d = s25.dModel;
    expect(forwardFlopsPerToken(k2) - forwardFlopsPerToken(s25)).toBe(4 * 2 * 4 * d * d * 2);
    expect(totalParameterCount(k2)).toBe(totalParameterCount(s25));
    expect(activeParameterCount(k2) - activeParameterCount(s25)).toBe(4 * 8 * d * d);
  });

  it("vocabulary and context enter F as documented (2 V d; 6 S hk + 3 h S per block)", () => {
    const d = s25.dModel, hk = s25.heads * s25.kqvSize;
    const f0 = forwardFlopsPerToken({ ...s25, vocabSize: 1000, seqLen: 100 });
    expect(forwardFlopsPerToken({ ...s25, vocabSize: 2000, seqLen: 100 }) - f0).toBe(2 * 1000 * d);
    expect(forwardFlopsPerToken({ ...s25, vocabSize: 1000, seqLen: 200 }) - f0).toBe(
      s25.blocks * (6 * 100 * hk + 3 * s25.heads * 100),
    );
  });

  it("a tiny model with absolute positions, its own vocabulary, batch and context", () => {
    const tiny: ModelShape = {
      dModel: 64,
      blocks: 2,
      heads: 4,
      kqvSize: 16,
      experts: 4,
      routingFrequency: 0.5,
      k: 1,
      router: "Hash",
      vocabSize: 1024,
      seqLen: 128,
      positional: "absolute",
    };
    // Parameters by hand: per block q, k, v, out (4 x 64 x 64) + FFN 2 x 64 x 256 + 2 LayerNorms.
    const perBlock = 4 * 64 * 64 + 2 * 64 * 256 + 4 * 64;
    expect(denseParameterCount(tiny)).toBe(2 * perBlock);
    expect(totalParameterCount(tiny)).toBe(2 * perBlock + 1 * (3 * 2 * 64 * 256 + 64 * 4));
    const perToken = 2 * (2 * perBlock + 64 * 4) + 2 * 1024 * 64 +
      2 * (4 * 128 * 64 + 3 * 4 * 128 + 2 * 64);
    expect(forwardFlopsPerToken(tiny)).toBe(perToken);
    expect(forwardFlopsPerStep(tiny, 8)).toBe(8 * 128 * perToken);
    // seq overrides the shape's seqLen (attention FLOPs change with it).
    expect(forwardFlopsPerStep(tiny, 8, 64)).toBe(
      8 * 64 * forwardFlopsPerToken({ ...tiny, seqLen: 64 }),
    );
    expect(forwardFlopsPerStep(tiny, 8, 64)).toBeLessThan(8 * 64 * perToken);
  });

  it("bad shapes: clear errors naming the field", () => {
    expect(() => denseParameterCount({ ...s25, router: "Dense" })).toThrow(
      /experts = 64.*"Dense" model has experts = 1/,
    );
    expect(() => totalParameterCount({ ...s25, k: 65 })).toThrow(/k = 65.*cannot exceed experts/);
    expect(() => forwardFlopsPerToken({ ...s25, routingFrequency: 0 })).toThrow(
      /routingFrequency = 0.*\(0, 1\]/,
    );
    expect(() => totalParameterCount({ ...s25, flopIncrease: 2 })).toThrow(
      /flopIncrease = 2.*only "Dense"/,
    );
    expect(() => denseParameterCount({ ...s25, dModel: 12.5 })).toThrow(/dModel = 12.5.*integer/);
    expect(() => forwardFlopsPerStep(s25, 0)).toThrow(/batch = 0/);
  });
});
