import { beforeAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import process from "node:process";
import {
  analyse,
  type Analysis,
  type AnalysisInput,
  analysisJson,
  frameAnalysisInput,
  paperComparison,
  releaseAnalysisInput,
  table3Mse,
} from "../lib/analysis/mod.ts";
import { finalSteps, loadRelease, mainSweep } from "../lib/release/mod.ts";
import { computeLawData } from "../lib/figures/mod.ts";
import { eq1Law, TABLE3 } from "../lib/laws/mod.ts";
import { curvesPath } from "./_curves.ts";

const deno = process.execPath;

/** Run `deno task fit ...` as a user would; returns exit code and both streams. */
function fitCli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(deno, ["run", "-A", "lib/cli/fit.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, ROUTING_CURVES: curvesPath(), NO_COLOR: "1" },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe("analysis of the authors' release", () => {
  let df: pl.DataFrame;
  let input: AnalysisInput;
  let a: Analysis;
  beforeAll(async () => {
    df = await loadRelease({ path: curvesPath() });
    input = releaseAnalysisInput(df);
    a = analyse(input, { restarts: 200, bootstrap: 50, bootstrapRestarts: 10, seed: 1 });
  });

  it("fits every technique, with dense runs as E = 1 in each", () => {
    expect(Object.keys(a.techniques)).toEqual(["S-Base", "RL-R", "Hash"]);
    for (const g of Object.values(input.techniques)) {
      expect(g.E.filter((e) => e === 1).length).toBe(5); // seed-42 dense: 130M has no seed 42
    }
    expect(input.dense.N.length).toBe(5);
  });

  it("our Eq. (1) refit beats the published Table 3 coefficients on the same data", () => {
    for (const r of table3Mse(a, input)) {
      expect(r.ours_mse_log10).toBeLessThan(r.paper_mse_log10);
    }
  });

  it("Eq. (1) fits better than the separable law and the bilinear law in raw E", () => {
    for (const r of Object.values(a.techniques)) {
      expect(r.eq1.mse_log10).toBeLessThan(r.separable.mse_log10);
      expect(r.eq1.mse_log10).toBeLessThan(r.bilinear.mse_log10);
      expect(r.eq1.converged).toBe(true);
    }
  });

  it("intervals contain the point estimates; E_start < E_max in every resample", () => {
    for (const r of Object.values(a.techniques)) {
      for (const k of [...eq1Law.paramNames, "N_cutoff", "EPC_5M_128"]) {
        const [lo, hi] = r.eq1.ci95![k];
        expect(lo).toBeLessThanOrEqual(hi);
      }
      for (const k of ["a", "b", "c", "d"] as const) {
        const [lo, hi] = r.eq1.ci95![k];
        expect(r.eq1.params[k]).toBeGreaterThanOrEqual(lo - 1e-9);
        expect(r.eq1.params[k]).toBeLessThanOrEqual(hi + 1e-9);
      }
      expect(r.eq1.ci95!.E_start[0]).toBeGreaterThan(0);
      expect(r.eq1.params.E_start).toBeLessThan(r.eq1.params.E_max);
    }
  });

  it("the paper's numbers sit beside ours; the refit is close to Table 3", () => {
    const rows = paperComparison(a);
    for (const t of ["S-Base", "RL-R", "Hash"] as const) {
      const ours = a.techniques[t].eq1.params;
      // a and d are well determined: within 0.01 and 0.03 of the published values.
      expect(Math.abs(ours.a - TABLE3[t].a)).toBeLessThan(0.01);
      expect(Math.abs(ours.d - TABLE3[t].d)).toBeLessThan(0.03);
      expect(rows.filter((r) => r.technique === t).length).toBe(8);
    }
    const alpha = rows.find((r) => r.quantity === "alpha_N")!;
    expect(alpha.paper).toBe(0.078);
    expect(Math.abs(alpha.ours - 0.078)).toBeLessThan(0.005);
  });

  it("per-N slopes shrink in magnitude as N grows (the paper's motivation for the bilinear law)", () => {
    for (const r of Object.values(a.techniques)) {
      const b = r.perN.map((p) => p.b);
      expect(b[0]).toBeLessThan(b[b.length - 1]);
      expect(b.every((x) => x < 0)).toBe(true);
    }
  });

  it("held-out: fit up to 370M predicts the 1.3B runs within a few percent", () => {
    for (const r of Object.values(a.techniques)) {
      expect(r.heldOut!.eq1.nTest).toBeGreaterThan(5);
      expect(r.heldOut!.eq1.mean_abs_rel_error).toBeLessThan(0.05);
    }
  });

  it("the compute-law figure and the analysis fit the (F, Bhat) law on the same runs", () => {
    for (const c of computeLawData(finalSteps(df), { restarts: 200, seed: 1 })) {
      const g = a.techniques[c.technique].generalised!;
      expect(c.points.length).toBe(g.n);
      expect(c.fit.mse_log10).toBeCloseTo(g.mse_log10, 9);
    }
  });

  it("the user-file path gives the same fit as the release path (CSV round trip)", () => {
    // The main sweep written as a user's CSV: technique per row, dense rows labelled "Dense".
    const main = mainSweep(df);
    const routed = main.filter(pl.col("E").gt(1));
    const dense = main.filter(pl.col("E").eq(1).and(pl.col("technique").eq(pl.lit("S-Base"))))
      .withColumn(pl.lit("Dense").alias("technique"));
    const frame = pl.concat([routed, dense]).select("technique", "N", "E", "loss");
    const dir = mkdtempSync(join(tmpdir(), "fit-input-"));
    frame.writeCSV(join(dir, "runs.csv"));
    const fromFile = frameAnalysisInput(pl.readCSV(join(dir, "runs.csv")), "runs.csv");
    const b = analyse(fromFile, { restarts: 200, bootstrap: 0, seed: 1 });
    for (const t of ["S-Base", "RL-R", "Hash"]) {
      expect(b.techniques[t].eq1.mse_log10).toBeCloseTo(a.techniques[t].eq1.mse_log10, 10);
      expect(b.techniques[t].separable.params.a).toBeCloseTo(
        a.techniques[t].separable.params.a,
        10,
      );
    }
    expect(b.dense!.alpha_N).toBeCloseTo(a.dense!.alpha_N, 12);
  });

  it("JSON: keyed by technique plus Dense with the fields the issue names", () => {
    const j = analysisJson(a) as Record<string, Record<string, Record<string, unknown>>>;
    expect(Object.keys(j).sort()).toEqual(["Dense", "Hash", "RL-R", "S-Base"]);
    for (const t of ["S-Base", "RL-R", "Hash"]) {
      for (
        const k of [
          "a",
          "b",
          "c",
          "d",
          "E_start",
          "E_max",
          "mse_log10",
          "rmse_loss",
          "n",
          "N_cutoff",
          "ci95",
        ]
      ) {
        expect(j[t].eq1).toHaveProperty(k);
      }
      expect(j[t].separable).toHaveProperty("mse_log10");
      expect(j[t].bilinear).toHaveProperty("c");
    }
    expect(j.Dense).toHaveProperty("alpha_N");
    expect(j.Dense).toHaveProperty("N_c");
    expect(j.Dense).toHaveProperty("mse_log10");
  });
});

describe("deno task fit (CLI)", () => {
  it("--json prints one parseable object keyed by technique plus Dense", () => {
    const r = fitCli([
      "--json",
      "--restarts",
      "100",
      "--bootstrap",
      "20",
      "--bootstrap-restarts",
      "5",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(Object.keys(j).sort()).toEqual(["Dense", "Hash", "RL-R", "S-Base"]);
    expect(j["S-Base"].eq1.ci95.a).toHaveLength(2);
  });

  it("prints the readable table with the paper beside ours", () => {
    const r = fitCli(["--restarts", "50", "--bootstrap", "0", "--technique", "Hash"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Table 3");
    expect(r.stdout).toMatch(/Hash\s+E_max\s+477\.741/);
    expect(r.stdout).not.toContain("S-Base");
  });

  const bad = (name: string, csv: string, msg: RegExp) =>
    it(`--input: ${name} is a clear error and prints nothing on stdout`, () => {
      const dir = mkdtempSync(join(tmpdir(), "fit-bad-"));
      const f = join(dir, "runs.csv");
      writeFileSync(f, csv);
      const r = fitCli(["--input", f, "--bootstrap", "0", "--restarts", "20"]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(msg);
    });
  const grid = (f: (n: number, e: number) => string) =>
    [1e7, 3e7, 1e8].flatMap((n) => [1, 4, 16, 64].map((e) => f(n, e))).join("\n");
  bad("a missing column", "N,E\n1e7,1\n", /missing column 'loss'/);
  bad("a NaN loss", "N,E,loss\n" + grid((n, e) => `${n},${e},${e === 16 ? "NaN" : 3}`), /loss/);
  bad(
    "a non-positive loss",
    "N,E,loss\n" + grid((n, e) => `${n},${e},${e === 4 ? -1 : 3}`),
    /loss/,
  );
  bad(
    "E < 1",
    "N,E,loss\n" + grid((n, e) => `${n},${e === 1 ? 0.5 : e},3`),
    /E \(experts\) must be >= 1/,
  );
  bad("fewer points than parameters", "N,E,loss\n1e7,1,3\n1e8,4,2.9\n", /points|parameters/);
  it("--input: a missing file and an unknown technique are clear errors", () => {
    let r = fitCli(["--input", "/nonexistent/runs.csv"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no such file/);
    r = fitCli(["--technique", "Switch", "--bootstrap", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/Unknown technique "Switch".*S-Base, RL-R, Hash/);
  });
});
