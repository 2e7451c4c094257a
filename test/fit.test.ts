import { beforeAll, describe, expect, it } from "vitest";
import {
  bilinearLaw,
  denseLaw,
  eq1Law,
  type Eq1Params,
  generalisedLaw,
  powerELaw,
  powerNLaw,
  separableLaw,
  TABLE3,
} from "../lib/laws/mod.ts";
import {
  bootstrap,
  evaluateFit,
  type FitData,
  fitLaw,
  fitPerGroup,
  heldOut,
  lbfgs,
  saturatingProblem,
} from "../lib/fit/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { generalisedData, mainData, type Technique, TECHNIQUES } from "./_release_data.ts";

/** Independent check: normal equations X'X b = X'y solved by Gauss-Jordan with partial pivoting. */
function normalEquations(rows: number[][], y: number[]): number[] {
  const p = rows[0].length;
  const M = Array.from({ length: p }, () => new Array(p + 1).fill(0));
  for (let i = 0; i < rows.length; i++) {
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) M[a][b] += rows[i][a] * rows[i][b];
      M[a][p] += rows[i][a] * y[i];
    }
  }
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = 0; r < p; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= p; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row, i) => row[p] / M[i][i]);
}

const data = {} as Record<Technique, { N: number[]; E: number[]; loss: number[] }>;
beforeAll(async () => {
  for (const t of TECHNIQUES) data[t] = await mainData(t);
});

describe("L-BFGS", () => {
  it("minimises the Rosenbrock function to its optimum (1, 1)", () => {
    const fg = (x: Float64Array, g: Float64Array) => {
      const a = 1 - x[0], b = x[1] - x[0] * x[0];
      g[0] = -2 * a - 400 * x[0] * b;
      g[1] = 200 * b;
      return a * a + 100 * b * b;
    };
    const r = lbfgs(fg, [-1.2, 1], { maxIter: 500, gtol: 1e-10, fScale: 1 });
    expect(r.converged).toBe(true);
    expect(r.x[0]).toBeCloseTo(1, 6);
    expect(r.x[1]).toBeCloseTo(1, 6);
    expect(r.iterations).toBeLessThan(100);
  });
});

describe("linear laws: exact least squares", () => {
  it("dense, separable and bilinear match the normal equations on the release", () => {
    for (const t of TECHNIQUES) {
      const d = data[t];
      const y = d.loss.map(Math.log10);
      const lN = d.N.map(Math.log10), lE = d.E.map(Math.log10);
      const sep = fitLaw(separableLaw, d);
      const ref = normalEquations(lN.map((v, i) => [v, lE[i], 1]), y);
      expect(sep.params.a).toBeCloseTo(ref[0], 9);
      expect(sep.params.b).toBeCloseTo(ref[1], 9);
      expect(sep.params.d).toBeCloseTo(ref[2], 9);
      const bil = fitLaw(bilinearLaw, d);
      const rb = normalEquations(lN.map((v, i) => [v, lE[i], v * lE[i], 1]), y);
      const ours = [bil.params.a, bil.params.b, bil.params.c, bil.params.d];
      for (let j = 0; j < 4; j++) expect(ours[j]).toBeCloseTo(rb[j], 8);
      // The bilinear law nests the separable one: never a worse fit.
      expect(bil.mse_log10).toBeLessThanOrEqual(sep.mse_log10 + 1e-15);
    }
    const dense = {
      N: data["S-Base"].N.filter((_, i) => data["S-Base"].E[i] === 1),
      loss: data["S-Base"].loss.filter((_, i) => data["S-Base"].E[i] === 1),
    };
    const f = fitLaw(denseLaw, dense);
    const r = normalEquations(dense.N.map((n) => [Math.log10(n), 1]), dense.loss.map(Math.log10));
    expect(f.params.a).toBeCloseTo(r[0], 10);
    expect(f.params.d).toBeCloseTo(r[1], 10);
    expect(f.n).toBe(5);
  });
  it("per-N power laws: one fit per size; |b(N)| shrinks from 15M to 1.3B", () => {
    const d = data["S-Base"];
    const groups = fitPerGroup(powerELaw, d, "N");
    expect(groups.length).toBe(6);
    const bs = groups.map((g) => g.fit!.params.b);
    expect(bs.every((b) => b < 0)).toBe(true);
    expect(Math.abs(bs[bs.length - 1])).toBeLessThan(Math.abs(bs[0]));
    // Per-E power laws in N: one per expert count present (E = 1 is the dense line).
    const perE = fitPerGroup(powerNLaw, d, "E");
    expect(perE.map((g) => g.value)).toEqual([...new Set(d.E)].sort((a, b) => a - b));
    for (const g of perE) if (g.fit) expect(g.fit.params.a).toBeLessThan(0);
    const dense = fitLaw(denseLaw, {
      N: d.N.filter((_, i) => d.E[i] === 1),
      loss: d.loss.filter((_, i) => d.E[i] === 1),
    });
    expect(perE[0].fit!.params.a).toBeCloseTo(dense.params.a, 12);
  });
  it("Huber on a linear law agrees with least squares when no residual exceeds delta", () => {
    const d = data["RL-R"];
    const ls = fitLaw(bilinearLaw, d);
    const hb = fitLaw(bilinearLaw, d, { loss: "huber", huberDelta: 1 });
    expect(hb.converged).toBe(true);
    expect(hb.params.a).toBeCloseTo(ls.params.a, 6);
    expect(hb.params.c).toBeCloseTo(ls.params.c, 6);
  });
});

