import { beforeAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { loadRelease, mainSweep, routingFrequencySweep, topKSweep } from "../lib/release/mod.ts";
import { eq1Loss, type Eq1Params, isoLossN, TABLE3 } from "../lib/laws/mod.ts";
import {
  COLORS,
  comparisonFigure,
  expertLoadFigure,
  fig1,
  fig1a,
  fig1b,
  fig1c,
  lossVsExperts,
  lossVsExpertsPanels,
  modelSizes,
  RELEASE_FIGURES,
  releaseFigures,
  residualsFigure,
  routingFrequencyFigure,
  runCurvesFigure,
  saturationProfileFigure,
  techniqueColor,
  topKFigure,
} from "../lib/figures/mod.ts";
import {
  analyse,
  compareTechniques,
  comparisonTable,
  fitEq1PerTechnique,
  type Fits,
  paperComparison,
  paramsOf,
  releaseAnalysisInput,
  residualData,
} from "../lib/analysis/mod.ts";
import type { PlotlyFigure } from "../lib/export/mod.ts";
import { chi2TwoDof, eq1ProfileRegion, saturationBounded } from "../lib/fit/mod.ts";
import { curvesPath } from "./_curves.ts";

type Trace = Record<string, unknown> & { x?: number[]; y?: number[] };
const LABELS = ["15M", "25M", "55M", "130M", "370M", "1.3B"];

let df: pl.DataFrame, main: pl.DataFrame, shown: pl.DataFrame, fits: Fits;

beforeAll(async () => {
  df = await loadRelease({ path: curvesPath() });
  main = mainSweep(df);
  shown = mainSweep(df, { seedPolicy: "mean-dense-seeds" });
  fits = paramsOf(fitEq1PerTechnique(main, { restarts: 50, seed: 1 }));
});

function traces(f: PlotlyFigure): Trace[] {
  return f.data as Trace[];
}

/** Every trace: x and y of equal length, finite numbers (or null gaps). */
function checkArrays(f: PlotlyFigure) {
  for (const t of traces(f)) {
    if (t.type === "box" || t.type === "contour") continue; // checked by their own tests
    expect(Array.isArray(t.x) && Array.isArray(t.y)).toBe(true);
    expect(t.x!.length).toBe(t.y!.length);
    for (const v of [...t.x!, ...t.y!]) {
      if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
    }
  }
  // The figure must survive JSON (what the kernel and the HTML export send).
  expect(JSON.parse(JSON.stringify(f)).data.length).toBe(f.data.length);
}

/** The Okabe-Ito colour-blind-safe palette (Okabe & Ito 2008; Wong 2011), as published. */
const OKABE_ITO = [
  "#000000",
  "#E69F00",
  "#56B4E9",
  "#009E73",
  "#F0E442",
  "#0072B2",
  "#D55E00",
  "#CC79A7",
];

/** HSL hue (degrees) and lightness (0-1) of "#rrggbb". */
function hsl(hex: string): { h: number; l: number } {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const max = Math.max(r, g, b), min = Math.min(r, g, b), d = max - min;
  const h = d === 0
    ? 0
    : max === r
    ? 60 * (((g - b) / d + 6) % 6)
    : max === g
    ? 60 * ((b - r) / d + 2)
    : 60 * ((r - g) / d + 4);
  return { h, l: (max + min) / 2 };
}

describe("palette", () => {
  it("the paper's: distinct colour-blind-safe colours, S-BASE blue, RL-R green, HASH orange, dense black", () => {
    expect(Object.keys(COLORS).sort()).toEqual(["Dense", "Hash", "RL-R", "S-Base"]);
    const colours = Object.values(COLORS).map((c) => c.toUpperCase());
    expect(new Set(colours).size).toBe(colours.length);
    for (const c of colours) expect(OKABE_ITO).toContain(c);
    const within = (c: string, lo: number, hi: number) => {
      const { h, l } = hsl(c);
      expect(h).toBeGreaterThanOrEqual(lo);
      expect(h).toBeLessThanOrEqual(hi);
      expect(l).toBeGreaterThan(0.2);
    };
    within(COLORS["S-Base"], 190, 250); // blue
    within(COLORS["RL-R"], 120, 180); // green
    within(COLORS["Hash"], 20, 50); // orange
    expect(hsl(COLORS.Dense).l).toBe(0); // black
  });

  it("routers of our own get the other Okabe-Ito colours, the same one every time", () => {
    for (const t of Object.keys(COLORS)) expect(techniqueColor(t)).toBe(COLORS[t]);
    const used = Object.values(COLORS).map((c) => c.toUpperCase());
    const seen = new Set<string>();
    for (const name of ["Switch", "Top-2", "Expert Choice", "BASE", "x", "My router"]) {
      const c = techniqueColor(name).toUpperCase();
      expect(OKABE_ITO).toContain(c);
      expect(used).not.toContain(c);
      expect(techniqueColor(name).toUpperCase()).toBe(c);
      seen.add(c);
    }
    expect(seen.size).toBeGreaterThan(1); // names spread over the spare colours
  });
});

describe("Fig. 1a", () => {
  it("has, per size, a dashed fit and S-BASE dots, plus the dense dots; log axes; labels 15M..1.3B", () => {
    const f = fig1a(shown, fits);
    const t = traces(f);
    expect(t.length).toBe(2 * 6 + 1);
    const lines = t.filter((x) => x.mode === "lines");
    const dots = t.filter((x) => x.mode === "markers");
    expect(lines.length).toBe(6);
    for (const l of lines) {
      expect(l.line).toMatchObject({ color: COLORS["S-Base"], dash: "dash" });
    }
    expect(
      dots.slice(0, 6).every((d) => (d.marker as { color: string }).color === COLORS["S-Base"]),
    )
      .toBe(true);
    const dense = dots[6];
    expect((dense.marker as { color: string }).color).toBe(COLORS.Dense);
    expect(dense.x!.every((e) => e === 1)).toBe(true);
    expect(dense.y!.length).toBe(6); // 130M from the mean of its three seeds
    const layout = f.layout as Record<string, Record<string, unknown>>;
    expect(layout.xaxis.type).toBe("log");
    expect(layout.yaxis.type).toBe("log");
    expect(layout.xaxis.tickvals).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
    expect((layout.xaxis.title as { text: string }).text).toBe("Expert Count");
    expect((layout.yaxis.title as { text: string }).text).toBe("Validation Loss");
    const labels = (f.layout.annotations as { text: string }[]).map((a) => a.text);
    expect(labels).toEqual(LABELS);
    checkArrays(f);
  });

  it("draws each size's fit through that size's runs (within 0.06 nats)", () => {
    const t = traces(fig1a(shown, fits));
    for (let s = 0; s < 6; s++) {
      const line = t[2 * s], dots = t[2 * s + 1];
      for (let i = 0; i < dots.x!.length; i++) {
        // nearest grid point of the dashed line in log E
        let best = 0;
        line.x!.forEach((e, j) => {
          if (Math.abs(Math.log(e / dots.x![i])) < Math.abs(Math.log(line.x![best] / dots.x![i]))) {
            best = j;
          }
        });
        expect(Math.abs(line.y![best] - dots.y![i])).toBeLessThan(0.06);
      }
    }
  });

  it("serves any technique and names the missing one", () => {
    const f = lossVsExperts(main, fits.Hash, { technique: "Hash" });
    expect((traces(f)[1].marker as { color: string }).color).toBe(COLORS.Hash);
    expect(() => lossVsExperts(main, fits.Hash, { technique: "Switch" })).toThrow(
      /no rows for technique Switch; the frame has S-Base, RL-R, Hash/,
    );
  });
});

describe("Fig. 1b", () => {
  it("has one iso-loss curve per technique and level, each reaching its dense size at E = 1", () => {
    const sizes = modelSizes(main).filter((s) => s.N > 2e7);
    expect(sizes.map((s) => s.label)).toEqual(LABELS.slice(1));
    const f = fig1b(fits, sizes);
    const t = traces(f);
    expect(t.length).toBe(3 * 5);
    t.forEach((tr, i) => {
      const tech = ["S-Base", "RL-R", "Hash"][Math.floor(i / 5)];
      expect((tr.line as { color: string }).color).toBe(COLORS[tech]);
      expect(tr.y![0]).toBe(1);
      expect(Math.abs(tr.x![0] / sizes[i % 5].N - 1)).toBeLessThan(1e-9);
      // along the curve the predicted loss is constant (an independent evaluation of Eq. (1))
      const L = eq1Loss(fits[tech], sizes[i % 5].N, 1);
      for (let j = 0; j < tr.x!.length; j += 10) {
        expect(eq1Loss(fits[tech], tr.x![j], tr.y![j]) / L).toBeCloseTo(1, 9);
      }
      // more experts, smaller dense model for the same loss (below N_cutoff)
      expect(tr.x!.at(-1)!).toBeLessThan(tr.x![0]);
    });
    const layout = f.layout as Record<string, Record<string, unknown>>;
    expect(layout.xaxis.type).toBe("log");
    expect(layout.yaxis.type).toBe("log");
    expect(layout.xaxis.ticktext).toEqual(["5M", ...LABELS.slice(1)]);
    checkArrays(f);
  });

  it("matches isoLossN with Table 3's coefficients", () => {
    const f = fig1b({ "S-Base": TABLE3["S-Base"] }, [{ N: 1.3e9, label: "1.3B" }]);
    const tr = traces(f)[0];
    const L = eq1Loss(TABLE3["S-Base"], 1.3e9, 1);
    expect(tr.x![20]).toBeCloseTo(isoLossN(TABLE3["S-Base"], tr.y![20], L), 0);
  });
});

describe("Fig. 1c", () => {
  it("puts every run within 3% of one line, dense runs at EPC = N", () => {
    const f = fig1c(shown, fits);
    const t = traces(f);
    expect(t.map((x) => x.name)).toEqual([
      "S-BASE",
      "RL-R",
      "Hash",
      "Dense LM",
      expect.stringMatching(/^unified line/),
    ]);
    expect(t.slice(0, 3).map((x) => (x.marker as { color: string }).color)).toEqual([
      COLORS["S-Base"],
      COLORS["RL-R"],
      COLORS.Hash,
    ]);
    const line = t[4];
    const slope = Math.log10(line.y![1] / line.y![0]) / Math.log10(line.x![1] / line.x![0]);
    const at = (x: number) => line.y![0] * Math.pow(x / line.x![0], slope);
    let routed = 0;
    for (const tr of t.slice(0, 4)) {
      tr.x!.forEach((x, i) => {
        expect(Math.abs(tr.y![i] / at(x) - 1)).toBeLessThan(0.03);
      });
      routed += tr.x!.length;
    }
    expect(routed).toBe(58 + 59 + 56 - 3 * 5 + 6); // routed runs + 6 dense sizes
    const denseN = shown.filter(pl.col("router_type").eq(pl.lit("Dense"))).getColumn("N")
      .toArray() as number[];
    expect(t[3].x).toEqual([...new Set(denseN)].sort((a, b) => a - b));
    expect((f.layout.xaxis as { type: string }).type).toBe("log");
    expect((f.layout.xaxis as { title: { text: string } }).title.text).toBe(
      "Effective Parameter Count",
    );
    checkArrays(f);
  });
});

describe("Fig. 1 (all panels)", () => {
  it("holds the three panels' traces on three axis pairs with one four-entry legend", () => {
    const sizes = modelSizes(main).filter((s) => s.N > 2e7);
    const f = fig1(shown, fits, sizes);
    const a = traces(fig1a(shown, fits)),
      b = traces(fig1b(fits, sizes)),
      c = traces(fig1c(shown, fits));
    const t = traces(f);
    expect(t.length).toBe(a.length + b.length + c.length);
    expect(t.filter((x) => x.xaxis === "x").length).toBe(a.length);
    expect(t.filter((x) => x.xaxis === "x2").length).toBe(b.length);
    expect(t.filter((x) => x.xaxis === "x3").length).toBe(c.length);
    expect(t.filter((x) => x.showlegend).map((x) => x.name)).toEqual([
      "S-BASE",
      "RL-R",
      "Hash",
      "Dense LM",
    ]);
    const titles = (f.layout.annotations as { text: string }[]).map((x) => x.text);
    expect(titles).toEqual(expect.arrayContaining([
      "<b>a)</b> Predicting Loss for Varying Expert Count",
      "<b>b)</b> Curves of Constant Loss Value",
      "<b>c)</b> Unified Model Scaling",
      ...LABELS,
    ]));
  });
});

describe("other figures", () => {
  it("loss against E: one panel per technique plus an overlay", () => {
    const f = lossVsExpertsPanels(shown, fits);
    const axes = Object.keys(f.layout).filter((k) => /^xaxis\d*$/.test(k));
    expect(axes.length).toBe(4);
    const panel1 = traces(f).filter((t) => t.xaxis === "x");
    expect(panel1.length).toBe(13);
    checkArrays(f);
  });

  it("residuals: one box trace per technique over the five law variants", () => {
    const rows = residualData(main, { restarts: 30, seed: 1 });
    const f = residualsFigure(rows);
    expect(traces(f).map((t) => t.name)).toEqual(["S-BASE", "RL-R", "Hash"]);
    expect([...new Set(rows.map((r) => r.law))]).toEqual([
      "dense power law",
      "separable",
      "bilinear",
      "Eq. (1) refit",
      "Eq. (1) Table 3",
    ]);
    // Eq. (1) refit fits better than the separable law for every technique (the paper's point)
    for (const t of ["S-Base", "RL-R", "Hash"]) {
      const rms = (law: string) => {
        const r = rows.filter((x) => x.technique === t && x.law === law).map((x) => x.residual_pct);
        return Math.sqrt(r.reduce((s, v) => s + v * v, 0) / r.length);
      };
      expect(rms("Eq. (1) refit")).toBeLessThan(rms("separable"));
    }
  });

  it("technique comparison: intervals contain our estimate; Table 3 and printed N_cutoff beside it", () => {
    const rows = compareTechniques(main, { resamples: 12, bootRestarts: 4, restarts: 50, seed: 3 });
    const f = comparisonFigure(rows);
    const t = traces(f);
    expect(t.length).toBe(3 * 2 + 1);
    const ours = t[0];
    const err = ours.error_y as { array: number[]; arrayminus: number[] };
    ours.y!.forEach((_, i) => {
      expect(err.array[i]).toBeGreaterThanOrEqual(0);
      expect(err.arrayminus[i]).toBeGreaterThanOrEqual(0);
    });
    expect(t[2].y).toEqual([937e9, 85e9, 83e9]);
    expect((f.layout.yaxis as { type: string }).type).toBe("log");
    // The Table 3 diamonds: N_cutoff recomputed from the rounded coefficients, E_max, b.
    expect(t[1].y).toEqual(["S-Base", "RL-R", "Hash"].map((k) => {
      const p = TABLE3[k as keyof typeof TABLE3];
      return Math.pow(10, -p.b / p.c);
    }));
    expect(t[4].y).toEqual([TABLE3["S-Base"].E_max, TABLE3["RL-R"].E_max, TABLE3.Hash.E_max]);
    expect(t[6].y).toEqual([TABLE3["S-Base"].b, TABLE3["RL-R"].b, TABLE3.Hash.b]);
    // The same rows as a table: the paper's value inside or outside our interval.
    const table = comparisonTable(rows).toRecords() as Record<string, unknown>[];
    expect(table.length).toBe(3 * 8);
    const a = table.find((r) => r.technique === "S-Base" && r.quantity === "a")!;
    expect(a.paper).toBe(TABLE3["S-Base"].a);
    expect(a.paper_inside).toBe(
      TABLE3["S-Base"].a >= Number(a.lo) && TABLE3["S-Base"].a <= Number(a.hi),
    );
  });

  it("technique comparison of an Analysis: paperComparison's rows, the dense rows left out", () => {
    const a = analyse(releaseAnalysisInput(df), { restarts: 20, bootstrap: 0, seed: 1 });
    const t = traces(comparisonFigure(paperComparison(a)));
    expect(t.length).toBe(3 * 2 + 1);
    expect(t[0].x).toEqual(["S-BASE", "RL-R", "Hash"]);
    expect(t[0].y).toEqual(["S-Base", "RL-R", "Hash"].map((k) => a.techniques[k].eq1.N_cutoff));
    // Without a bootstrap there is no interval to draw.
    const err = t[0].error_y as { array: number[] };
    expect(err.array.every((v) => Number.isNaN(v))).toBe(true);
  });

  it("routing frequency: S-BASE and Hash at 25M and 370M, three E each, dense baselines", () => {
    const f = routingFrequencyFigure(routingFrequencySweep(df, { includeDense: true }));
    const t = traces(f);
    const routed = t.filter((x) => x.name !== "Dense LM");
    expect(routed.length).toBe(2 * 2 * 3);
    expect(t.length - routed.length).toBe(2);
    expect(new Set(routed.map((x) => (x.line as { color: string }).color))).toEqual(
      new Set([COLORS["S-Base"], COLORS.Hash]),
    );
    const ann = (f.layout.annotations as { text: string }[]).map((a) => a.text);
    expect(ann).toEqual(["<b>25M dense size</b>", "<b>370M dense size</b>"]);
    checkArrays(f);
  });

  it("top-k: k = 1, 2, 4 per E and a FLOP-matched dense line per size, FLOPs increasing with k", () => {
    const f = topKFigure(topKSweep(df));
    const t = traces(f);
    expect(t.length).toBe(2 * (3 + 1));
    for (const tr of t.filter((x) => x.name !== "Dense LM, FFN x1/x2/x4 (FLOP-matched)")) {
      expect(tr.text).toEqual(["k=1", "k=2", "k=4"]);
      expect(tr.x![0]).toBeLessThan(tr.x![1]);
      expect(tr.x![1]).toBeLessThan(tr.x![2]);
    }
    checkArrays(f);
  });

  it("trained runs: loss curves per run and expert load, in the techniques' colours", () => {
    const curve = (l: number) =>
      [0, 1, 2].map((step) => ({
        step,
        train_loss: l - step / 10,
        ...(step % 2 === 0 ? { val_loss: l - step / 8 } : {}),
      }));
    const runs = [
      { router: "dense", curve: curve(5), router_metrics: [] },
      { router: "sbase", curve: curve(4.8), router_metrics: [{ load: [0.5, 0.25, 0.25, 0] }] },
      { router: "top2", curve: curve(4.7), router_metrics: [{ load: [0.25, 0.25, 0.25, 0.25] }] },
    ];
    const c = runCurvesFigure(runs);
    const t = traces(c);
    expect(t.map((x) => x.name)).toEqual([
      "Dense LM train",
      "Dense LM validation",
      "S-BASE train",
      "S-BASE validation",
      "top2 train",
      "top2 validation",
    ]);
    expect((t[2].line as { color: string }).color).toBe(COLORS["S-Base"]);
    expect(t[1].x).toEqual([0, 2]);
    checkArrays(c);
    const load = expertLoadFigure(runs);
    expect(traces(load).map((x) => x.name)).toEqual(["S-BASE", "top2"]);
    expect(traces(load)[0].y).toEqual([0.5, 0.25, 0.25, 0]);
    expect((load.layout.shapes as { y0: number }[]).map((s) => s.y0)).toEqual([0.25]);
    expect(() => expertLoadFigure(runs.slice(0, 1))).toThrow(/no run has router metrics/);
  });

  it("the saturation profile draws each technique's likelihood surface and its 95% region", () => {
    const techs = ["S-Base", "RL-R", "Hash"] as const;
    const regions = Object.fromEntries(techs.map((t) => {
      const d = main.filter(pl.col("technique").eq(pl.lit(t)));
      const N = d.getColumn("N").toArray() as number[], E = d.getColumn("E").toArray() as number[];
      return [t, eq1ProfileRegion(N, E, d.getColumn("loss").toArray() as number[])];
    }));
    const marks = { "S-Base": [{ E_start: 1e-9, E_max: 1e12, label: "off the grid" }] };
    const f = saturationProfileFigure(regions, { marks });
    const contours = traces(f).filter((t) => t.type === "contour");
    expect(contours).toHaveLength(3);
    techs.forEach((t, k) => {
      const r = regions[t], c = contours[k] as Trace & { z: (number | null)[][] };
      expect(saturationBounded(r)).toBe(true);
      expect(c.z.length).toBe(r.surface.log2Max.length);
      expect(c.z[0].length).toBe(r.surface.log2Start.length);
      // The surface is 2 ln LR against the best grid point: 0 there, and exactly the region's
      // points under the chi-squared level (an independent count of the same set).
      const cells = c.z.flat().filter((v): v is number => v !== null);
      expect(Math.min(...cells)).toBe(0);
      expect(cells.filter((v) => v <= chi2TwoDof(0.95)).length).toBe(r.inside);
      expect(cells.length).toBe(r.points);
    });
    // A mark beyond the grid sits on its edge.
    const mark = traces(f).find((t) => t.name === "off the grid")!;
    expect(mark.x).toEqual([regions["S-Base"].surface.log2Start[0]]);
    expect(mark.y).toEqual([regions["S-Base"].surface.log2Max.at(-1)]);
    expect(() => saturationProfileFigure({})).toThrow(/no profile regions/);
  });

  it("releaseFigures builds every named figure and rejects unknown names", () => {
    const figs = releaseFigures(df, { restarts: 20, resamples: 4 });
    expect(Object.keys(figs)).toEqual([...RELEASE_FIGURES]);
    for (const f of Object.values(figs)) checkArrays(f);
    expect(() => releaseFigures(df, { only: ["fig9"] })).toThrow(/unknown figure\(s\) fig9/);
  });
});

// Table 3 typed for the tests above
const _t3: Record<string, Eq1Params> = TABLE3;
void _t3;
