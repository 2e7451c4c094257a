import { createHash } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { checkpointFile, TRAINING_CODE_VERSION } from "../lib/train/mod.ts";
import {
  canonicalJson,
  claimSweepFolder,
  expandSpec,
  finishedRunIds,
  fitFrame,
  loadRouterMetrics,
  loadSpecFile,
  loadSweepCurves,
  loadSweepResults,
  lockPathOf,
  preset,
  PRESET_NAMES,
  resolveShard,
  runIdOf,
  type RunOne,
  runSweep,
  shardItems,
  SPEC_MARKER,
  specHash,
  staleReason,
  summarizeSweep,
  sweepMainFrame,
  type SweepProgress,
  type SweepSpecInput,
  tryLock,
  validateSpec,
} from "../lib/sweep/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = `${ROOT}lib/cli/sweep.ts`;
const tmpDirs: string[] = [];
const tmp = () => {
  const d = Deno.makeTempDirSync({ prefix: "sweep-test-" });
  tmpDirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of tmpDirs) Deno.removeSync(d, { recursive: true });
});

// Tiny real training runs (lib/train on the kit's corpus): 2 sizes x (dense + 2 routers x E=4).
const SPEC: SweepSpecInput = {
  name: "test",
  routers: ["S-Base", "Hash"],
  sizes: [{ dModel: 16, layers: 1, heads: 2 }, { dModel: 32, layers: 1, heads: 2 }],
  experts: [1, 4],
  seeds: [0],
  budget: { steps: 16 },
  train: { batchSize: 4, seqLen: 32, warmupSteps: 2, evalEvery: 8, evalBatches: 2 },
  checkpointEvery: 4,
};
const STEPS = 16;

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command("deno", {
    args: ["run", "-A", CLI, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

// One uninterrupted sweep through the CLI, the reference for the other tests.
const reference = tmp();
Deno.writeTextFileSync(`${reference}.spec.json`, JSON.stringify(SPEC));
tmpDirs.push(`${reference}.spec.json`);
const t0 = performance.now();
const referenceRun = await cli(["--spec", `${reference}.spec.json`, "--out", reference]);
console.log(
  `reference sweep (6 tiny runs, one process): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

function resultMap(dir: string): Map<string, number> {
  const df = loadSweepResults(dir);
  const ids = df.getColumn("run_id").toArray() as string[];
  const loss = df.getColumn("val_loss").toArray() as number[];
  return new Map(ids.map((id, i) => [id, loss[i]]));
}

/** Every Parquet file under DIR/runs reads back and holds rows of its own run. */
function checkEveryFile(dir: string): number {
  let files = 0;
  for (const e of Deno.readDirSync(`${dir}/runs`)) {
    expect(e.name.startsWith(".")).toBe(false); // no temp leftovers
    for (const f of ["result", "curve", "router"]) {
      const df = pl.readParquet(`${dir}/runs/${e.name}/${f}.parquet`);
      const ids = new Set(df.getColumn("run_id").toArray());
      // a dense run has no router metrics: an empty frame, still readable
      expect([...ids]).toEqual(f === "router" && df.height === 0 ? [] : [e.name]);
      files++;
    }
    const cfg = JSON.parse(Deno.readTextFileSync(`${dir}/runs/${e.name}/config.json`));
    expect(runIdOf(cfg)).toBe(e.name);
  }
  return files;
}

describe("sweep spec", () => {
  it("fills defaults, expands dense once per size and routed runs per router x E", () => {
    const runs = expandSpec(SPEC);
    expect(runs.length).toBe(2 * (1 + 2 * 1));
    expect(runs.map((r) => r.config.router)).toEqual([
      "Dense",
      "S-Base",
      "Hash",
      "Dense",
      "S-Base",
      "Hash",
    ]);
    expect(new Set(runs.map((r) => r.runId)).size).toBe(runs.length);
    expect(runs.every((r) => r.config.steps === STEPS && r.config.backend === "wasm")).toBe(true);
    // token budget -> steps = ceil(tokens / (batch x seq))
    const byTokens = expandSpec({ ...SPEC, budget: { tokens: 1000 } });
    expect(byTokens[0].config.steps).toBe(Math.ceil(1000 / (4 * 32)));
  });

  it("run id is the hash of the full config, independent of key order", () => {
    const [run] = expandSpec(SPEC);
    const reversed = Object.fromEntries(Object.entries(run.config).reverse());
    expect(runIdOf(reversed)).toBe(run.runId);
    expect(runIdOf({ ...run.config, lr: 0.25 })).not.toBe(run.runId);
    expect(run.runId).toMatch(/^[0-9a-f]{16}$/);
    // The training code's version is part of the id: results of older code are never reused.
    const bare = createHash("sha256").update(canonicalJson(run.config)).digest("hex").slice(0, 16);
    expect(run.runId).not.toBe(bare);
    const versioned = createHash("sha256").update(`train-v${TRAINING_CODE_VERSION}\n`)
      .update(canonicalJson(run.config)).digest("hex").slice(0, 16);
    expect(run.runId).toBe(versioned);
  });

  it("presets validate and have distinct run ids", () => {
    for (const name of PRESET_NAMES) {
      const runs = expandSpec(preset(name));
      expect(new Set(runs.map((r) => r.runId)).size).toBe(runs.length);
    }
    const quick = expandSpec(preset("quick"));
    // enough for Eq. (1) per technique: >= 3 sizes x >= 3 expert counts, dense joining each
    // technique's fit as E = 1 at every size
    const denseSizes = new Set(
      quick.filter((r) => r.config.experts === 1).map((r) => r.config.dModel),
    );
    for (const router of ["S-Base", "RL-R", "Hash"]) {
      const mine = quick.filter((r) => r.config.router === router);
      const sizes = new Set(mine.map((r) => r.config.dModel));
      expect(sizes.size).toBeGreaterThanOrEqual(3);
      expect([...sizes].every((d) => denseSizes.has(d))).toBe(true);
      expect(new Set([1, ...mine.map((r) => r.config.experts)]).size).toBeGreaterThanOrEqual(3);
    }
  });

  it("bad specs fail with an error naming the problem", async () => {
    const bad: [unknown, RegExp][] = [
      [{ ...SPEC, expert: [1] }, /unknown field "expert"/],
      [
        { ...SPEC, sizes: [{ dModel: 10, layers: 1, heads: 3 }] },
        /dModel 10 is not divisible by heads 3/,
      ],
      [{ ...SPEC, k: [8] }, /k = 8 exceeds the smallest routed expert count 4/],
      [{ ...SPEC, budget: { steps: 0 } }, /budget.steps must be an integer >= 1/],
      [{ ...SPEC, budget: { steps: 5, tokens: 9 } }, /exactly one of "steps" or "tokens"/],
      [{ ...SPEC, routers: ["Dense"] }, /dense runs come from putting 1 into experts/],
      [{ ...SPEC, experts: [4, 4] }, /experts lists 4 twice/],
      [{ ...SPEC, train: { steps: 10 } }, /unknown field train.steps .*budget/],
      [{ ...SPEC, train: { backend: "tpu" } }, /train.backend must be one of/],
      [{ ...SPEC, name: undefined }, /missing required field "name"/],
      [{ ...SPEC, routingFrequency: [0.5] }, /routingFrequency 0.5 x layers 1 .* < 1/],
      [{ ...SPEC, routingFrequency: [2] }, /routingFrequency\[0\] must be a fraction/],
      [{ ...SPEC, routerOptions: { "RL-R": {} } }, /routerOptions names "RL-R"/],
    ];
    for (const [spec, re] of bad) expect(() => validateSpec(spec)).toThrow(re);
    expect(() => validateSpec({ ...SPEC, k: [2], experts: [1, 2, 4] })).not.toThrow();
    const dir = tmp();
    Deno.writeTextFileSync(`${dir}/bad.json`, `{"name": "x", "routers": [}`);
    await expect(loadSpecFile(`${dir}/bad.json`)).rejects.toThrow(/bad.json is not valid JSON/);
    Deno.writeTextFileSync(`${dir}/bad2.json`, JSON.stringify({ ...SPEC, seeds: [-1] }));
    await expect(loadSpecFile(`${dir}/bad2.json`)).rejects.toThrow(
      /bad2.json\): seeds\[0\] must be an integer >= 0/,
    );
    const r = await cli(["--spec", `${dir}/bad2.json`, "--out", `${dir}/o`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/seeds\[0\] must be an integer >= 0/);
  });
});

describe("sharding", () => {
  it("shards partition the runs: every run in exactly one shard", () => {
    const runs = expandSpec(preset("quick"));
    for (const n of [1, 2, 3, 4, 7, 40]) {
      const seen = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        for (const r of shardItems(runs, { index: i, count: n, source: "t" })) {
          seen.set(r.runId, (seen.get(r.runId) ?? 0) + 1);
        }
      }
      expect(seen.size).toBe(runs.length);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
    }
  });

  it("reads the shard from --shard, Slurm arrays and Kubernetes Indexed Jobs", () => {
    expect(resolveShard("2/5", {})).toMatchObject({ index: 2, count: 5 });
    expect(resolveShard(undefined, {})).toMatchObject({ index: 0, count: 1 });
    expect(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_COUNT: "4" }))
      .toMatchObject({ index: 3, count: 4 });
    expect(
      resolveShard(undefined, {
        SLURM_ARRAY_TASK_ID: "12",
        SLURM_ARRAY_TASK_MIN: "10",
        SLURM_ARRAY_TASK_MAX: "13",
      }),
    ).toMatchObject({ index: 2, count: 4 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: "1", SWEEP_SHARD_COUNT: "3" }))
      .toMatchObject({ index: 1, count: 3 });
    expect(() => resolveShard(undefined, { JOB_COMPLETION_INDEX: "1" })).toThrow(
      /SWEEP_SHARD_COUNT/,
    );
    expect(() => resolveShard("3/3", {})).toThrow(/0\.\.2/);
    expect(() => resolveShard("a/b", {})).toThrow(/i\/n/);
  });
});

describe("deploy templates", () => {
  it("the Kubernetes Indexed Job's indexes cover the sweep exactly once", () => {
    const yaml = Deno.readTextFileSync(`${ROOT}deploy/k8s/sweep-job.yaml`);
    expect(yaml).toMatch(/completionMode: Indexed/);
    const completions = Number(/\n\s+completions: (\d+)/.exec(yaml)?.[1]);
    const count = /name: SWEEP_SHARD_COUNT\s+value: "(\d+)"/.exec(yaml)?.[1];
    expect(Number(count)).toBe(completions);
    const args = /args: \[(.*)\]/.exec(yaml)![1].split(",").map((a) => JSON.parse(a.trim()));
    expect(args.slice(0, 2)).toEqual(["--preset", "quick"]);
    const runs = expandSpec(preset(args[1]));
    const seen: string[] = [];
    for (let i = 0; i < completions; i++) {
      const shard = resolveShard(undefined, {
        JOB_COMPLETION_INDEX: String(i),
        SWEEP_SHARD_COUNT: count,
      });
      seen.push(...shardItems(runs, shard).map((r) => r.runId));
    }
    expect(seen.sort()).toEqual(runs.map((r) => r.runId).sort());
  });

  it("the example JSON spec loads: 2 sizes x 2 seeds x (dense + 3 routers x 2 E x 2 R)", async () => {
    const spec = await loadSpecFile(`${ROOT}deploy/specs/example.json`);
    const runs = expandSpec(spec);
    expect(runs.length).toBe(2 * 2 * (1 + 3 * 2 * 2));
    const rlr = runs.find((r) => r.config.router === "RL-R")!;
    expect(rlr.config.routerOptions).toEqual({ policyWeight: 0.01 });
    expect(runs.find((r) => r.config.router === "Hash")!.config.routerOptions).toEqual({});
  });

  it("the sbatch script is valid bash and runs the sweep CLI", async () => {
    const path = `${ROOT}deploy/slurm/sweep.sbatch`;
    const check = await new Deno.Command("bash", { args: ["-n", path] }).output();
    expect(check.code).toBe(0);
    const text = Deno.readTextFileSync(path);
    expect(text).toMatch(/^#SBATCH --array=0-\d+$/m);
    expect(text).toMatch(/deno run -A lib\/cli\/sweep\.ts/);
  });
});

describe("run locks", () => {
  it("excludes a second owner, and breaks the lock of a dead process", async () => {
    const dir = tmp();
    const path = `${dir}/r.lock`;
    const a = tryLock(path);
    expect("lock" in a).toBe(true);
    expect("heldBy" in tryLock(path)).toBe(true);
    if ("lock" in a) a.lock.release();
    // A lock left by a process that was killed: stale at once on the same host.
    const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const info = {
      pid: child.pid,
      host: Deno.hostname(),
      startTime: null,
      created: new Date().toISOString(),
      nonce: "x",
    };
    Deno.writeTextFileSync(path, JSON.stringify(info));
    expect(staleReason(path, 600)).toBeNull(); // alive
    expect("heldBy" in tryLock(path)).toBe(true);
    child.kill("SIGKILL");
    await child.status;
    expect(staleReason(path, 600)).toMatch(/is gone/);
    const b = tryLock(path);
    expect("lock" in b).toBe(true);
    if ("lock" in b) b.lock.release();
    // Another host's lock: stale only when its heartbeat is older than staleS.
    Deno.writeTextFileSync(path, JSON.stringify({ ...info, host: "elsewhere" }));
    expect(staleReason(path, 600)).toBeNull();
    const old = new Date(Date.now() - 700_000);
    Deno.utimeSync(path, old, old);
    expect(staleReason(path, 600)).toMatch(/no heartbeat .* elsewhere/);
  });
});

describe("sweep engine", () => {
  it("runs every run and records it as Parquet: results, curve, router metrics, config", () => {
    const out = reference;
    const runs = expandSpec(SPEC);
    expect(referenceRun.code, referenceRun.stderr).toBe(0);
    expect(referenceRun.stderr).toMatch(/6 ran, 0 already done, 0 diverged, 0 failed/);
    expect(finishedRunIds(out)).toEqual(runs.map((r) => r.runId).sort());
    const df = loadSweepResults(out);
    for (const col of ["run_id", "router", "N", "P", "F", "E", "val_loss", "status", "config"]) {
      expect(df.columns).toContain(col);
    }
    expect(new Set(df.getColumn("status").toArray())).toEqual(new Set(["done"]));
    expect((df.getColumn("val_loss").toArray() as number[]).every((v) => v > 0 && v < 10))
      .toBe(true);
    // routed runs hold more parameters than dense ones of the same size; N is the same
    const rows = df.toRecords() as Record<string, unknown>[];
    for (const r of rows.filter((r) => r.E === 4)) {
      const dense = rows.find((d) => d.E === 1 && d.dModel === r.dModel)!;
      expect(r.N).toBe(dense.N);
      expect(r.P as number).toBeGreaterThan(dense.P as number);
    }
    const curves = loadSweepCurves(out);
    expect(curves.height).toBe(runs.length * STEPS);
    expect(curves.filter(pl.col("val_loss").isNotNull()).height).toBe(runs.length * 2);
    expect(loadRouterMetrics(out).height).toBe(runs.filter((r) => r.config.experts > 1).length);
    expect(checkEveryFile(out)).toBe(runs.length * 3);
    // the main-sweep view: dense runs joined to every technique as E = 1
    const main = sweepMainFrame(df);
    expect(main.height).toBe(2 * (2 + 2));
    for (const t of ["S-Base", "Hash"]) {
      const g = main.filter(pl.col("technique").eq(pl.lit(t))).toRecords();
      expect(g.map((r) => r.E).sort()).toEqual([1, 1, 4, 4]);
      expect(g.filter((r) => r.E === 1).every((r) => r.router_type === "Dense")).toBe(true);
      expect(g.filter((r) => r.E === 4).every((r) => r.router_type === t)).toBe(true);
    }
    // no checkpoints or locks left behind
    expect([...Deno.readDirSync(`${out}/checkpoints`)]).toEqual([]);
    expect([...Deno.readDirSync(`${out}/locks`)]).toEqual([]);
  });

  it("reports progress over the whole sweep; a rerun of a finished sweep does nothing", async () => {
    // In-process (2 tiny runs) to see the progress callback.
    const out = tmp();
    const spec = {
      ...SPEC,
      name: "progress",
      routers: ["Hash"],
      sizes: [SPEC.sizes[0]],
      budget: { steps: 6 },
      train: { ...SPEC.train, evalEvery: 0 },
    };
    const events: SweepProgress[] = [];
    const s1 = await runSweep(spec, { out, onProgress: (p) => events.push(p), log: () => {} });
    expect(s1.failed).toEqual([]);
    expect(s1.ran.length).toBe(2);
    expect(events[0]).toMatchObject({ event: "start", done: 0, total: 2 });
    expect(events.at(-1)).toMatchObject({ event: "end", done: 2, total: 2, etaS: 0 });
    expect(events.filter((e) => e.event === "run-end").map((e) => e.done)).toEqual([1, 2]);
    const steps = events.filter((e) => e.event === "step");
    expect(steps.map((e) => e.current!.step)).toEqual([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    // no rate before the second step (the first one pays for start-up), an ETA after it
    expect(steps[0].etaS).toBeNull();
    expect(steps.slice(1).every((e) => e.etaS !== null && e.etaS >= 0)).toBe(true);
    expect(steps[1].etaS!).toBeGreaterThan(steps.at(-1)!.etaS!);

    // A rerun of a finished sweep does nothing: no run trained, no file touched.
    const stamp = () =>
      [...Deno.readDirSync(`${out}/runs`)].map((e) =>
        Deno.statSync(`${out}/runs/${e.name}/result.parquet`).mtime!.getTime()
      );
    const before = stamp();
    let called = 0;
    const s2 = await runSweep(spec, {
      out,
      runOne: () => {
        called++;
        throw new Error("a finished run must not train again");
      },
      log: () => {},
    });
    expect(called).toBe(0);
    expect(s2.ran).toEqual([]);
    expect(s2.skipped.length).toBe(2);
    expect(stamp()).toEqual(before);
    expect(summarizeSweep(out).text).toMatch(/spec progress: 2\/2 runs have results/);
    expect(summarizeSweep(reference).text).toMatch(/spec test: 6\/6 runs have results/);
  });

  it("two processes on one folder never train the same run twice", async () => {
    const dir = tmp();
    Deno.writeTextFileSync(`${dir}/spec.json`, JSON.stringify(SPEC));
    const out = `${dir}/out`;
    const [a, b] = await Promise.all([
      cli(["--spec", `${dir}/spec.json`, "--out", out]),
      cli(["--spec", `${dir}/spec.json`, "--out", out]),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const trained = (t: string) =>
      [...t.matchAll(/\[sweep\] done .*\(([0-9a-f]{16})\)/g)].map((m) => m[1]);
    const all = [...trained(a.stderr), ...trained(b.stderr)];
    expect(new Set(all).size).toBe(all.length); // no run trained twice
    expect(all.length).toBe(expandSpec(SPEC).length); // and none left out
    expect(resultMap(out)).toEqual(resultMap(reference));
  });

  it("--workers 2 runs two local sub-shards with the same results", async () => {
    const out = `${tmp()}/workers`;
    const r = await cli(["--spec", `${reference}.spec.json`, "--out", out, "--workers", "2"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/3 runs in shard 0\/2/);
    expect(r.stderr).toMatch(/3 runs in shard 1\/2/);
    expect(resultMap(out)).toEqual(resultMap(reference));
  });

  it("records a diverged run as diverged and leaves it out of fits with a warning", async () => {
    const out = tmp();
    const spec = {
      ...SPEC,
      name: "diverge",
      sizes: [SPEC.sizes[0]],
      train: { ...SPEC.train, lr: 1000, gradClip: 0 },
    };
    const s = await runSweep(spec, { out, log: () => {} });
    expect(s.diverged.length).toBe(3);
    const df = loadSweepResults(out);
    expect(df.getColumn("status").toArray()).toEqual(["diverged", "diverged", "diverged"]);
    const warnings: string[] = [];
    const fit = fitFrame(df, { warn: (m) => warnings.push(m) });
    expect(fit.N).toEqual([]);
    expect(warnings[0]).toMatch(/Leaving 3 of 3 runs out of the fit/);
    // mixed with the good sweep: the diverged rows go, the good ones stay
    const both = loadSweepResults([reference, out]);
    expect(both.height).toBe(9);
    const w2: string[] = [];
    const sbase = fitFrame(both, { router: "S-Base", warn: (m) => w2.push(m) });
    expect(sbase.E.sort()).toEqual([1, 1, 4, 4]); // dense rows included as E = 1
    expect(sbase.loss.every(Number.isFinite)).toBe(true);
    expect(w2.length).toBe(1);
  });
});

describe("kill -9 and resume", () => {
  it("a sweep killed mid-run resumes to the same results, nothing lost or duplicated", async () => {
    const dir = tmp();
    Deno.writeTextFileSync(`${dir}/spec.json`, JSON.stringify(SPEC));
    const out = `${dir}/killed`;
    const runs = expandSpec(SPEC);
    const child = new Deno.Command("deno", {
      args: ["run", "-A", CLI, "--spec", `${dir}/spec.json`, "--out", out],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill once the third run has written a checkpoint: two runs done, one in the middle.
    const third = runs[2].runId;
    const ck = checkpointFile(`${out}/checkpoints/${third}`);
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      try {
        Deno.statSync(ck);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    child.kill("SIGKILL");
    const status = await child.status;
    expect(status.signal).toBe("SIGKILL");
    const doneBefore = finishedRunIds(out);
    expect(doneBefore.length).toBe(2);
    expect(doneBefore).not.toContain(third);
    // The killed run's lock and checkpoint are still there.
    Deno.statSync(lockPathOf(out, third));
    Deno.statSync(ck);

    const rerun = await cli(["--spec", `${dir}/spec.json`, "--out", out]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/4 ran, 2 already done/);
    expect(resultMap(out)).toEqual(resultMap(reference));
    expect(finishedRunIds(out)).toEqual(runs.map((r) => r.runId).sort());
    expect(loadSweepResults(out).height).toBe(runs.length); // no duplicates
    checkEveryFile(out);
    // curves equal too, step by step (the resumed run continued where it stopped)
    const a = loadSweepCurves(out), b = loadSweepCurves(reference);
    expect(a.getColumn("train_loss").toArray()).toEqual(b.getColumn("train_loss").toArray());

    const again = await cli(["--spec", `${dir}/spec.json`, "--out", out]);
    expect(again.stderr).toMatch(/0 ran, 6 already done/);
    const merged = await cli(["--merge", out]);
    expect(merged.stdout).toMatch(/6\/6 runs have results/);
  });
});

/** A stand-in for training: instant, with a loss from the config (the engine does not look). */
const fakeRun: RunOne = (c) =>
  Promise.resolve({
    val_loss: 3 + c.dModel / 1000 - c.experts / 100,
    train_loss: 3,
    N: c.dModel * 1000,
    P: c.dModel * 1000 * c.experts,
    F: c.dModel * 1000,
    diverged: false,
    curve: [{ step: 1, train_loss: 3, val_loss: 3 }],
  });

describe("damaged results", () => {
  it("a rerun reads back each finished result, moves a damaged one aside and retrains it", async () => {
    const out = tmp();
    const runs = expandSpec(SPEC);
    expect((await runSweep(SPEC, { out, runOne: fakeRun, log: () => {} })).ran.length).toBe(6);
    // Run 1's result truncated (a full disk, a copy cut short); run 2's holds run 0's result.
    const [first, cut, wrong] = runs.map((r) => r.runId);
    const file = `${out}/runs/${cut}/result.parquet`;
    const size = Deno.statSync(file).size;
    Deno.truncateSync(file, size >> 1);
    Deno.copyFileSync(`${out}/runs/${first}/result.parquet`, `${out}/runs/${wrong}/result.parquet`);
    const lines: string[] = [], trained: string[] = [];
    const s = await runSweep(SPEC, {
      out,
      runOne: (c, ctx) => (trained.push(ctx.runId), fakeRun(c, ctx)),
      log: (l) => lines.push(l),
    });
    expect(trained.sort()).toEqual([cut, wrong].sort());
    expect(s.damaged.sort()).toEqual([cut, wrong].sort());
    const log = lines.join("\n");
    expect(log).toMatch(
      new RegExp(
        `\\(${cut}\\): its finished run is damaged: result\\.parquet does not read back ` +
          `\\(parquet: .*\\); moved its folder aside to ${out}/runs/${cut}\\.damaged-` +
          `\\d{8}T\\d{6}\\.\\d{3}Z and training the run again`,
      ),
    );
    expect(log).toContain(
      `(${wrong}): its finished run is damaged: result.parquet holds 1 row(s) of run ${first}, ` +
        `not one row of run ${wrong}; moved its folder aside`,
    );
    expect(lines.at(-1)).toMatch(
      /2 ran, 4 already done, .*, 2 damaged result\(s\) moved aside and retrained/,
    );
    // The damaged folders are kept as they were, and left out of results and summaries.
    const aside = [...Deno.readDirSync(`${out}/runs`)].filter((e) => e.name.includes(".damaged-"));
    expect(aside.map((e) => e.name.split(".")[0]).sort()).toEqual([cut, wrong].sort());
    const kept = aside.find((e) => e.name.startsWith(cut))!.name;
    expect(Deno.statSync(`${out}/runs/${kept}/result.parquet`).size).toBe(size >> 1);
    expect(finishedRunIds(out)).toEqual(runs.map((r) => r.runId).sort());
    expect(loadSweepResults(out).getColumn("run_id").toArray()).toEqual(
      runs.map((r) => r.runId).sort(),
    );
    expect(summarizeSweep(out).text).toMatch(/spec test: 6\/6 runs have results/);
    const again = await runSweep(SPEC, {
      out,
      runOne: () => Promise.reject(new Error("a sound result must not train again")),
      log: () => {},
    });
    expect(again.skipped.length).toBe(6);
    expect(again.damaged).toEqual([]);
  });
});

describe("summaries of one code version", () => {
  it("--merge leaves out runs of other training code, and says how many", () => {
    const dir = tmp();
    Deno.mkdirSync(`${dir}/runs`);
    for (const e of Deno.readDirSync(`${reference}/runs`)) {
      Deno.mkdirSync(`${dir}/runs/${e.name}`);
      for (const f of Deno.readDirSync(`${reference}/runs/${e.name}`)) {
        if (f.isFile) {
          Deno.copyFileSync(
            `${reference}/runs/${e.name}/${f.name}`,
            `${dir}/runs/${e.name}/${f.name}`,
          );
        }
      }
    }
    // One run as older code would have stored it: the same config, the id of another version.
    const first = [...Deno.readDirSync(`${dir}/runs`)][0].name;
    const config = JSON.parse(Deno.readTextFileSync(`${dir}/runs/${first}/config.json`));
    const oldId = runIdOf(config, TRAINING_CODE_VERSION - 1);
    Deno.mkdirSync(`${dir}/runs/${oldId}`);
    Deno.copyFileSync(`${dir}/runs/${first}/config.json`, `${dir}/runs/${oldId}/config.json`);
    for (const f of ["result", "curve", "router"]) {
      const df = pl.readParquet(`${dir}/runs/${first}/${f}.parquet`);
      const moved = df.height ? df.withColumns(pl.lit(oldId).alias("run_id")) : df;
      moved.writeParquet(`${dir}/runs/${oldId}/${f}.parquet`);
    }
    expect(loadSweepResults(dir).height).toBe(7);
    const s = summarizeSweep(dir);
    expect(s.text).toContain(
      `1 run(s) trained by other training code (their run_id is not the hash of their config ` +
        `under code version ${TRAINING_CODE_VERSION}) left out`,
    );
    expect(s.results.height).toBe(6);
    expect(s.text).toMatch(/6 runs: 6 done/);
    expect(summarizeSweep(reference).text).not.toMatch(/other training code/);
  });
});

describe("one spec per sweep folder", () => {
  it("another spec is refused untouched, naming both specs and the way out", async () => {
    const before = finishedRunIds(reference);
    const r = await cli(["--preset", "smoke", "--out", reference]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `sweep: sweep folder ${reference} belongs to spec "test" (hash ` +
        `${specHash(validateSpec(SPEC))}, recorded in ${reference}/${SPEC_MARKER}), not to spec ` +
        `"smoke" (hash ${specHash(preset("smoke"))}) [budget.steps: 16 vs 24;`,
    );
    expect(r.stderr).toContain(
      "Give this sweep a new folder (--out DIR), or pass --allow-other-spec to run it into",
    );
    expect(finishedRunIds(reference)).toEqual(before);
    expect(JSON.parse(Deno.readTextFileSync(`${reference}/${SPEC_MARKER}`)).name).toBe("test");
    expect((await cli(["--help"])).stdout).toContain("--allow-other-spec");
  });

  // Here rather than in report.test.ts, whose setup trains a sweep larger than this check needs.
  it("deno task reproduce refuses it the same way, before any work", async () => {
    const out = `${tmp()}/report`;
    const r = await new Deno.Command("deno", {
      args: [
        "run",
        "-A",
        `${ROOT}lib/cli/reproduce.ts`,
        ...["--preset", "smoke", "--out", out, "--sweep-dir", reference],
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", CHROMIUM_PATH: `${out}/no-chromium-needed-to-refuse` },
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    expect(r.code).toBe(1);
    expect(err).toContain(
      `reproduce: sweep folder ${reference} belongs to spec "test" (hash ` +
        `${specHash(validateSpec(SPEC))}, recorded in ${reference}/${SPEC_MARKER}), not to spec ` +
        `"smoke" (hash ${specHash(preset("smoke"))})`,
    );
    expect(err).toContain(
      "Give this sweep a new folder (--sweep-dir DIR, or a new --out DIR), or pass " +
        "--allow-other-spec to run it into",
    );
    expect(() => Deno.statSync(out)).toThrow(Deno.errors.NotFound);
  });

  it("--allow-other-spec runs a spec in as a guest; the folder stays with its spec", async () => {
    const out = tmp();
    const other = { ...SPEC, name: "other", experts: [1, 8] };
    await runSweep(SPEC, { out, runOne: fakeRun, log: () => {} });
    const lines: string[] = [];
    const s = await runSweep(other, {
      out,
      runOne: fakeRun,
      log: (l) => lines.push(l),
      allowOtherSpec: true,
    });
    expect(s.ran.length).toBe(4); // its 4 routed runs; the 2 dense runs are shared
    expect(lines[0]).toMatch(
      /belongs to spec "test" .* running spec "other" .* --allow-other-spec/,
    );
    expect(JSON.parse(Deno.readTextFileSync(`${out}/${SPEC_MARKER}`)).name).toBe("test");
    await expect(runSweep(other, { out, runOne: fakeRun, log: () => {} })).rejects.toThrow(
      /belongs to spec "test"/,
    );
    // The same spec with another checkpoint interval is the same spec (results do not change).
    await runSweep({ ...SPEC, checkpointEvery: 7 }, { out, runOne: fakeRun, log: () => {} });
    // A guest does not claim a new folder: the first spec run there without the flag does.
    const fresh = tmp();
    await runSweep(other, { out: fresh, runOne: fakeRun, log: () => {}, allowOtherSpec: true });
    expect(() => Deno.statSync(`${fresh}/${SPEC_MARKER}`)).toThrow(Deno.errors.NotFound);
  });

  it("a folder from before markers belongs to the specs recorded in DIR/specs", async () => {
    const out = tmp();
    await runSweep(SPEC, { out, runOne: fakeRun, log: () => {} });
    Deno.removeSync(`${out}/${SPEC_MARKER}`); // as an older version left it
    await expect(runSweep(preset("smoke"), { out, runOne: fakeRun, log: () => {} })).rejects
      .toThrow(
        `sweep folder ${out} belongs to spec "test" (hash ${specHash(validateSpec(SPEC))}, ` +
          `recorded in ${out}/specs by an earlier sweep), not to spec "smoke"`,
      );
    const s = await runSweep(SPEC, { out, runOne: fakeRun, log: () => {} });
    expect(s.skipped.length).toBe(6);
    expect(JSON.parse(Deno.readTextFileSync(`${out}/${SPEC_MARKER}`)).name).toBe("test");
  });

  it("shards starting together agree: the marker is created once, atomically", async () => {
    const dir = tmp();
    const specs = [validateSpec(SPEC), validateSpec({ ...SPEC, name: "other" })];
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => claimSweepFolder(dir, specs[i % 2])),
    );
    const marker = JSON.parse(Deno.readTextFileSync(`${dir}/${SPEC_MARKER}`));
    const won = specs.findIndex((s) => s.name === marker.name);
    expect(marker.hash).toBe(specHash(specs[won]));
    expect(results.map((r) => r.status)).toEqual(
      results.map((_, i) => (i % 2 === won ? "fulfilled" : "rejected")),
    );
    expect([...Deno.readDirSync(dir)].map((e) => e.name)).toEqual([SPEC_MARKER]); // no temp files
  });
});
