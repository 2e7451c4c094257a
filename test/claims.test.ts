import { describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import {
  analyse,
  compareCells,
  frameAnalysisInput,
  seedSpread,
  SPREAD_MULTIPLE,
  spreadAt,
} from "../lib/analysis/mod.ts";
import {
  carryOver,
  changeMarkdown,
  checkClaims,
  compareOrders,
  degenerateFits,
  E_MAX_REACH,
  frameSeedSpread,
  gainMarkdown,
  gainTable,
  techniqueOrder,
} from "../lib/report/mod.ts";

describe("seed spread", () => {
  it("pools the within-configuration variance (known answer, two independent ways)", () => {
    // Cells a: 1.0, 1.2 (sample variance 0.02); b: 2.0, 2.4 (0.08); c: one run (no information).
    const s = seedSpread([
      { cell: "a", loss: 1.0 },
      { cell: "a", loss: 1.2 },
      { cell: "b", loss: 2.0 },
      { cell: "b", loss: 2.4 },
      { cell: "c", loss: 9 },
    ])!;
    expect(s.dof).toBe(2);
    expect(s.cells).toBe(2);
    expect(s.runs).toBe(4);
    // Equal dof per cell: the pooled variance is the mean of the cells' sample variances.
    expect(s.sd ** 2).toBeCloseTo((0.02 + 0.08) / 2, 12);
  });

  it("keeps the spread per size, and takes the cautious neighbour where a size is not repeated", () => {
    // Size 10: cell a 1.0/1.2 (variance 0.02). Size 40: cells b 2.0/2.4 (0.08), c 3.0/3.2 (0.02).
    const s = seedSpread([
      { cell: "a", loss: 1.0, size: 10 },
      { cell: "a", loss: 1.2, size: 10 },
      { cell: "b", loss: 2.0, size: 40 },
      { cell: "b", loss: 2.4, size: 40 },
      { cell: "c", loss: 3.0, size: 40 },
      { cell: "c", loss: 3.2, size: 40 },
      { cell: "d", loss: 7.0, size: 20 },
    ])!;
    expect(s.bySize!.map((z) => z.size)).toEqual([10, 40]);
    expect(s.bySize![0].sd ** 2).toBeCloseTo(0.02, 12);
    expect(s.bySize![1].sd ** 2).toBeCloseTo((0.08 + 0.02) / 2, 12);
    expect(s.bySize![1].dof).toBe(2);
    // Pooled over all three cells, as before.
    expect(s.sd ** 2).toBeCloseTo((0.02 + 0.08 + 0.02) / 3, 12);
    expect(spreadAt(s, 10)).toBe(s.bySize![0].sd);
    // Not repeated at 20: the larger of its neighbours 10 and 40; beyond the range: the nearest.
    expect(spreadAt(s, 20)).toBe(Math.max(s.bySize![0].sd, s.bySize![1].sd));
    expect(spreadAt(s, 5)).toBe(s.bySize![0].sd);
    expect(spreadAt(s, 80)).toBe(s.bySize![1].sd);
    expect(spreadAt(s)).toBe(s.sd);
    // A difference across sizes: 2 x sqrt(sd_a^2 / n_a + sd_b^2 / n_b).
    const c = compareCells([1, 1], [2], s, { a: 10, b: 40 });
    expect(c.threshold).toBeCloseTo(
      SPREAD_MULTIPLE * Math.sqrt(0.02 / 2 + 0.05 / 1),
      12,
    );
    expect(() => seedSpread([{ cell: "a", loss: 1, size: 1 }, { cell: "a", loss: 1, size: 2 }]))
      .toThrow(/sizes 1 and 2/);
  });

  it("is undefined when no configuration has two seeds", () => {
    expect(seedSpread([{ cell: "a", loss: 1 }, { cell: "b", loss: 2 }])).toBeUndefined();
  });

  it("counts a difference only beyond twice the sd of the difference", () => {
    const spread = { sd: 0.01, dof: 4, cells: 4, runs: 8 };
    // Two seeds each: sd of the difference of means = 0.01 * sqrt(1/2 + 1/2) = 0.01.
    const t = SPREAD_MULTIPLE * 0.01;
    expect(compareCells([1.0, 1.0], [1.0 + t * 1.01, 1.0 + t * 1.01], spread).verdict).toBe(
      "lower",
    );
    expect(compareCells([1.0, 1.0], [1.0 + t * 0.99, 1.0 + t * 0.99], spread).verdict).toBe(
      "level",
    );
    expect(compareCells([1.1], [1.0], spread).verdict).toBe("higher");
    // One seed each: the threshold grows by sqrt(2).
    expect(compareCells([1.0], [1.025], spread).threshold).toBeCloseTo(t * Math.SQRT2, 12);
    // No spread: raw signs.
    expect(compareCells([1.0], [1.0001], undefined).verdict).toBe("lower");
  });
});

/**
 * A synthetic sweep with two seeds everywhere: dense loss 5 - 0.3 log10(N / 1e4); technique
 * "Big" lowers it by 0.08 log2(E) / 4, "Tiny" by 0.004 (well inside the spread); seeds differ by
 * +-0.01 (sd 0.0141 per cell).
 */
function syntheticSweep(): pl.DataFrame {
  const rows: Record<string, unknown>[] = [];
  const Ns = [1e4, 2e4, 4e4, 8e4];
  const Es = [1, 4, 8, 16];
  let id = 0;
  for (const N of Ns) {
    for (const seed of [0, 1]) {
      const noise = seed === 0 ? 0.01 : -0.01;
      const dense = 5 - 0.3 * Math.log10(N / 1e4) + noise;
      const denseId = `dense-${N}-${seed}`;
      for (const technique of ["Big", "Tiny"]) {
        rows.push({ technique, router_type: "Dense", N, E: 1, loss: dense, run_id: denseId, seed });
        for (const E of Es.slice(1)) {
          const gain = technique === "Big" ? 0.08 * Math.log2(E) / 4 : 0.004;
          rows.push({
            technique,
            router_type: technique,
            N,
            E,
            loss: dense - gain + (E % 3) * 1e-4,
            run_id: `r${id++}`,
            seed,
          });
        }
      }
    }
  }
  return pl.readRecords(rows);
}

describe("claims judged against the seed spread", () => {
  const frame = syntheticSweep();
  const analysis = analyse(frameAnalysisInput(frame, "synthetic"), {
    restarts: 10,
    bootstrap: 0,
    heldOutMaxN: 4e4,
  });
  const claims = checkClaims(frame, analysis);
  const get = (id: string) => claims.find((c) => c.id === id)!;

  it("measures the spread once per run (a dense run shared by techniques counts once)", () => {
    const s = frameSeedSpread(frame)!;
    // 4 dense cells + 2 techniques x 4 N x 3 E = 28 cells of 2 seeds, each with deviations
    // +-0.01 (or nearly): sd = sqrt(2 * 0.01^2 / 1) = 0.01414.
    expect(s.cells).toBe(4 + 2 * 4 * 3);
    expect(s.sd).toBeCloseTo(0.01 * Math.SQRT2, 6);
  });

  it("a router inside the spread is level with dense, not a winner", () => {
    const c = get("routing_helps");
    expect(c.verdict).toBe("partly");
    expect(c.counts!.Big).toEqual({ lower: 12, level: 0, higher: 0 });
    expect(c.counts!.Tiny).toEqual({ lower: 0, level: 12, higher: 0 });
    expect(c.spread!.sd).toBeCloseTo(0.01414, 4);
    // Without a spread the same numbers would be read as 12 wins: the rule is what differs.
    const raw = checkClaims(frame, analysis, { spread: null }).find((c) =>
      c.id === "routing_helps"
    )!;
    expect(raw.counts!.Tiny.lower).toBe(12);
  });

  it("dense falls with size; loss falls with E for the router that gains", () => {
    expect(get("dense_scales").verdict).toBe("holds");
    const e = get("loss_falls_with_E");
    expect(e.verdict).toBe("partly");
    expect(e.details[0]).toMatch(/^Big: falls at 4\/4 sizes/);
    expect(e.details[1]).toMatch(/^Tiny: falls at 0\/4 sizes/);
  });

  it("orders techniques only where the gap exceeds the spread", () => {
    const o = techniqueOrder(frame, { spread: frameSeedSpread(frame) });
    expect(o.order).toEqual(["Big", "Tiny"]);
    expect(o.separated).toEqual([true]);
    // At E >= 16 both still differ by 0.076 nats: separated.
    expect(techniqueOrder(frame, { minE: 16, spread: frameSeedSpread(frame) }).separated)
      .toEqual([true]);
    // Swap against a reference order: a real disagreement when separated, unresolved when not.
    expect(compareOrders(["Big", "Tiny"], ["Tiny", "Big"], [true]).text).toMatch(
      /different order/,
    );
    const within = compareOrders(["Big", "Tiny"], ["Tiny", "Big"], [false]);
    expect(within.same).toBe(false);
    expect(within.text).toMatch(/only within the seed spread \(unresolved\)/);
  });

  it("the per-router table: one row per configuration, threshold from the spread", () => {
    const t = gainTable(frame);
    expect(t.length).toBe(2 * 4 * 3);
    const s = frameSeedSpread(frame)!;
    // Two seeds on each side: threshold = 2 sd sqrt(1/2 + 1/2), sd that of the row's size.
    for (const r of t) expect(r.threshold).toBeCloseTo(2 * spreadAt(s, r.N), 12);
    for (const r of t) expect(spreadAt(s, r.N)).toBeCloseTo(s.sd, 6);
    expect(t.filter((r) => r.technique === "Tiny").every((r) => r.verdict === "level")).toBe(true);
    const big16 = t.find((r) => r.technique === "Big" && r.E === 16 && r.N === 1e4)!;
    expect(big16.gain).toBeCloseTo(0.08 - 16 % 3 * 1e-4, 9);
    expect(big16.verdict).toBe("beats dense");
  });

  it("judges each size against its own spread", () => {
    // Size 1e4: seeds +-0.001; size 1e5: seeds +-0.05. The router gains 0.01 at both sizes.
    const rows: Record<string, unknown>[] = [];
    for (const [N, eps] of [[1e4, 0.001], [1e5, 0.05]]) {
      for (const seed of [0, 1]) {
        const noise = seed === 0 ? eps : -eps;
        const d = 5 - 0.2 * Math.log10(N) + noise;
        rows.push({
          technique: "R",
          router_type: "Dense",
          N,
          E: 1,
          loss: d,
          run_id: `d${N}${seed}`,
          seed,
        });
        rows.push({
          technique: "R",
          router_type: "R",
          N,
          E: 8,
          loss: d - 0.01,
          run_id: `r${N}${seed}`,
          seed,
        });
      }
    }
    const f = pl.readRecords(rows);
    const s = frameSeedSpread(f)!;
    expect(s.bySize!.map((z) => z.sd)).toEqual([
      expect.closeTo(0.001 * Math.SQRT2, 9),
      expect.closeTo(0.05 * Math.SQRT2, 9),
    ]);
    const t = gainTable(f);
    expect(t.map((r) => r.verdict)).toEqual(["beats dense", "level"]);
    // With one pooled sd (0.05 at both sizes) the small size's clear gain would read as level.
    const pooled = { ...s, bySize: undefined, byGroup: undefined };
    expect(gainTable(f, pooled).map((r) => r.verdict)).toEqual(["level", "level"]);
  });

  it("judges each technique against its own spread: one unstable router does not hide another's gain", () => {
    // One size. Dense seeds +-0.001, "Calm" +-0.001, "Wild" +-0.1; both routers gain 0.02.
    const rows: Record<string, unknown>[] = [];
    const N = 1e5;
    const run = (
      technique: string,
      router: string,
      E: number,
      loss: number,
      id: string,
      seed: number,
    ) => rows.push({ technique, router_type: router, N, E, loss, run_id: id, seed });
    for (const seed of [0, 1]) {
      const sign = seed === 0 ? 1 : -1;
      run("Calm", "Dense", 1, 4 + sign * 0.001, `d${seed}`, seed);
      run("Wild", "Dense", 1, 4 + sign * 0.001, `d${seed}`, seed);
      run("Calm", "Calm", 8, 3.98 + sign * 0.001, `c${seed}`, seed);
      run("Wild", "Wild", 8, 3.98 + sign * 0.1, `w${seed}`, seed);
    }
    const f = pl.readRecords(rows);
    const s = frameSeedSpread(f)!;
    // Known answer: a pair +-eps has sample sd eps * sqrt(2); dense counted once, not per technique.
    const sdOf = (g: string) => s.byGroup!.find((x) => x.group === g)!;
    expect(sdOf("Dense").sd).toBeCloseTo(0.001 * Math.SQRT2, 12);
    expect(sdOf("Calm").sd).toBeCloseTo(0.001 * Math.SQRT2, 12);
    expect(sdOf("Wild").sd).toBeCloseTo(0.1 * Math.SQRT2, 12);
    expect(s.dof).toBe(3);
    // The pooled figure mixes them: sqrt((2e-6 + 2e-6 + 0.02) / 3).
    expect(s.sd).toBeCloseTo(Math.sqrt((2e-6 + 2e-6 + 0.02) / 3), 12);
    expect(spreadAt(s, N, "Calm")).toBeCloseTo(0.001 * Math.SQRT2, 12);
    // A group with no repeated configuration falls back to the per-size pooled spread.
    expect(spreadAt(s, N, "Unseen")).toBe(spreadAt(s, N));
    const t = gainTable(f);
    expect(t.map((r) => [r.technique, r.verdict])).toEqual([["Calm", "beats dense"], [
      "Wild",
      "level",
    ]]);
    // Threshold, computed by hand: 2 sqrt(sd_calm^2 / 2 + sd_dense^2 / 2) = 2 * 0.001 * sqrt(2).
    expect(t[0].threshold).toBeCloseTo(2 * 0.001 * Math.SQRT2, 12);
    // Judged against the pooled spread instead, Wild's noise would hide Calm's clear gain.
    const pooled = { ...s, byGroup: undefined };
    expect(gainTable(f, pooled).map((r) => r.verdict)).toEqual(["level", "level"]);
    expect(() =>
      seedSpread([{ cell: "a", loss: 1, group: "x" }, { cell: "a", loss: 1, group: "y" }])
    ).toThrow(/groups x and y/);
  });

  it("the Markdown table says what gainTable says, cell by cell", () => {
    const rows = gainTable(frame);
    const md = gainMarkdown(rows, (N) => `N${N}`).split("\n");
    expect(md[0]).toBe("| router | size | dense | E = 4 | E = 8 | E = 16 |");
    expect(md.length).toBe(2 + 2 * 4); // header, rule, 2 techniques x 4 sizes
    const r = rows.find((x) => x.technique === "Big" && x.N === 1e4 && x.E === 16)!;
    const line = md.find((l) => l.startsWith("| Big | N10000 |"))!;
    expect(line).toContain(`${r.loss.toFixed(3)} (+${r.gain.toFixed(3)})`);
    // A level cell carries "~".
    expect(md.find((l) => l.startsWith("| Tiny | N10000 |"))).toMatch(/\(\+0\.00\d~\)/);
  });

  it("the before/after table pairs cells by (technique, N, E) and prints the change", () => {
    const before = gainTable(frame);
    // The "after" sweep: every Big cell 0.1 nats lower, the Tiny cells gone.
    const after = before.filter((r) => r.technique === "Big").map((r) => ({
      ...r,
      loss: r.loss - 0.1,
    }));
    const md = changeMarkdown(before, after, (N) => `N${N}`).split("\n");
    expect(md.length).toBe(2 + 4); // header, rule, Big x 4 sizes (Tiny is in one sweep only)
    const r = before.find((x) => x.technique === "Big" && x.N === 1e4 && x.E === 8)!;
    const line = md.find((l) => l.startsWith("| Big | N10000 |"))!;
    expect(line).toContain(
      `${r.loss.toFixed(3)} -> ${(r.loss - 0.1).toFixed(3)} (-0.100)`,
    );
    expect(changeMarkdown(before, [])).toMatch(/share no routed configuration/);
  });

  it("calls Eq. (1) unidentified when E_max lies far beyond the largest E run", () => {
    const fit = (E_start: number, E_max: number) => ({
      eq1: { params: { E_start, E_max }, converged: true },
    });
    const analysis = {
      techniques: { A: fit(2, 100), B: fit(2, 129), C: fit(0.5, 20), D: fit(3, 2) },
    } as unknown as Parameters<typeof degenerateFits>[0];
    const input = {
      techniques: Object.fromEntries(
        ["A", "B", "C", "D"].map((t) => [t, { N: [1, 1], E: [1, 32], loss: [1, 1] }]),
      ),
      dense: { N: [], loss: [] },
      source: "test",
    } as unknown as Parameters<typeof degenerateFits>[1];
    const d = degenerateFits(analysis, input);
    expect(d.map((x) => x.technique)).toEqual(["B", "C", "D"]);
    expect(d[0].why).toBe(`E_max 1.29e+2 beyond ${E_MAX_REACH}x the largest E run (32)`);
    expect(d[1].why).toBe("E_start 0.5 < 1");
    expect(d[2].why).toBe("E_max 2 <= E_start");
    // Without the data only the collapsed saturations count.
    expect(degenerateFits(analysis).map((x) => x.technique)).toEqual(["C", "D"]);
  });

  it("says the saturation is not measured when the gains follow log E with no bend", () => {
    const c = get("saturation_measured");
    expect(c.verdict).toBe("fails");
    expect(c.details).toHaveLength(2);
    for (const d of c.details) {
      expect(d).toMatch(/^(Big|Tiny): E_start \[.*not bounded by the runs/);
    }
    const text = carryOver(claims, claims, { release: 100, ours: 8 }).join("\n");
    expect(text).toMatch(/do not bound Eq\. \(1\)'s saturation for any technique/);
  });

  it("the carry-over sentences state the rule", () => {
    const text = carryOver(claims, claims, { release: 100, ours: 8 }).join("\n");
    expect(text).toMatch(/seed sd 0\.014 nats measured in the same sweep/);
    expect(text).toMatch(/Tiny 0 beat dense, 12 level, 0 worse/);
  });
});