/**
 * The joint objective's gradient at `joint` ([a, b', c, d', u, v]) and variable projection's
 * reduced gradient at `reduced` ([u, v]) against central differences of the objectives.
 */
function expectCentralDifferences(
  prob: ReturnType<typeof saturatingProblem>,
  joint: number[],
  reduced: number[],
): void {
  const cases = [
    { fg: prob.jointFG, at: joint, tol: (fd: number) => 1e-8 * Math.max(1, Math.abs(fd)) + 1e-12 },
    // Variable projection: reduced gradient = finite difference of the reduced objective.
    { fg: prob.varproFG, at: reduced, tol: () => 1e-9 },
  ];
  for (const { fg, at, tol } of cases) {
    const th = Float64Array.from(at), g = new Float64Array(at.length);
    const tmp = new Float64Array(at.length);
    fg(th, g);
    for (let k = 0; k < at.length; k++) {
      const h = 1e-6, up = th.slice(), dn = th.slice();
      up[k] += h;
      dn[k] -= h;
      const fd = (fg(up, tmp) - fg(dn, tmp)) / (2 * h);
      expect(Math.abs(g[k] - fd)).toBeLessThan(tol(fd));
    }
  }
}

describe("Eq. (1) on the authors' release", () => {
  const fits = {} as Record<Technique, ReturnType<typeof fitLaw<Eq1Params>>>;
  beforeAll(() => {
    for (const t of TECHNIQUES) fits[t] = fitLaw(eq1Law, data[t], { restarts: 500, seed: 0 });
  });
  it("our MSE is strictly lower than Table 3's on the same data; converged", () => {
    for (const t of TECHNIQUES) {
      const ours = fits[t];
      const table = evaluateFit(eq1Law, TABLE3[t], data[t]);
      expect(ours.n).toBe(data[t].loss.length);
      expect(ours.converged).toBe(true);
      expect(ours.mse_log10).toBeLessThan(table.mse_log10);
      expect(ours.params.E_start).toBeLessThan(ours.params.E_max);
      // rmse_loss and max_residual_loss: the loss residuals (nats) at the fit, recomputed here.
      const res = Array.from(
        data[t].loss,
        (y, i) =>
          Math.pow(10, eq1Law.predictLog10(ours.params, { N: data[t].N[i], E: data[t].E[i] })) -
          y,
      );
      const rms = Math.sqrt(res.reduce((s, r) => s + r * r, 0) / res.length);
      expect(ours.rmse_loss / rms).toBeCloseTo(1, 10);
      expect(ours.max_residual_loss / Math.max(...res.map(Math.abs))).toBeCloseTo(1, 10);
      expect(ours.rmse_loss).toBeGreaterThan(0.001); // dozens of runs on 6 parameters: no exact fit
      expect(ours.max_residual).toBeGreaterThanOrEqual(Math.sqrt(ours.mse_log10));
    }
  });
  it("five restart seeds agree on the optimum", () => {
    for (const t of TECHNIQUES) {
      const m = [1, 2, 3, 4, 5].map((s) => fitLaw(eq1Law, data[t], { restarts: 500, seed: s }));
      for (const f of m) {
        expect(Math.abs(f.mse_log10 - fits[t].mse_log10) / fits[t].mse_log10).toBeLessThan(1e-6);
        expect(f.params.c).toBeCloseTo(fits[t].params.c, 5);
      }
    }
  });
  it("variable projection and joint L-BFGS reach the same optimum", () => {
    for (const t of TECHNIQUES) {
      const j = fitLaw(eq1Law, data[t], { restarts: 200, seed: 9, method: "joint" });
      expect(Math.abs(j.mse_log10 - fits[t].mse_log10) / fits[t].mse_log10).toBeLessThan(1e-6);
      expect(j.params.a).toBeCloseTo(fits[t].params.a, 5);
      expect(Math.log2(j.params.E_max)).toBeCloseTo(Math.log2(fits[t].params.E_max), 3);
    }
  });
  it("the optimiser's objective gradients match finite differences", () => {
    const prob = saturatingProblem(eq1Law, data["Hash"]);
    expectCentralDifferences(prob, [-0.08, -0.05, 0.01, 0.4, 1.3, 2.0], [1.3, 2.0]);
  });
  it("a lower bound on E_start: inactive where the optimum lies above it, binding where not", () => {
    for (const t of TECHNIQUES) {
      // Table 3's E_start are 1.8-4.2: a bound of 1 must leave the optimum where it is, though
      // the optimiser now works in other coordinates (ls = softplus(u)).
      const b1 = fitLaw(eq1Law, data[t], { restarts: 200, seed: 9, minStart: 1 });
      expect(Math.abs(b1.mse_log10 - fits[t].mse_log10) / fits[t].mse_log10).toBeLessThan(1e-6);
      expect(Math.log2(b1.params.E_start)).toBeCloseTo(Math.log2(fits[t].params.E_start), 3);
      expect(b1.params.c).toBeCloseTo(fits[t].params.c, 5);
      // A bound above the optimum binds: the fit sits on it, never below, and fits worse.
      const b16 = fitLaw(eq1Law, data[t], { restarts: 50, seed: 9, minStart: 16 });
      expect(b16.params.E_start).toBeGreaterThanOrEqual(16);
      expect(b16.params.E_start).toBeLessThan(16 * 1.001);
      expect(b16.params.E_max).toBeGreaterThan(b16.params.E_start);
      expect(b16.mse_log10).toBeGreaterThan(fits[t].mse_log10 * 1.01);
    }
    expect(() => fitLaw(eq1Law, data.Hash, { restarts: 5, minStart: -1 })).toThrow(
      /minStart must be a finite number >= 0/,
    );
  });
  it("bootstrap resamples respect the E_start bound", () => {
    const b = bootstrap(eq1Law, data["Hash"], { resamples: 8, restarts: 5, minStart: 16 });
    expect(b.fit.params.E_start).toBeGreaterThanOrEqual(16);
    expect(Math.min(...b.samples.E_start)).toBeGreaterThanOrEqual(16);
    expect(b.intervals.E_start[0]).toBeGreaterThanOrEqual(16);
  });
  it("bounded coordinates: gradients match finite differences", () => {
    const prob = saturatingProblem(eq1Law, data["Hash"], 2);
    expect(prob.lsOf(prob.uOf(3))).toBeCloseTo(3, 12);
    // Every u maps to or above log2 2 = 1.
    expect(prob.lsOf(-40)).toBeGreaterThanOrEqual(1);
    expect(prob.lsOf(-5)).toBeGreaterThan(1);
    expectCentralDifferences(prob, [-0.08, -0.05, 0.01, 0.4, 0.3, 2.0], [-0.7, 2.0]);
  });
  it("Huber objective fits and stays close to the MSE fit", () => {
    const h = fitLaw(eq1Law, data["S-Base"], { restarts: 100, seed: 0, loss: "huber" });
    expect(h.method).toBe("joint");
    expect(h.mse_log10).toBeGreaterThanOrEqual(fits["S-Base"].mse_log10 * (1 - 1e-9));
    expect(h.mse_log10).toBeLessThan(2 * fits["S-Base"].mse_log10);
  });
  it("held out: fit on <= 370M, the 1.3B runs are predicted within 3%", () => {
    for (const t of TECHNIQUES) {
      const h = heldOut(eq1Law, data[t], { restarts: 200, seed: 0 });
      expect(h.nTest).toBe(data[t].N.filter((n) => n > 1e9).length);
      expect(h.nTrain + h.nTest).toBe(data[t].N.length);
      expect(h.mean_abs_rel_error).toBeLessThan(0.03);
    }
  });
});

