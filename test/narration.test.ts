/**
 * The numbers the notebooks' narration (notebooks 00-35, and notebook 50's description of the
 * committed standard sweep) states as results, recomputed with lib.
 * Each claim's numbers are read from the notebook's markdown, so narration edited without the
 * numbers holding fails here, and so does a change in lib that moves a number the text states.
 * Claims that need a bootstrap are shown by a cell's output instead (notebook 20's interval
 * spans and Table 3 coverage; the intervals of the comparison figure).
 *
 * How a stated number is read: "~X" holds within 10% of X; "within ~X" means at most 1.1 X;
 * "up to ~X" is about the largest value; a range "lo-hi" holds for values that round into it at
 * the range's precision; "under X" is strict. Fits use few restarts (they converge here to the
 * same optimum as the notebooks' 500).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pl from "nodejs-polars";
import {
  finalSteps,
  loadRelease,
  mainSweep,
  routingFrequencySweep,
  topKSweep,
  trainingCurves,
} from "../lib/release/mod.ts";
import {
  computeLawData,
  denseFitTable,
  type Eq1Fit,
  fitEq1PerTechnique,
  lawsOverTraining,
  residualData,
} from "../lib/analysis/mod.ts";
import {
  effectiveParameterCount,
  nCutoff,
  PAPER_DENSE,
  PAPER_EPC_EXAMPLE,
  PAPER_N_CUTOFF,
  TABLE3,
} from "../lib/laws/mod.ts";
import { loadShippedSweep } from "../lib/sweep/mod.ts";
import { curvesPath } from "./_curves.ts";

const TECHNIQUES = ["S-Base", "RL-R", "Hash"] as const;

/** One cell's text, line breaks as spaces (a sentence may wrap anywhere). */
function cell(notebook: string, id: string): string {
  const path = fileURLToPath(new URL(`../notebooks/${notebook}.ipynb`, import.meta.url));
  const nb = JSON.parse(readFileSync(path, "utf8")) as {
    cells: { id: string; source: string[] }[];
  };
  const c = nb.cells.find((c) => c.id === id);
  if (!c) throw new Error(`${notebook}: no cell ${id}; the narration moved: update this test`);
  return c.source.join("").replace(/\s+/g, " ");
}

/** The groups of `re` in a cell's text; throws naming the claim when the text no longer says it. */
function claim(notebook: string, id: string, re: RegExp): string[] {
  const m = cell(notebook, id).match(re);
  if (!m) {
    throw new Error(
      `${notebook} cell ${id} no longer states ${re}: check the new narration's numbers and ` +
        `update this test to read them`,
    );
  }
  return m.slice(1);
}

const WORDS: Record<string, number> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
};

/** "0.018", "250,000", "Five", "55M", "1.3B" as numbers. */
function num(s: string): number {
  const w = WORDS[s.toLowerCase()];
  if (w !== undefined) return w;
  const m = s.replace(/,/g, "").match(/^([\d.]+(?:e\d+)?)([KMB]?)$/);
  if (!m) throw new Error(`not a number: ${s}`);
  return Number(m[1]) * ({ "": 1, K: 1e3, M: 1e6, B: 1e9 }[m[2]] as number);
}

/** Decimals of a number as written ("0.03" -> 2). */
function decimals(s: string): number {
  return s.includes(".") ? s.split(".")[1].length : 0;
}

/** "~X": within 10% of X. */
function expectNear(value: number, stated: string, what: string): void {
  const x = num(stated);
  expect(Math.abs(value - x), `${what} = ${value}, narration says ~${stated}`).toBeLessThanOrEqual(
    0.1 * Math.abs(x),
  );
}

/** "lo-hi": the value rounds into the range at its precision. */
function expectInRange(value: number, lo: string, hi: string, what: string): void {
  const d = Math.max(decimals(lo), decimals(hi));
  const r = Number(value.toFixed(d));
  expect(r, `${what} = ${value}, narration says ${lo}-${hi}`).toBeGreaterThanOrEqual(num(lo));
  expect(r, `${what} = ${value}, narration says ${lo}-${hi}`).toBeLessThanOrEqual(num(hi));
}

