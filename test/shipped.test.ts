import { afterAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import {
  expandSpec,
  exportSweep,
  loadShippedSweep,
  loadSweepResults,
  machineInfo,
  plannedShippedRuns,
  runIdOf,
  runSweep,
  sameRounding,
  type SweepSpecInput,
  sweepWall,
  validateSpec,
} from "../lib/sweep/mod.ts";
import { TRAINING_CODE_VERSION } from "../lib/train/mod.ts";
import {
  analyse,
  frameAnalysisInput,
  OUR_RUNS_EQ1_MIN_E_START,
  spreadAt,
} from "../lib/analysis/mod.ts";
import { checkClaims, E_MAX_REACH, frameSeedSpread, ourMainFrame } from "../lib/report/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** The committed results of the standard preset (README: "Our own sweep, shipped"). */
const STANDARD = `${ROOT}data/ours/standard`;

const tmpDirs: string[] = [];
const tmp = () => {
  const d = Deno.makeTempDirSync({ prefix: "shipped-test-" });
  tmpDirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of tmpDirs) Deno.removeSync(d, { recursive: true });
});

const SPEC: SweepSpecInput = {
  name: "ship-test",
  routers: ["S-Base"],
  sizes: [{ dModel: 16, layers: 1, heads: 2, seeds: [0, 1] }],
  experts: [1, 4],
  seeds: [0],
  budget: { steps: 6 },
  train: { batchSize: 4, seqLen: 32, warmupSteps: 2, evalEvery: 3, evalBatches: 2 },
  checkpointEvery: 3,
};

describe("sweepWall", () => {
  it("is the union of the runs' intervals: overlaps once, gaps between sessions not at all", () => {
    // [0, 100] and [50, 150] overlap (150 s busy); [10000, 10060] comes a session later (60 s).
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + 1000 * s).toISOString();
    const runs = pl.DataFrame({
      finished_at: [at(100), at(150), at(10060)],
      wall_s: [100, 100, 60],
    });
    expect(sweepWall(runs)).toBeCloseTo(210, 6);
    expect(sweepWall(runs.head(2))).toBeCloseTo(150, 6); // one go: first start to last end
  });
});

describe("per-size seeds", () => {
  it("a size's seeds replace the spec's for that size only", () => {
    const runs = expandSpec({
      ...SPEC,
      sizes: [{ dModel: 16, layers: 1, heads: 2, seeds: [0, 1] }, {
        dModel: 32,
        layers: 1,
        heads: 2,
      }],
    });
    const at = (d: number) => runs.filter((r) => r.config.dModel === d).map((r) => r.config.seed);
    expect(at(16)).toEqual([0, 0, 1, 1]);
    expect(at(32)).toEqual([0, 0]);
    expect(runs.every((r) => !("seeds" in r.config))).toBe(true);
  });

  it("refuses a bad per-size seed list", () => {
    expect(() => validateSpec({ ...SPEC, sizes: [{ dModel: 16, layers: 1, heads: 2, seeds: [] }] }))
      .toThrow(/sizes\[0\]\.seeds must be a non-empty array/);
    expect(() =>
      validateSpec({ ...SPEC, sizes: [{ dModel: 16, layers: 1, heads: 2, seeds: [0, 0] }] })
    ).toThrow(/seeds/);
  });
});

