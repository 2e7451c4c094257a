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
  type BootstrapProgress,
  compareTechniques,
  computeLawData,
  frameAnalysisInput,
  MAX_BOOTSTRAP,
  paperComparison,
  releaseAnalysisInput,
  table3Mse,
} from "../lib/analysis/mod.ts";
import { bootstrapReporter } from "../lib/cli/fit.ts";
import { MAX_RESTARTS, restartsArg } from "../lib/cli/args.ts";
import { finalSteps, loadRelease, mainSweep } from "../lib/release/mod.ts";
import { eq1Law, TABLE3 } from "../lib/laws/mod.ts";
import { curvesPath } from "./_curves.ts";

const deno = process.execPath;

/**
 * Run `deno task fit ...` as a user would; returns exit code (-1 when killed after `timeoutMs`)
 * and both streams.
 */
function fitCli(
  args: string[],
  timeoutMs = 120_000,
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(deno, ["run", "-A", "lib/cli/fit.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, ROUTING_CURVES: curvesPath(), NO_COLOR: "1" },
    timeout: timeoutMs,
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

  it("compareTechniques on the main sweep gives paperComparison's Eq. (1) rows", () => {
    const rows = compareTechniques(mainSweep(df), {
      restarts: 200,
      resamples: 50,
      bootRestarts: 10,
      seed: 1,
    });
    expect(rows).toEqual(paperComparison(a).filter((r) => r.technique !== "Dense"));
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
  bad(
    "a non-integer E",
    "N,E,loss\n" + grid((n, e) => `${n},${n === 3e7 && e === 4 ? 1.5 : e},3`),
    /row 6 has E = 1\.5; E \(experts\) must be >= 1 and a whole number/,
  );

  /** A plausible grid of 12 runs (3 sizes x E in {1, 4, 16, 64}) with row `row` (1-based) patched. */
  const runsCsv = (row: number, patch: (n: number, e: number, loss: number) => string) => {
    const dir = mkdtempSync(join(tmpdir(), "fit-far-"));
    const f = join(dir, "runs.csv");
    const rows = [1e7, 3e7, 1e8].flatMap((n) =>
      [1, 4, 16, 64].map((e) => [n, e, 3.5 * (n / 1e7) ** -0.08 * e ** -0.03])
    );
    writeFileSync(
      f,
      "N,E,loss\n" +
        rows.map(([n, e, l], i) => (i + 1 === row ? patch(n, e, l) : `${n},${e},${l}`)).join("\n"),
    );
    return f;
  };

  it("--input: a loss of 1e308 is named in a warning and its non-finite fit refused", () => {
    const r = fitCli(["--input", runsCsv(7, (n, e) => `${n},${e},1e308`), "--bootstrap", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "row 7 (loss = 1e+308) lies more than 3 orders of magnitude from the median loss",
    );
    expect(r.stderr).toMatch(
      /error: the eq1 fit for technique "all" is not finite \(rmse_loss = Infinity\): .*fix or remove them/,
    );
  });

  it("--input: an N of 1e308 is named in a warning on stderr; --json stdout stays clean", () => {
    const f = runsCsv(7, (_n, e, l) => `1e308,${e},${l}`);
    const r = fitCli(["--input", f, "--json", "--bootstrap", "0", "--restarts", "20"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `warning: ${f}: row 7 (N = 1e+308) lies more than 3 orders of magnitude from the median ` +
        `N (3e+7); check it for a typo or a unit mistake`,
    );
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(["all", "Dense"]);
  });

  it("warns about no row of plausible data, and names every far row of a column at once", () => {
    const warnings: string[] = [];
    const N = [1e7, 1e7, 3e7, 3e7, 1e8, 1e8, 1.3e9, 1.5e7];
    const frame = (n: number[]) =>
      pl.DataFrame({ N: n, E: n.map((_, i) => (i % 2 ? 4 : 1)), loss: n.map(() => 3) });
    frameAnalysisInput(frame(N), "runs.csv", { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    frameAnalysisInput(frame([...N.slice(0, 6), 1e3, 2e11]), "runs.csv", {
      warn: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([
      "runs.csv: rows 7 (N = 1000), 8 (N = 200000000000) lie more than 3 orders of magnitude " +
      "from the median N (3e+7); check them for a typo or a unit mistake: the fit uses every " +
      "row as given",
    ]);
  });

  it("--restarts beyond the limit is refused, naming it, before any work", () => {
    const r = fitCli(["--restarts", "1e9", "--json"], 30_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `--restarts must be an integer from 1 to ${MAX_RESTARTS}, got "1e9": the default 500`,
    );
    expect(() => restartsArg("bootstrap-restarts", "0")).toThrow(/from 1 to 100000, got "0"/);
    expect(restartsArg("restarts", String(MAX_RESTARTS))).toBe(MAX_RESTARTS);
  });

  it("--bootstrap 1e9 and a negative E_start bound are refused, naming the limit", () => {
    const r = fitCli(["--bootstrap", "1e9", "--json"], 30_000); // accepted, it would run for years
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `--bootstrap must be 0 (no intervals) or an integer from 2 to 100000, got "1e9"`,
    );
    expect(MAX_BOOTSTRAP).toBe(100_000);
    const input: AnalysisInput = {
      techniques: { all: { N: [1e7, 1e8], E: [1, 4], loss: [3, 2.9] } },
      dense: { N: [], loss: [] },
      source: "test",
    };
    expect(() => analyse(input, { bootstrap: 1e9 })).toThrow(/from 2 to 100000, got 1000000000/);
    expect(() => analyse(input, { eq1MinEStart: -1 })).toThrow(
      /eq1MinEStart must be a finite number >= 0 \(0: no bound\), got -1/,
    );
  });

  it("a long bootstrap shows progress with the time left on stderr within seconds", async () => {
    // At the limit, Hash's eq1 bootstrap alone takes minutes: a line must come long before.
    const child = new Deno.Command(deno, {
      args: [
        "run",
        "-A",
        "lib/cli/fit.ts",
        "--json",
        "--technique",
        "Hash",
        "--bootstrap",
        "100000",
      ],
      env: { ROUTING_CURVES: curvesPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new Response(child.stdout).text();
    const deadline = setTimeout(() => child.kill(), 90_000);
    let err = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!/left for this law/.test(err)) {
      const { value, done } = await reader.read();
      if (done) break;
      err += value;
    }
    clearTimeout(deadline);
    await reader.cancel();
    try {
      child.kill();
    } catch { /* already gone */ }
    await child.status;
    expect(err).toMatch(
      /\[fit\] bootstrap Hash eq1 \(law 1 of 5\): \d+\/100000 resamples, \S+, about \S+ left for this law/,
    );
    expect(await stdout).toBe(""); // --json: the result only, and only at the end
  }, 120_000);

  it("bootstrap progress: silent when short, then the time left at the measured rate", () => {
    const out: string[] = [];
    let t = 0;
    const report = bootstrapReporter({ tty: false, write: (s) => out.push(s), now: () => t });
    const p = (done: number, total: number) =>
      report({ label: "S-Base eq1", index: 1, count: 13, done, total });
    const run = (total: number, msPerResample: number) => {
      p(0, total);
      for (let i = 1; i <= total; i++) {
        t += msPerResample;
        p(i, total);
      }
    };
    run(100, 10); // 1 s: nothing
    expect(out).toEqual([]);
    run(1000, 10); // 10 s: a line at 3 s (300 done, 700 left at 100/s), then every 30 s, done
    expect(out).toEqual([
      "[fit] bootstrap S-Base eq1 (law 1 of 13): 300/1000 resamples, 3s, about 7s left for this " +
      "law\n",
      "[fit] bootstrap S-Base eq1 (law 1 of 13): 1000/1000 resamples, 10s, done\n",
    ]);
    // On a terminal: one line rewritten in place, every second.
    const tty: string[] = [];
    const live = bootstrapReporter({ tty: true, write: (s) => tty.push(s), now: () => t });
    const events: BootstrapProgress[] = [0, 400, 500, 600, 1000].map((done) => ({
      label: "Hash eq1",
      index: 1,
      count: 5,
      done,
      total: 1000,
    }));
    for (const e of events) {
      t += e.done ? 1000 : 0;
      live(e);
    }
    expect(tty).toEqual([ // nothing at 1 s and 2 s; at 3 s 400 left at 200/s; then done
      "\r\x1b[K[fit] bootstrap Hash eq1 (law 1 of 5): 600/1000 resamples, 3s, about 2s left " +
      "for this law",
      "\r\x1b[K[fit] bootstrap Hash eq1 (law 1 of 5): 1000/1000 resamples, 4s, done\n",
    ]);
  });

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