let df: pl.DataFrame, main: pl.DataFrame, eq1: Record<string, Eq1Fit>;

beforeAll(async () => {
  df = await loadRelease({ path: curvesPath() });
  main = mainSweep(df);
  eq1 = fitEq1PerTechnique(main, { restarts: 50, seed: 0 });
});

describe("00 · a tour of the release", () => {
  it("evaluations every 10,000 steps up to ~250,000, 130B tokens at batch 256 x 2048; six losses", () => {
    const [every, last, tokens, batch, seq] = claim(
      "00_tour_of_the_release",
      "c003",
      /every ([\d,]+) steps up to ~([\d,]+), i\.e\. (\d+B) tokens at batch (\d+) x (\d+)/,
    );
    const steps = [...new Set(df.getColumn("step").toArray() as number[])].sort((a, b) => a - b);
    const gaps = steps.slice(1).map((s, i) => s - steps[i]);
    const common = gaps.filter((g) => g === num(every)).length;
    expect(common, "most evaluations are that many steps apart").toBeGreaterThan(gaps.length / 2);
    expectNear(steps.at(-1)!, last, "last step");
    const curves = trainingCurves(df);
    const maxTokens = Math.max(...(curves.getColumn("tokens").toArray() as number[]));
    expectNear(maxTokens, tokens, "tokens at the last step");
    expect(maxTokens).toBe(steps.at(-1)! * num(batch) * num(seq));
    const [losses] = claim("00_tour_of_the_release", "c003", /and (\w+) losses in nats per token/);
    expect(df.columns.filter((c) => c.startsWith("loss_")).length).toBe(num(losses));
  });

  it("the main sweep's gaps are the ones the narration lists; dense 130M has seeds 1, 2, 3 only", () => {
    const [listed] = claim("00_tour_of_the_release", "c007", /release itself: (.*?), and dense/);
    const stated = new Set<string>();
    for (const m of listed.matchAll(/(S-Base|RL-R|Hash) (\S+) ((?:E=\d+(?: and )?)+)/g)) {
      for (const e of m[3].matchAll(/E=(\d+)/g)) stated.add(`${m[1]} ${m[2]} E=${e[1]}`);
    }
    expect(stated.size).toBeGreaterThan(0);
    const rows = main.select("technique", "model_size_label", "E").toRecords() as {
      technique: string;
      model_size_label: string;
      E: number;
    }[];
    const have = new Set(rows.map((r) => `${r.technique} ${r.model_size_label} E=${r.E}`));
    const routedE = [...new Set(rows.map((r) => r.E))].filter((e) => e > 1);
    const sizes = [...new Set(rows.map((r) => r.model_size_label))];
    const missing = new Set<string>();
    for (const t of TECHNIQUES) {
      for (const s of sizes) {
        for (const e of routedE) if (!have.has(`${t} ${s} E=${e}`)) missing.add(`${t} ${s} E=${e}`);
      }
    }
    expect([...missing].sort()).toEqual([...stated].sort());
    const [seeds] = claim("00_tour_of_the_release", "c007", /only seeds ([\d, ]+)\)/);
    const dense130 = finalSteps(df).filter(
      pl.col("router_type").eq(pl.lit("Dense")).and(pl.col("model_size_label").eq(pl.lit("130M")))
        .and(pl.col("flop_increase").eq(1)),
    );
    expect((dense130.getColumn("seed").toArray() as number[]).sort()).toEqual(
      seeds.split(",").map((s) => num(s.trim())),
    );
  });

  /** The most expert counts (dense as E = 1 included) of one technique at one size. */
  const mostExpertCounts = () =>
    Math.max(
      ...(main.groupBy(["technique", "model_size_label"]).agg(pl.col("E").nUnique().alias("n"))
        .getColumn("n").toArray() as number[]),
    );

  it("the main sweep has dense plus E = 2...512: ten expert counts at most", () => {
    claim(
      "00_tour_of_the_release",
      "c007",
      /\(\d+ expert counts at most: dense plus E = 2\.\.\.512\)/,
    );
    const E = [...new Set(main.getColumn("E").toArray() as number[])].sort((a, b) => a - b);
    expect(E).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
    expect(mostExpertCounts()).toBe(E.length);
  });

  it("notebook 00's count of expert counts is the release's", () => {
    const [n] = claim("00_tour_of_the_release", "c007", /\((\d+) expert counts at most/);
    expect(mostExpertCounts()).toBe(num(n));
  });
});