describe("shipped sweep results", () => {
  it("export and load round-trip every run exactly; an edited row is refused", async () => {
    const out = tmp(), dest = tmp();
    const spec = validateSpec(SPEC);
    await runSweep(spec, { out, log: () => {} });
    const ids = expandSpec(spec).map((r) => r.runId);
    const m = await exportSweep(out, dest, spec, ["(test)"], ids);
    expect(m.runs).toBe(4);
    expect(m.trainingCodeVersion).toBe(TRAINING_CODE_VERSION);
    expect(m.sweepWallS).toBeGreaterThan(0);
    expect(m.sweepWallS).toBeLessThanOrEqual(m.trainWallS + 60);

    const shipped = loadShippedSweep(dest);
    const orig = loadSweepResults(out).sort("run_id");
    expect(shipped.results.getColumn("run_id").toArray()).toEqual(
      orig.getColumn("run_id").toArray(),
    );
    for (const col of ["val_loss", "train_loss", "N", "P", "F", "E", "seed"]) {
      expect(shipped.results.getColumn(col).toArray()).toEqual(orig.getColumn(col).toArray());
    }
    expect(shipped.curves.height).toBe(4 * 6);
    expect(shipped.spec).toEqual(spec);

    // An edited config no longer hashes to its run id.
    const text = await Deno.readTextFile(`${dest}/results.csv`);
    await Deno.writeTextFile(`${dest}/results.csv`, text.replace('""lr"":0.002', '""lr"":0.003'));
    expect(() => loadShippedSweep(dest)).toThrow(/not the hash of their config/);
  });

  it("refuses to export an unfinished sweep and says how to finish it", async () => {
    const out = tmp();
    const spec = validateSpec(SPEC);
    await expect(
      exportSweep(out, tmp(), spec, [], expandSpec(spec).map((r) => r.runId)),
    ).rejects.toThrow(/lacks 4 of the spec's 4 runs.*finish the sweep/s);
  });

  it("a supplement adds seeds: it ships only new runs, loads with its base, and must match it", async () => {
    const out = tmp(), dest = tmp();
    const spec = validateSpec(SPEC);
    await runSweep(spec, { out, log: () => {} });
    await exportSweep(out, dest, spec, ["(test)"], expandSpec(spec).map((r) => r.runId));
    // Seeds 0-2: runs into the base's folder as a guest and trains only seed 2.
    const more = validateSpec({
      ...SPEC,
      name: "ship-test-seeds",
      sizes: [{ dModel: 16, layers: 1, heads: 2, seeds: [0, 1, 2] }],
    });
    const ran = await runSweep(more, { out, log: () => {}, allowOtherSpec: true });
    expect(ran.ran.length).toBe(2);
    const supDir = `${dest}/supplements/seeds`;
    const moreIds = expandSpec(more).map((r) => r.runId);
    const m = await exportSweep(out, supDir, more, [], moreIds, loadShippedSweep(dest));
    expect(m.runs).toBe(2);
    expect(m.supplementOf).toBe("ship-test");

    const merged = loadShippedSweep(dest);
    expect(merged.supplements.map((x) => x.spec.name)).toEqual(["ship-test-seeds"]);
    expect(merged.results.height).toBe(6);
    expect(new Set(merged.results.getColumn("run_id").toArray()).size).toBe(6);
    expect(merged.results.getColumn("seed").toArray().sort()).toEqual([0, 0, 1, 1, 2, 2]);
    expect(merged.curves.height).toBe(6 * 6);
    expect(plannedShippedRuns(merged).map((r) => r.runId).sort()).toEqual([...moreIds].sort());
    expect(loadShippedSweep(dest, () => {}, { supplements: false }).results.height).toBe(4);

    // Nothing new to add: refused.
    await expect(exportSweep(out, tmp(), spec, [], expandSpec(spec).map((r) => r.runId), merged))
      .rejects.toThrow(/already in .*nothing to supplement/);
    // A base whose shared run scored otherwise (another machine's rounding): refused on export.
    const other = tmp();
    await exportSweep(out, other, spec, ["(test)"], expandSpec(spec).map((r) => r.runId));
    const csv = await Deno.readTextFile(`${other}/results.csv`);
    const loss = String(loadShippedSweep(other).results.getColumn("val_loss").toArray()[0]);
    await Deno.writeTextFile(
      `${other}/results.csv`,
      csv.replace(loss, String(Number(loss) + 0.01)),
    );
    await expect(exportSweep(out, tmp(), more, [], moreIds, loadShippedSweep(other)))
      .rejects.toThrow(/1 run\(s\) shared with .* scored otherwise.*rounds differently/s);
    // A supplement from a machine that rounds otherwise: refused on load, and the base alone reads.
    const manifest = JSON.parse(await Deno.readTextFile(`${supDir}/manifest.json`));
    await Deno.writeTextFile(
      `${supDir}/manifest.json`,
      JSON.stringify({ ...manifest, machine: { ...manifest.machine, rounding: "another CPU" } }),
    );
    expect(() => loadShippedSweep(dest)).toThrow(/cannot extend .*rounds otherwise/s);
    expect(loadShippedSweep(dest, () => {}, { supplements: false }).results.height).toBe(4);
    // A plain export is no supplement: refused, with the way out.
    await Deno.remove(supDir, { recursive: true });
    await exportSweep(out, supDir, more, [], moreIds);
    expect(() => loadShippedSweep(dest)).toThrow(/not exported as a supplement.*--supplement-of/s);
  });

  it("names what a shipped folder holds when one is missing", () => {
    expect(() => loadShippedSweep(tmp())).toThrow(/manifest\.json cannot be read.*--export/s);
  });
});

/**
 * Trains a config in a child process: a run of a minute or more would block this worker's event
 * loop past vitest's RPC timeout if it ran here.
 */
async function trainElsewhere(
  config: Record<string, unknown>,
): Promise<{ val_loss: number; train_loss: number }> {
  const script = `${tmp()}/train.ts`;
  const lib = new URL("../lib/train/mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { train } from ${JSON.stringify(lib)};\n` +
      `const r = await train(${JSON.stringify(config)}, { quiet: true });\n` +
      `console.log(JSON.stringify({ val_loss: r.val_loss, train_loss: r.train_loss }));\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, script],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(text);
}

describe("a machine's rounding fingerprint", () => {
  it("names the CPU, its vector extensions and the BLAS; only equal fingerprints compare tightly", () => {
    const here = machineInfo();
    expect(here.rounding).toContain(here.cpu);
    expect(here.rounding).toMatch(/OpenBLAS \S+|no OpenBLAS/);
    expect(sameRounding(here, machineInfo())).toBe(true);
    expect(sameRounding(here, { ...here, rounding: here.rounding + "; avx512f" })).toBe(false);
    expect(sameRounding(here, { ...here, v8: "0" })).toBe(false);
    // A manifest from before the fingerprint was recorded never claims the same rounding.
    expect(sameRounding({ ...here, rounding: undefined }, here)).toBe(false);
  });
});

describe("the committed standard sweep", () => {
  let cached: ReturnType<typeof loadShippedSweep> | undefined;
  const standard = () => (cached ??= loadShippedSweep(STANDARD));

  it("holds every run of the standard preset and its seeds supplement, each id the hash of its config", () => {
    const shipped = standard();
    expect(shipped.spec.name).toBe("standard");
    expect(loadShippedSweep(STANDARD, () => {}, { supplements: false }).results.height)
      .toBe(expandSpec(shipped.spec).length);
    expect(shipped.supplements.map((x) => x.spec.name)).toEqual(["standard-seeds"]);
    expect(shipped.results.height).toBe(plannedShippedRuns(shipped).length);
    // S-BASE and dense: four seeds in every cell; HASH and RL-R keep the standard preset's.
    const seedsOf = new Map<string, number>();
    for (const label of shipped.results.getColumn("label").toArray() as string[]) {
      const cell = label.replace(/ seed\d+$/, "");
      seedsOf.set(cell, (seedsOf.get(cell) ?? 0) + 1);
    }
    for (const [cell, n] of seedsOf) {
      expect(n, cell).toBe(/^(S-Base|Dense) /.test(cell) ? 4 : /d(64|160)L/.test(cell) ? 2 : 1);
    }
    const configs = shipped.results.getColumn("config").toArray() as string[];
    const ids = shipped.results.getColumn("run_id").toArray() as string[];
    configs.forEach((c, i) =>
      expect(runIdOf(JSON.parse(c), shipped.manifest.trainingCodeVersion)).toBe(ids[i])
    );
    expect(shipped.manifest.machine.cpu.length).toBeGreaterThan(0);
  });

  it(
    "retraining its cheapest run reproduces the committed loss (runs are deterministic)",
    async () => {
      const shipped = standard();
      expect(shipped.manifest.trainingCodeVersion).toBe(TRAINING_CODE_VERSION);
      const rows = shipped.results.filter(pl.col("E").eq(1)).sort(["N", "seed"]);
      const row = rows.toRecords()[0] as Record<string, unknown>;
      const config = JSON.parse(String(row.config));
      const result = await trainElsewhere(config);
      // Same code, same config, same single BLAS thread: the same numbers (measured: equal to the
      // last printed digit); the tolerance only allows for another CPU's rounding.
      expect(Math.abs(result.val_loss - Number(row.val_loss))).toBeLessThan(1e-3);
      expect(Math.abs(result.train_loss - Number(row.train_loss))).toBeLessThan(1e-3);
    },
    300_000,
  );

  it(
    "retraining its cheapest S-BASE run reproduces the committed loss (routing included)",
    async () => {
      // S-BASE's top-1 choices amplify any last-bit difference: code that changed the routed
      // path's rounding moved this run by 1.2e-3 nats (code version 4 -> 5, lib/identity), which
      // the dense run above did not show. Measured here: equal to the last printed digit.
      const shipped = standard();
      const rows = shipped.results.filter(pl.col("router").eq(pl.lit("S-Base")))
        .sort(["N", "E", "seed"]);
      const row = rows.toRecords()[0] as Record<string, unknown>;
      const config = JSON.parse(String(row.config));
      expect(config.experts).toBeGreaterThan(1);
      const result = await trainElsewhere(config);
      const gap = Math.abs(result.val_loss - Number(row.val_loss));
      if (sameRounding(shipped.manifest.machine, machineInfo())) {
        expect(gap).toBeLessThan(1e-4);
      } else {
        // Another CPU or OpenBLAS setup rounds differently and S-BASE amplifies it (measured:
        // 0.0036 nats between an AVX-512 and an AVX2 EPYC on a 1,465-step run). Such a
        // difference must stay inside the seed spread the sweep measured for S-BASE at that size
        // (one sd), or the committed runs would not be what this code trains.
        const sd = spreadAt(
          frameSeedSpread(ourMainFrame(shipped.results, () => {}))!,
          row.N as number,
          "S-Base",
        );
        console.log(
          `other rounding than the committed sweep's machine: S-BASE run ${gap.toExponential(2)} ` +
            `nats apart (seed sd at that size ${sd.toFixed(4)})`,
        );
        expect(gap).toBeLessThan(sd);
      }
    },
    300_000,
  );

  it("the seeds supplement measures S-BASE's and dense's spread at every size instead of borrowing it", () => {
    const sizesMeasured = (results: pl.DataFrame, group: string) =>
      frameSeedSpread(ourMainFrame(results, () => {}))!.byGroup!.find((g) => g.group === group)!
        .bySize.map((z) => z.size);
    const alone = loadShippedSweep(STANDARD, () => {}, { supplements: false }).results;
    const Ns = [...new Set(alone.getColumn("N").toArray() as number[])].sort((a, b) => a - b);
    // The standard preset alone repeats its smallest and largest size; d_model 96 and 128 borrow.
    expect(sizesMeasured(alone, "S-Base")).toEqual([Ns[0], Ns[3]]);
    expect(sizesMeasured(alone, "Dense")).toEqual([Ns[0], Ns[3]]);
    expect(sizesMeasured(standard().results, "S-Base")).toEqual(Ns);
    expect(sizesMeasured(standard().results, "Dense")).toEqual(Ns);
    expect(sizesMeasured(standard().results, "Hash")).toEqual([Ns[0], Ns[3]]);
  });

  it("Eq. (1) on these runs: unbounded, E_start slides below 1; bounded at 1, in range at no cost", () => {
    const frame = ourMainFrame(standard().results, () => {});
    const input = frameAnalysisInput(frame, "standard");
    const opts = { restarts: 200, bootstrap: 0, techniques: ["S-Base"] };
    const free = analyse(input, opts).techniques["S-Base"].eq1;
    const bounded = analyse(input, { ...opts, eq1MinEStart: OUR_RUNS_EQ1_MIN_E_START });
    const b = bounded.techniques["S-Base"].eq1;
    // Why the bound (lib/analysis/analyse.ts): the unbounded optimum is a degenerate corner.
    expect(free.params.E_start).toBeLessThan(1);
    expect(b.params.E_start).toBeGreaterThanOrEqual(1);
    expect(b.params.E_max).toBeGreaterThan(b.params.E_start);
    expect(b.params.E_max).toBeLessThan(E_MAX_REACH * 32);
    expect(b.converged).toBe(true);
    // The valley is flat: staying where the law means something costs under 0.2% of the MSE.
    expect(b.mse_log10).toBeGreaterThanOrEqual(free.mse_log10 * (1 - 1e-9));
    expect(b.mse_log10).toBeLessThan(free.mse_log10 * 1.002);
    expect(bounded.options.eq1MinEStart).toBe(1);
    const sat = checkClaims(frame, bounded).find((c) => c.id === "saturation_measured")!;
    expect(sat.details[0]).toMatch(/^S-BASE: E_start \[1 \(the bound\), .*E_start >= 1 imposed/);
  });
});
