import { describe, expect, it } from "vitest";
import {
  chi2TwoDof,
  eq1ProfileRegion,
  fitLaw,
  profileWords,
  saturationBounded,
} from "../lib/fit/mod.ts";
import { eq1Law, type Eq1Params, TABLE3 } from "../lib/laws/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { mainData, TECHNIQUES } from "./_release_data.ts";

/** Runs drawn from Eq. (1) with `p` at 4 sizes and the given expert counts, noise sd `noise`. */
function synthetic(p: Eq1Params, Es: number[], noise: number, seed = 1) {
  const rng = new Rng(seed);
  const N: number[] = [], E: number[] = [], loss: number[] = [];
  for (const n of [15e6, 55e6, 200e6, 800e6]) {
    for (const e of Es) {
      N.push(n), E.push(e);
      loss.push(10 ** (eq1Law.predictLog10(p, { N: n, E: e }) + noise * rng.normal()));
    }
  }
  return { N, E, loss };
}

const truth: Eq1Params = { a: -0.08, b: -0.11, c: 0.009, d: 1.1, E_start: 2, E_max: 100 };

describe("Eq. (1) profile-likelihood region of (E_start, E_max)", () => {
  it("bounds the saturation on the authors' release and holds Table 3's values", async () => {
    for (const t of TECHNIQUES) {
      const d = await mainData(t);
      const r = eq1ProfileRegion(d.N, d.E, d.loss);
      expect(saturationBounded(r), `${t}: ${profileWords(r)}`).toBe(true);
      const paper = TABLE3[t];
      expect(paper.E_start).toBeGreaterThanOrEqual(r.E_start.lo);
      expect(paper.E_start).toBeLessThanOrEqual(r.E_start.hi);
      expect(paper.E_max).toBeGreaterThanOrEqual(r.E_max.lo);
      expect(paper.E_max).toBeLessThanOrEqual(r.E_max.hi);
    }
  });

  it("agrees with the multistart fit: the grid's minimum sits just above the fitted optimum", async () => {
    const d = await mainData("S-Base");
    const r = eq1ProfileRegion(d.N, d.E, d.loss);
    const fit = fitLaw(eq1Law, d, { restarts: 50, seed: 0 });
    // The fit is the continuous optimum, so no grid point goes below it; a 0.25-log2 grid lands
    // close to it, well inside the region.
    expect(r.mseMin).toBeGreaterThanOrEqual(fit.mse_log10 * (1 - 1e-9));
    expect(r.mseMin).toBeLessThan(fit.mse_log10 * 1.02);
    expect(fit.params.E_start).toBeGreaterThanOrEqual(r.E_start.lo);
    expect(fit.params.E_start).toBeLessThanOrEqual(r.E_start.hi);
    expect(r.threshold / r.mseMin).toBeCloseTo(Math.exp(chi2TwoDof(0.95) / d.loss.length), 12);
  });

  it("recovers a known saturation and says when the data cannot see it", () => {
    const wide = synthetic(truth, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 0.002);
    const r = eq1ProfileRegion(wide.N, wide.E, wide.loss);
    expect(saturationBounded(r), profileWords(r)).toBe(true);
    expect(truth.E_start).toBeGreaterThanOrEqual(r.E_start.lo);
    expect(truth.E_start).toBeLessThanOrEqual(r.E_start.hi);
    expect(truth.E_max).toBeGreaterThanOrEqual(r.E_max.lo);
    expect(truth.E_max).toBeLessThanOrEqual(r.E_max.hi);
    // The same law seen only up to E = 8, far below E_max = 100: nothing caps E_max.
    const narrow = synthetic(truth, [1, 2, 4, 8], 0.002);
    const n = eq1ProfileRegion(narrow.N, narrow.E, narrow.loss);
    expect(n.E_max.openHi, profileWords(n)).toBe(true);
    expect(saturationBounded(n)).toBe(false);
    expect(profileWords(n)).toMatch(/E_max \[[^\]]*>= 65500\]$/);
  });

  it("widens with the noise and with the level", () => {
    const d = synthetic(truth, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 0.002);
    const loud = synthetic(truth, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 0.01);
    const a = eq1ProfileRegion(d.N, d.E, d.loss);
    const b = eq1ProfileRegion(loud.N, loud.E, loud.loss);
    const c = eq1ProfileRegion(d.N, d.E, d.loss, { level: 0.5 });
    expect(b.inside).toBeGreaterThan(a.inside);
    expect(c.inside).toBeLessThan(a.inside);
    expect(c.inside).toBeGreaterThanOrEqual(1);
  });

  it("a lower bound on E_start cuts the grid there and says so when the region reaches it", () => {
    const near = { ...truth, E_start: 1.1 };
    const d = synthetic(near, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], 0.004);
    const free = eq1ProfileRegion(d.N, d.E, d.loss);
    const cut = eq1ProfileRegion(d.N, d.E, d.loss, { minStart: 1 });
    expect(cut.surface.log2Start[0]).toBe(0);
    // The same profile where both grids have points: the bound removes points, it changes none.
    const off = free.surface.log2Start.indexOf(0);
    for (let j = 0; j < cut.surface.log2Max.length; j++) {
      for (let i = 0; i < cut.surface.log2Start.length; i++) {
        expect(cut.surface.mse[j][i]).toBe(free.surface.mse[j][i + off]);
      }
    }
    expect(free.E_start.lo).toBeLessThan(1); // the data alone allow E_start below 1 ...
    expect(cut.E_start.lo).toBe(1); // ... so the bounded region reaches the bound,
    expect(cut.E_start.atMin).toBe(true); // which closes it there
    expect(cut.E_start.openLo).toBe(false);
    expect(profileWords(cut)).toMatch(/^E_start \[1 \(the bound\), /);
    expect(saturationBounded(cut), profileWords(cut)).toBe(true);
    // A bound below the grid changes nothing.
    const low = eq1ProfileRegion(d.N, d.E, d.loss, { minStart: 1e-3 });
    expect(low.E_start).toEqual(free.E_start);
    expect(() => eq1ProfileRegion(d.N, d.E, d.loss, { minStart: -1 })).toThrow(/minStart must/);
  });

  it("refuses too few runs and a level outside (0, 1)", () => {
    const d = synthetic(truth, [1, 4], 0.001);
    expect(() => eq1ProfileRegion(d.N.slice(0, 6), d.E.slice(0, 6), d.loss.slice(0, 6)))
      .toThrow(/at least 7 runs/);
    expect(() => eq1ProfileRegion(d.N, d.E, d.loss, { level: 1 })).toThrow(/level must be in/);
  });
});