describe("10 · laws in N and E", () => {
  it("the paper's dense law as quoted; five seed-42 dense runs, 15M to 1.3B without 130M", () => {
    const [alpha, nc, kAlpha, kNc] = claim(
      "10_laws_in_n_and_e",
      "c003",
      /alpha_N = ([\d.]+) and N_c = ([\d.e]+) \(Kaplan et al\. 2020: ([\d.]+), ([\d.e]+)\)/,
    );
    expect(PAPER_DENSE.alpha_N).toBe(num(alpha));
    expect(PAPER_DENSE.N_c).toBe(num(nc));
    const table = denseFitTable(main).toRecords() as Record<string, unknown>[];
    expect(table.map((r) => r.kaplan_2020).slice(0, 2)).toEqual([num(kAlpha), num(kNc)]);
    const [count, lo, hi, without] = claim(
      "10_laws_in_n_and_e",
      "c003",
      /(\w+) seed-42 dense runs \((\S+) \.\.\. (\S+), no (\S+)\)/,
    );
    expect(table.find((r) => r.quantity === "dense runs")!.ours).toBe(num(count));
    const labels = [
      ...new Set(
        main.filter(pl.col("E").eq(1)).sort("N").getColumn("model_size_label")
          .toArray() as string[],
      ),
    ];
    expect(labels).not.toContain(without);
    expect([labels[0], labels.at(-1)]).toEqual([lo, hi]);
  });

  it("residuals: separable up to ~5 %, bilinear and Eq. (1) under their stated bounds", () => {
    const [sep, bil, eq] = claim(
      "10_laws_in_n_and_e",
      "c007",
      /separable law leaves structured residuals of up to ~([\d.]+) %; the bilinear law brings them under ([\d.]+) % and Eq\. \(1\) under ([\d.]+) %/,
    );
    const rows = residualData(main, { restarts: 50, seed: 0 });
    const worst = (law: string) =>
      Math.max(...rows.filter((r) => r.law === law).map((r) => Math.abs(r.residual_pct)));
    expectNear(worst("separable"), sep, "largest |residual| of the separable law (%)");
    expect(worst("bilinear")).toBeLessThan(num(bil));
    expect(worst("Eq. (1) refit")).toBeLessThan(num(eq));
  });
});

describe("20 · saturation and the techniques", () => {
  it("the stated fit settings are the ones the notebook's cell uses", () => {
    const [restarts] = claim(
      "20_saturation_and_techniques",
      "c000",
      /MSE of log10 L, (\d+) random restarts/,
    );
    const [resamples] = claim(
      "20_saturation_and_techniques",
      "c003",
      /bootstrap interval \((\d+) resamples\)/,
    );
    const code = cell("20_saturation_and_techniques", "c002");
    expect(code).toContain(`restarts: ${restarts},`);
    expect(code).toContain(`resamples: ${resamples},`);
  });

  it("a, c and d land within ~0.01 of Table 3", () => {
    const [names, tol] = claim(
      "20_saturation_and_techniques",
      "c003",
      /([a-z](?:, [a-z])* and [a-z]) land within ~([\d.]+) of the paper/,
    );
    const keys = names.split(/, | and /) as ("a" | "c" | "d")[];
    expect(keys).toEqual(["a", "c", "d"]);
    for (const t of TECHNIQUES) {
      for (const k of keys) {
        expect(Math.abs(eq1[t].params[k] - TABLE3[t][k]), `${t} ${k}`).toBeLessThanOrEqual(
          1.1 * num(tol),
        );
      }
    }
  });

  it("S-BASE has the largest N_cutoff; Table 3's rounded coefficients miss the printed N_cutoff", () => {
    claim("20_saturation_and_techniques", "c011", /S-BASE has the largest N_cutoff/);
    for (const t of ["RL-R", "Hash"]) {
      expect(eq1["S-Base"].N_cutoff).toBeGreaterThan(eq1[t].N_cutoff);
    }
    claim(
      "20_saturation_and_techniques",
      "c011",
      /rounded Table 3 differs from the values printed/,
    );
    for (const t of TECHNIQUES) {
      expect(Math.abs(nCutoff(TABLE3[t]) / PAPER_N_CUTOFF[t] - 1)).toBeGreaterThan(0.05);
    }
  });
});

