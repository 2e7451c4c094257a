import { describe, expect, it } from "vitest";
import { expandSpec, preset, PRESET_NAMES, stepsOf } from "../lib/sweep/mod.ts";
import { getTokenStreams } from "../lib/corpus/mod.ts";

describe("presets", () => {
  it(
    "no preset reads a training token more than twice a run (checked against the corpus)",
    async () => {
      for (const name of PRESET_NAMES) {
        const spec = preset(name);
        const { train } = await getTokenStreams({ vocabSize: spec.train.vocabSize });
        const tokens = stepsOf(spec) * spec.train.batchSize * spec.train.seqLen;
        const passes = tokens / train.length;
        expect(passes, `${name}: ${tokens} tokens over ${train.length}`).toBeLessThanOrEqual(2);
        if (name === "gpu") expect(passes).toBeGreaterThan(1); // the budget the corpus allows
      }
    },
    120_000,
  );

  it("standard: 4+ sizes, E from 1 to 32+, all three routers, 2 seeds at both ends", () => {
    const spec = preset("standard");
    const runs = expandSpec(spec);
    const widths = [...new Set(runs.map((r) => r.config.dModel))].sort((a, b) => a - b);
    expect(widths.length).toBeGreaterThanOrEqual(4);
    expect(Math.min(...spec.experts)).toBe(1);
    expect(Math.max(...spec.experts)).toBeGreaterThanOrEqual(32);
    expect(new Set(runs.map((r) => r.config.router))).toEqual(
      new Set(["Dense", "S-Base", "RL-R", "Hash"]),
    );
    const seedsAt = (d: number) =>
      new Set(runs.filter((r) => r.config.dModel === d).map((r) => r.config.seed)).size;
    expect(seedsAt(widths[0])).toBe(2);
    expect(seedsAt(widths[widths.length - 1])).toBe(2);
    expect(runs.length).toBe(60);
  });
});