describe("bootstrap", () => {
  it("recovers known coefficients from synthetic data inside the 95% intervals", () => {
    const truth: Eq1Params = { a: -0.083, b: -0.12, c: 0.01, d: 1.11, E_start: 2, E_max: 300 };
    const rng = new Rng(2024);
    const N: number[] = [], E: number[] = [], loss: number[] = [];
    for (const n of [1.6e7, 2.7e7, 5.7e7, 1.3e8, 3.7e8, 1.3e9]) {
      for (const e of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) {
        N.push(n);
        E.push(e);
        loss.push(Math.pow(10, eq1Law.predictLog10(truth, { N: n, E: e }) + 0.003 * rng.normal()));
      }
    }
    const bs = bootstrap(eq1Law, { N, E, loss }, { resamples: 200, restarts: 20, seed: 3 });
    for (const k of eq1Law.paramNames) {
      const [lo, hi] = bs.intervals[k];
      expect(lo).toBeLessThan(truth[k]);
      expect(hi).toBeGreaterThan(truth[k]);
    }
    expect(bs.intervals.N_cutoff[0]).toBeLessThan(bs.intervals.N_cutoff[1]);
  });
  it("real release: intervals contain the full-data fit; EPC(5M, 128) interval", () => {
    const bs = bootstrap(eq1Law, data["S-Base"], { resamples: 100, restarts: 20, seed: 1 });
    for (const k of [...eq1Law.paramNames, "N_cutoff", "EPC_5M_128"]) {
      const [lo, hi] = bs.intervals[k];
      expect(lo).toBeLessThanOrEqual(hi);
    }
    for (const k of eq1Law.paramNames) {
      const [lo, hi] = bs.intervals[k];
      expect(bs.fit.params[k]).toBeGreaterThan(lo);
      expect(bs.fit.params[k]).toBeLessThan(hi);
    }
    expect(bs.samples.a.length).toBe(100);
  });
  it("reports every resample (for progress displays) and reuses a full fit it is given", () => {
    const d = data["Hash"];
    const seen: [number, number][] = [];
    const a = bootstrap(eq1Law, d, {
      resamples: 12,
      restarts: 5,
      fitRestarts: 50,
      seed: 2,
      onResample: (done, total) => seen.push([done, total]),
    });
    // (0, total) once the full fit is done, then one call per resample
    expect(seen).toEqual(Array.from({ length: 13 }, (_, i) => [i, 12]));
    // Given the full fit, the bootstrap does not refit it and draws the same resamples.
    const fit = fitLaw(eq1Law, d, { restarts: 50, seed: 2 });
    const b = bootstrap(eq1Law, d, { resamples: 12, restarts: 5, seed: 2, fit });
    expect(b.fit).toBe(fit);
    expect(b.intervals).toEqual(a.intervals);
  });
});