describe("25 · EPC and N_cutoff", () => {
  it("the paper's EPC example as quoted; our refit and Table 3 agree on its order of magnitude", () => {
    const [N, E, Nbar] = claim(
      "25_epc_and_ncutoff",
      "c003",
      /N = (\S+) with E = (\d+) is worth about a (\S+) dense model/,
    );
    expect(PAPER_EPC_EXAMPLE).toEqual({ N: num(N), E: num(E), Nbar: num(Nbar) });
    claim("25_epc_and_ncutoff", "c003", /Our refit and Table 3 agree on the order of magnitude/);
    const decade = (x: number) => Math.floor(Math.log10(x));
    for (const t of TECHNIQUES) {
      const ours = effectiveParameterCount(eq1[t].params, num(N), num(E));
      const paper = effectiveParameterCount(TABLE3[t], num(N), num(E));
      expect(decade(ours), t).toBe(decade(paper));
      expect(decade(ours), t).toBe(decade(num(Nbar)));
    }
  });

  it("the dense 130M point of Figure 1 is the mean of its three seeds, none of them 42", () => {
    const [n] = claim(
      "25_epc_and_ncutoff",
      "c008",
      /dense 130M point is the mean of its (\w+) seeds/,
    );
    const seeds = finalSteps(df).filter(
      pl.col("router_type").eq(pl.lit("Dense")).and(pl.col("model_size_label").eq(pl.lit("130M")))
        .and(pl.col("flop_increase").eq(1)),
    ).getColumn("seed").toArray() as number[];
    expect(seeds.length).toBe(num(n));
    expect(seeds).not.toContain(42);
  });

  it("N_cutoff as printed in the paper's text, at 130B training tokens", () => {
    const [s, r, h, tokens] = claim(
      "25_epc_and_ncutoff",
      "c010",
      /as (\S+) \(S-BASE\), (\S+) \(RL-R\) and (\S+) \(HASH\), at (\S+) training tokens/,
    );
    expect([s, r, h].map(num)).toEqual(TECHNIQUES.map((t) => PAPER_N_CUTOFF[t]));
    const maxTokens = Math.max(...(trainingCurves(df).getColumn("tokens").toArray() as number[]));
    expectNear(maxTokens, tokens, "tokens at the last step");
  });
});

describe("30 · the compute law", () => {
  it("RMSE 0.02-0.03 nats per technique, Eq. (1) ~0.018; routing-frequency runs scatter most", () => {
    const [lo, hi, eqRmse, rf] = claim(
      "30_compute_law",
      "c004",
      /RMSE of ([\d.]+)-([\d.]+) nats \(Eq\. \(1\) on the main sweep alone: ~([\d.]+)\); the routing-frequency runs \(squares\) scatter most, up to ~([\d.]+) nat for S-BASE/,
    );
    const fits = computeLawData(finalSteps(df), { restarts: 50, seed: 0 });
    for (const f of fits) {
      expectInRange(f.fit.rmse_loss, lo, hi, `${f.technique} generalised-law RMSE`);
      const worst = (sweep: string) =>
        Math.max(
          0,
          ...f.points.filter((p) => p.sweep === sweep).map((p) => Math.abs(p.loss - p.predicted)),
        );
      if (f.points.some((p) => p.sweep === "routing frequency")) {
        for (const other of ["dense", "main", "top-k"]) {
          expect(worst("routing frequency"), `${f.technique} vs ${other}`).toBeGreaterThan(
            worst(other),
          );
        }
      }
      if (f.technique === "S-Base") {
        expectNear(worst("routing frequency"), rf, "S-BASE's largest routing-frequency error");
      }
    }
    for (const t of TECHNIQUES) expectNear(eq1[t].rmse_loss, eqRmse, `${t} Eq. (1) RMSE`);
  });
});

