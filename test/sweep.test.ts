import { afterAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import {
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
  runSweep,
  shardItems,
  staleReason,
  summarizeSweep,
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

// ---------------------------------------------------------------------------------------------
// A small real computation standing in for lib/train until it lands: a low-rank bigram model of
// the bytes of CONTRIBUTING.md trained by SGD, checkpointing (weights, step, RNG state) into the
// run's checkpoint folder and resuming from it. Deterministic for a config.
const TOY_MODULE = `
import { Rng } from "${ROOT}lib/util/random.ts";
const text = new TextEncoder().encode(Deno.readTextFileSync("${ROOT}CONTRIBUTING.md"));
export async function runOne(config, ctx) {
  const d = config.dModel, V = 256, B = config.batchSize;
  const ck = ctx.checkpointDir + "/state.json";
  let st;
  try { st = JSON.parse(Deno.readTextFileSync(ck)); } catch { st = null; }
  if (!st) {
    const rng = new Rng(config.seed * 1000 + config.experts * 7 + config.router.length);
    const init = (n) => Array.from({ length: n }, () => rng.normal() * 0.1);
    st = { step: 0, rng: rng.getState(), A: init(V * d), W: init(d * V), curve: [] };
  }
  const rng = new Rng(0); rng.setState(st.rng);
  const { A, W } = st;
  const lossAt = (x, y, grad) => {
    const h = A.slice(x * d, x * d + d);
    const z = new Float64Array(V);
    let mx = -Infinity;
    for (let v = 0; v < V; v++) { let s = 0; for (let i = 0; i < d; i++) s += h[i] * W[i * V + v]; z[v] = s; if (s > mx) mx = s; }
    let sum = 0; for (let v = 0; v < V; v++) sum += Math.exp(z[v] - mx);
    const loss = Math.log(sum) + mx - z[y];
    if (grad) {
      const lr = config.lr / B;
      for (let v = 0; v < V; v++) {
        const g = Math.exp(z[v] - mx) / sum - (v === y ? 1 : 0);
        for (let i = 0; i < d; i++) { const wi = W[i * V + v]; W[i * V + v] -= lr * g * h[i]; A[x * d + i] -= lr * g * wi; }
      }
    }
    return loss;
  };
  while (st.step < config.steps) {
    let tl = 0;
    for (let b = 0; b < B; b++) { const p = rng.int(text.length - 1); tl += lossAt(text[p], text[p + 1], true); }
    st.step++;
    st.curve.push({ step: st.step, train_loss: tl / B });
    st.rng = rng.getState();
    ctx.onProgress({ step: st.step, steps: config.steps, trainLoss: tl / B });
    if (st.step % ctx.checkpointEvery === 0 && st.step < config.steps) {
      Deno.mkdirSync(ctx.checkpointDir, { recursive: true });
      Deno.writeTextFileSync(ck + ".tmp", JSON.stringify(st));
      Deno.renameSync(ck + ".tmp", ck);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  let vl = 0;
  for (let p = 0; p < 400; p++) vl += lossAt(text[p], text[p + 1], false);
  const val = config.lr > 1e3 ? NaN : vl / 400;
  return {
    val_loss: val, train_loss: st.curve.at(-1).train_loss, N: 2 * V * d, P: 2 * V * d * config.experts,
    F: 2 * d * V, diverged: !Number.isFinite(val), curve: st.curve,
    router_metrics: [{ step: config.steps, load_max: 1 / config.experts }],
  };
}
`;
const toyDir = Deno.makeTempDirSync({ prefix: "sweep-toy-" });
tmpDirs.push(toyDir);
const TOY = `${toyDir}/toy_run.ts`;
Deno.writeTextFileSync(TOY, TOY_MODULE);
const toyRunOne = (await import(TOY)).runOne;

const SPEC: SweepSpecInput = {
  name: "test",
  routers: ["S-Base", "Hash"],
  sizes: [{ dModel: 8, layers: 1, heads: 1 }, { dModel: 16, layers: 1, heads: 2 }],
  experts: [1, 4],
  seeds: [0],
  budget: { steps: 30 },
  train: { batchSize: 4, seqLen: 32, lr: 0.5, warmupSteps: 0 },
  checkpointEvery: 5,
};

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
      expect([...ids]).toEqual([e.name]);
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
    expect(runs.every((r) => r.config.steps === 30 && r.config.backend === "wasm")).toBe(true);
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
  });

  it("presets validate and have distinct run ids", () => {
    for (const name of PRESET_NAMES) {
      const runs = expandSpec(preset(name));
      expect(new Set(runs.map((r) => r.runId)).size).toBe(runs.length);
    }
    const quick = expandSpec(preset("quick"));
    // enough for Eq. (1) per technique: >= 3 sizes x >= 3 expert counts besides dense
    for (const router of ["S-Base", "RL-R", "Hash"]) {
      const mine = quick.filter((r) => r.config.router === router);
      expect(new Set(mine.map((r) => r.config.dModel)).size).toBeGreaterThanOrEqual(3);
      expect(new Set(mine.map((r) => r.config.experts)).size).toBeGreaterThanOrEqual(3);
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
  it("runs, records Parquet results, skips finished runs on rerun, reports progress", async () => {
    const out = tmp();
    const events: SweepProgress[] = [];
    const s1 = await runSweep(SPEC, {
      out,
      runOne: toyRunOne,
      onProgress: (p) => events.push(p),
      log: () => {},
    });
    const runs = expandSpec(SPEC);
    expect(s1.ran.length).toBe(runs.length);
    expect(s1.failed).toEqual([]);
    expect(finishedRunIds(out)).toEqual(runs.map((r) => r.runId).sort());
    const df = loadSweepResults(out);
    for (const col of ["run_id", "router", "N", "P", "F", "E", "val_loss", "status", "config"]) {
      expect(df.columns).toContain(col);
    }
    expect(new Set(df.getColumn("status").toArray())).toEqual(new Set(["done"]));
    const curves = loadSweepCurves(out);
    expect(curves.height).toBe(runs.length * 30);
    expect(loadRouterMetrics(out).height).toBe(runs.length);
    expect(checkEveryFile(out)).toBe(runs.length * 3);
    // no checkpoints or locks left behind
    expect([...Deno.readDirSync(`${out}/checkpoints`)]).toEqual([]);
    expect([...Deno.readDirSync(`${out}/locks`)]).toEqual([]);
    // progress: done counts up to total, ETA known once steps ran, 0 at the end
    const last = events.at(-1)!;
    expect(last).toMatchObject({ event: "end", done: runs.length, total: runs.length });
    expect(events.filter((e) => e.event === "run-end").map((e) => e.done)).toEqual(
      runs.map((_, i) => i + 1),
    );
    expect(events.some((e) => e.event === "step" && e.etaS !== null && e.etaS > 0)).toBe(true);

    // A rerun of a finished sweep does nothing: no run trained, no file touched.
    const before = [...Deno.readDirSync(`${out}/runs`)].map((e) =>
      Deno.statSync(`${out}/runs/${e.name}/result.parquet`).mtime!.getTime()
    );
    let called = 0;
    const s2 = await runSweep(SPEC, {
      out,
      runOne: (c, ctx) => {
        called++;
        return toyRunOne(c, ctx);
      },
      log: () => {},
    });
    expect(called).toBe(0);
    expect(s2.ran).toEqual([]);
    expect(s2.skipped.length).toBe(runs.length);
    const after = [...Deno.readDirSync(`${out}/runs`)].map((e) =>
      Deno.statSync(`${out}/runs/${e.name}/result.parquet`).mtime!.getTime()
    );
    expect(after).toEqual(before);
    expect(summarizeSweep(out).text).toMatch(/spec test: 6\/6 runs have results/);
  });

  it("two processes on one folder never train the same run twice", async () => {
    const out = tmp();
    const opts = { out, runOne: toyRunOne, log: () => {} };
    const [a, b] = await Promise.all([runSweep(SPEC, opts), runSweep(SPEC, opts)]);
    const all = [...a.ran, ...b.ran];
    expect(new Set(all).size).toBe(all.length); // no run trained twice
    expect(new Set(all).size).toBe(expandSpec(SPEC).length); // and none left out
    expect(a.ran.length).toBeGreaterThan(0); // both really worked
    expect(b.ran.length).toBeGreaterThan(0);
    const reference = tmp();
    await runSweep(SPEC, { out: reference, runOne: toyRunOne, log: () => {} });
    expect(resultMap(out)).toEqual(resultMap(reference));
  });

  it("records a diverged run as diverged and leaves it out of fits with a warning", async () => {
    const out = tmp();
    const spec = { ...SPEC, sizes: [SPEC.sizes[0]], train: { ...SPEC.train, lr: 1e4 } };
    const s = await runSweep(spec, { out, runOne: toyRunOne, log: () => {} });
    expect(s.diverged.length).toBe(3);
    const df = loadSweepResults(out);
    expect(df.getColumn("status").toArray()).toEqual(["diverged", "diverged", "diverged"]);
    const warnings: string[] = [];
    const fit = fitFrame(df, { warn: (m) => warnings.push(m) });
    expect(fit.N).toEqual([]);
    expect(warnings[0]).toMatch(/Leaving 3 of 3 runs out of the fit/);
    // mixed: the good sweep's runs plus the diverged ones
    const good = tmp();
    await runSweep(SPEC, { out: good, runOne: toyRunOne, log: () => {} });
    const both = loadSweepResults([good, out]);
    expect(both.height).toBe(9);
    const w2: string[] = [];
    const sbase = fitFrame(both, { router: "S-Base", warn: (m) => w2.push(m) });
    expect(sbase.E.sort()).toEqual([1, 1, 4, 4]); // dense rows included as E = 1
    expect(w2.length).toBe(1);
  });
});

describe("kill -9 and resume", () => {
  it("a sweep killed mid-run resumes to the same results, nothing lost or duplicated", async () => {
    const dir = tmp();
    Deno.writeTextFileSync(`${dir}/spec.json`, JSON.stringify(SPEC));
    const reference = `${dir}/reference`;
    const ref = await cli(["--spec", `${dir}/spec.json`, "--out", reference, "--run-module", TOY]);
    expect(ref.code, ref.stderr).toBe(0);

    const out = `${dir}/killed`;
    const runs = expandSpec(SPEC);
    const child = new Deno.Command("deno", {
      args: ["run", "-A", CLI, "--spec", `${dir}/spec.json`, "--out", out, "--run-module", TOY],
      cwd: ROOT,
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Kill once the third run has written a checkpoint: two runs done, one in the middle.
    const third = runs[2].runId;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      try {
        Deno.statSync(`${out}/checkpoints/${third}/state.json`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
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
    Deno.statSync(`${out}/checkpoints/${third}/state.json`);

    const rerun = await cli(["--spec", `${dir}/spec.json`, "--out", out, "--run-module", TOY]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/4 ran, 2 already done/);
    expect(resultMap(out)).toEqual(resultMap(reference));
    expect(finishedRunIds(out)).toEqual(runs.map((r) => r.runId).sort());
    const df = loadSweepResults(out);
    expect(df.height).toBe(runs.length); // no duplicates
    checkEveryFile(out);
    // curves equal too, step by step (the resumed run continued, not restarted differently)
    const a = loadSweepCurves(out), b = loadSweepCurves(reference);
    expect(a.getColumn("train_loss").toArray()).toEqual(b.getColumn("train_loss").toArray());

    const again = await cli(["--spec", `${dir}/spec.json`, "--out", out, "--run-module", TOY]);
    expect(again.stderr).toMatch(/0 ran, 6 already done/);
    const merged = await cli(["--merge", out]);
    expect(merged.stdout).toMatch(/6\/6 runs have results/);
  });
});