describe("generalised law in (F, Bhat) over all sweeps", () => {
  it("fits every technique's runs (all R and k) to about 1% RMSE", async () => {
    for (const t of TECHNIQUES) {
      const d = await generalisedData(t);
      // More runs than the main sweep: the R and top-k runs and the FLOP-matched dense baselines.
      expect(d.loss.length).toBeGreaterThan(data[t].loss.length);
      const f = fitLaw(generalisedLaw, d, { restarts: 200, seed: 0 });
      expect(f.converged).toBe(true);
      expect(f.params.B_start).toBeLessThan(f.params.B_max);
      const mean = d.loss.reduce((s, v) => s + v, 0) / d.loss.length;
      expect(f.rmse_loss / mean).toBeLessThan(0.015);
      // Routing helps less at larger F (c > 0), as in Eq. (1).
      expect(f.params.b).toBeLessThan(0);
      expect(f.params.c).toBeGreaterThan(0);
    }
  });
});

describe("bad input", () => {
  const good = {
    N: [1e7, 2e7, 4e7, 8e7, 1.6e8, 3.2e8, 6.4e8],
    E: [1, 2, 4, 8, 16, 32, 64],
    loss: [3, 2.9, 2.8, 2.7, 2.6, 2.5, 2.4],
  };
  const bad = (patch: Partial<FitData>): FitData => ({ ...good, ...patch });
  it("clear errors", () => {
    expect(() => fitLaw(eq1Law, { N: [1e7, 2e7], E: [1, 2], loss: [3, 2.9] })).toThrow(
      /2 points for 6 parameters/,
    );
    expect(() => fitLaw(eq1Law, bad({ loss: [3, NaN, 2.8, 2.7, 2.6, 2.5, 2.4] }))).toThrow(
      /loss\[1\] is NaN/,
    );
    expect(() => fitLaw(eq1Law, bad({ loss: [3, 0, 2.8, 2.7, 2.6, 2.5, 2.4] }))).toThrow(
      /not positive/,
    );
    expect(() => fitLaw(eq1Law, bad({ E: [0.5, 2, 4, 8, 16, 32, 64] }))).toThrow(
      /E\[0\] = 0.5; E \(experts\) must be >= 1/,
    );
    expect(() => fitLaw(separableLaw, bad({ N: [0, 2e7, 4e7, 8e7, 1.6e8, 3.2e8, 6.4e8] }))).toThrow(
      /N\[0\] = 0/,
    );
    expect(() => fitLaw(eq1Law, { N: good.N, loss: good.loss })).toThrow(/no 'E' column/);
    expect(() => fitLaw(eq1Law, bad({ E: [1, 2] }))).toThrow(
      /column E has 2 values but loss has 7/,
    );
    expect(() => fitLaw(eq1Law, good, { restarts: 0 })).toThrow(/restarts/);
    expect(() => heldOut(eq1Law, good, { maxTrainN: 1e12 })).toThrow(/no runs with N >/);
  });
});