describe("32 · ablations", () => {
  /** Mean loss of the rows matching, per value of `by`. */
  function meanBy(frame: pl.DataFrame, by: string): Map<number, number> {
    const m = new Map<number, number[]>();
    for (const r of frame.toRecords() as Record<string, number>[]) {
      m.set(Number(r[by]), [...(m.get(Number(r[by])) ?? []), Number(r.loss)]);
    }
    return new Map([...m].map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length]));
  }

  it("at 370M, HASH gains nothing from R = 0.5 to R = 1 at E = 64 and 256; S-BASE keeps improving", () => {
    const [size, r0, r1, e0, e1] = claim(
      "32_ablations",
      "c003",
      /at (\S+), HASH gains nothing from R = ([\d.]+) to R = ([\d.]+) at E = (\d+) and (\d+), while S-BASE keeps improving/,
    );
    const rf = routingFrequencySweep(df);
    for (const E of [e0, e1].map(num)) {
      for (const t of ["Hash", "S-Base"]) {
        const at = meanBy(
          rf.filter(
            pl.col("technique").eq(pl.lit(t)).and(pl.col("model_size_label").eq(pl.lit(size)))
              .and(pl.col("E").eq(E)),
          ),
          "R",
        );
        const gain = at.get(num(r0))! - at.get(num(r1))!;
        if (t === "Hash") expect(gain, `Hash E=${E}`).toBeLessThanOrEqual(0);
        else expect(gain, `S-Base E=${E}`).toBeGreaterThan(0);
      }
    }
  });

  it("routing-frequency cells hold two runs at most (the lines go through their mean)", () => {
    const [n] = claim("32_ablations", "c003", /mean where a cell has (\w+) runs/);
    const cells = routingFrequencySweep(df).groupBy(["technique", "model_size_label", "E", "R"])
      .agg(pl.col("loss").count().alias("runs"));
    expect(Math.max(...(cells.getColumn("runs").toArray() as number[]))).toBe(num(n));
  });

  it("k = 2 and 4 lower the loss for 1.1-1.6x the FLOPs; wider dense models gain more per FLOP, stay above", () => {
    const [ks, lo, hi] = claim(
      "32_ablations",
      "c006",
      /k = (\d+(?: and \d+)*) lower the loss a little at each E, for ([\d.]+)-([\d.]+)x the FLOPs/,
    );
    claim("32_ablations", "c006", /improve more per FLOP, but stay above the routed models/);
    const tk = topKSweep(df).toRecords() as {
      router_type: string;
      model_size_label: string;
      E: number;
      k: number;
      F: number;
      loss: number;
    }[];
    const sizes = [
      ...new Set(tk.filter((r) => r.router_type !== "Dense").map((r) => r.model_size_label)),
    ];
    for (const size of sizes) {
      const here = tk.filter((r) => r.model_size_label === size);
      const dense = here.filter((r) => r.router_type === "Dense").sort((a, b) => a.F - b.F);
      const routed = here.filter((r) => r.router_type !== "Dense");
      const slope = (a: { F: number; loss: number }, b: { F: number; loss: number }) =>
        (b.loss - a.loss) / Math.log(b.F / a.F);
      const denseSlope = slope(dense[0], dense.at(-1)!);
      for (const E of new Set(routed.map((r) => r.E))) {
        const byK = new Map(routed.filter((r) => r.E === E).map((r) => [r.k, r]));
        const base = byK.get(1)!;
        for (const k of ks.split(" and ").map(num)) {
          const r = byK.get(k)!;
          expect(r.loss, `${size} E=${E} k=${k}`).toBeLessThan(base.loss);
          expectInRange(r.F / base.F, lo, hi, `${size} E=${E} k=${k} FLOPs ratio`);
        }
        expect(denseSlope, `${size} E=${E}`).toBeLessThan(slope(base, byK.get(4)!));
      }
      const worstRouted = Math.max(...routed.map((r) => r.loss));
      for (const d of dense.slice(1)) expect(d.loss, `${size} dense`).toBeGreaterThan(worstRouted);
    }
  });
});

describe("35 · the laws along training", () => {
  it("every 10,000th step, five other sets, 130B tokens; E_max and N_cutoff grow with training", () => {
    const [every] = claim(
      "35_training_and_downstream",
      "c000",
      /release has every ([\d,]+)th step/,
    );
    const steps = [...new Set(df.getColumn("step").toArray() as number[])].sort((a, b) => a - b);
    expect(steps.filter((s) => s % num(every) === 0).length).toBeGreaterThan(steps.length * 0.8);
    const [others] = claim("35_training_and_downstream", "c000", /the (\w+) other evaluation sets/);
    expect(df.columns.filter((c) => c.startsWith("loss_") && c !== "loss_validation").length)
      .toBe(num(others));
    const [final, budget] = [
      claim("35_training_and_downstream", "c000", /use the final step \((\S+) tokens\)/)[0],
      claim("35_training_and_downstream", "c003", /its (\S+)-token budget/)[0],
    ];
    const maxTokens = Math.max(...(trainingCurves(df).getColumn("tokens").toArray() as number[]));
    expectNear(maxTokens, final, "tokens at the last step");
    expectNear(maxTokens, budget, "tokens at the last step");
    claim("35_training_and_downstream", "c003", /Both E_max and N_cutoff grow with training/);
    const rows = lawsOverTraining(df, main, { restarts: 5, seed: 0 });
    for (const t of TECHNIQUES) {
      const g = rows.filter((r) => r.technique === t);
      expect(g.at(-1)!.E_max, t).toBeGreaterThan(g[0].E_max);
      expect(g.at(-1)!.N_cutoff, t).toBeGreaterThan(g[0].N_cutoff);
    }
  });
});

describe("notebook 50: the committed standard sweep as its narration describes it", () => {
  const NB = "50_our_own_sweep";
  const shipped = () =>
    loadShippedSweep(fileURLToPath(new URL("../data/ours/standard", import.meta.url)));

  it("sizes, d_model range, tokens a run and seeds as stated", () => {
    const s = shipped();
    const [sizes, lo, hi, tokens] = claim(
      NB,
      "ed18a0b3",
      /(\w+) sizes, d_model (\d+) to (\d+), E from 1 to 32, S-BASE, RL-R and HASH, ([\d.]+M) tokens a run/,
    );
    const widths = s.spec.sizes.map((z) => z.dModel);
    expect(s.spec.sizes.length).toBe(num(sizes));
    expect(Math.min(...widths)).toBe(num(lo));
    expect(Math.max(...widths)).toBe(num(hi));
    const run = JSON.parse(String(s.results.row(0)[s.results.columns.indexOf("config")]));
    expectNear(run.steps * run.batchSize * run.seqLen, tokens, "tokens a run");
    const seedsAt = (d: number, router: string) =>
      new Set(
        s.results.filter(pl.col("dModel").eq(d).and(pl.col("router").eq(pl.lit(router))))
          .getColumn("seed").toArray() as number[],
      ).size;
    const [ends, supplemented] = claim(
      NB,
      "ed18a0b3",
      /(\w+) seeds at the smallest and the largest size\) with its `standard-seeds` supplement, which takes S-BASE and dense to (\w+) seeds at every size/,
    );
    expect(seedsAt(Math.min(...widths), "Hash")).toBe(num(ends));
    expect(seedsAt(Math.max(...widths), "Hash")).toBe(num(ends));
    for (const d of widths) {
      expect(seedsAt(d, "S-Base"), `S-BASE d${d}`).toBe(num(supplemented));
      expect(seedsAt(d, "Dense"), `dense d${d}`).toBe(num(supplemented));
    }
  });

  it("the N range and its span as stated", () => {
    const Ns = shipped().results.getColumn("N").toArray() as number[];
    const [lo, hi] = claim(NB, "e06e513c", /\(N ~ (\d)e5-(\d)e5 against/);
    expect(Math.round(Math.min(...Ns) / 1e5)).toBe(num(lo));
    expect(Math.round(Math.max(...Ns) / 1e5)).toBe(num(hi));
    const [span] = claim(NB, "3a3bb609", /span a factor of about (\d+) in N/);
    expectNear(Math.max(...Ns) / Math.min(...Ns), span, "largest N / smallest N");
  });
});
