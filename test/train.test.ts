import * as tf from "@tensorflow/tfjs-core";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../lib/backend/mod.ts";
import { TransformerLM } from "../lib/model/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { Rng } from "../lib/util/random.ts";
import {
  AdamW,
  checkMemory,
  divergenceReason,
  learningRate,
  readCheckpoint,
  resolveConfig,
  train,
  type TrainConfig,
  trainStep,
} from "../lib/train/mod.ts";
import { parseTrainArgs } from "../lib/cli/train.ts";
import { trainCliJson } from "./_train_cli.ts";

const TINY: Partial<TrainConfig> = {
  dModel: 16,
  layers: 2,
  heads: 2,
  seqLen: 16,
  batchSize: 2,
  evalBatches: 1,
  backend: "cpu",
};

beforeAll(async () => {
  await initBackend("cpu");
});

function tmp(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `train-test-${name}-`));
}

/**
 * The same run trained uninterrupted (a, checkpoints in dirA) and stopped after `stopAfter` steps
 * (stopped) then resumed (b, in dirB), with both final checkpoints.
 */
async function stopAndResume(config: Partial<TrainConfig>, name: string, stopAfter: number) {
  const dirA = tmp(`${name}-a`), dirB = tmp(`${name}-b`);
  const a = await train(config, { checkpointDir: dirA, checkpointEvery: 100 });
  const stopped = await train(config, { checkpointDir: dirB, checkpointEvery: 100, stopAfter });
  const b = await train(config, { checkpointDir: dirB, checkpointEvery: 100 });
  return { a, stopped, b, dirA, ca: readCheckpoint(dirA)!, cb: readCheckpoint(dirB)! };
}

describe("checkpoints", () => {
  it("a run stopped after 3 steps and resumed equals an uninterrupted 6-step run exactly", async () => {
    // RL-R: its sampled routing exercises the routing RNG's checkpointed state too.
    const config: Partial<TrainConfig> = {
      ...TINY,
      router: "rlr",
      experts: 4,
      steps: 6,
      evalEvery: 2,
      seed: 7,
    };
    const { a, stopped, b: b2, dirA, ca, cb } = await stopAndResume(config, "rlr", 3);
    expect(stopped.steps).toBe(3);
    expect(b2.resumed_from).toBe(3);
    expect(b2.steps).toBe(6);
    expect(b2.curve.map((c) => c.train_loss)).toEqual(a.curve.map((c) => c.train_loss));
    expect(b2.val_loss).toBe(a.val_loss);
    expect(b2.val_loss_by_source).toEqual(a.val_loss_by_source);
    expect([...cb.tensors.keys()]).toEqual([...ca.tensors.keys()]);
    for (const [k, t] of ca.tensors) {
      expect(Array.from(cb.tensors.get(k)!.data), k).toEqual(Array.from(t.data));
    }
    // A different seed gives a different run (the comparison above can fail).
    const c = await train({ ...config, seed: 8 }, {});
    expect(c.curve.map((x) => x.train_loss)).not.toEqual(a.curve.map((x) => x.train_loss));
    // A checkpoint of another configuration is refused, not silently reused.
    await expect(train({ ...config, dModel: 32 }, { checkpointDir: dirA })).rejects.toThrow(
      /dModel = 16.*this run has 32/,
    );
  });
});

describe("checkpoints of S-BASE's balancing bias", () => {
  it("a resumed run equals an uninterrupted one, its bias included", async () => {
    const config: Partial<TrainConfig> = {
      ...TINY,
      router: "sbase",
      experts: 8,
      routingFrequency: 1,
      routerOptions: { balanceBias: true, initStdPerExpert: 0.005 },
      steps: 6,
      evalEvery: 3,
      seed: 2,
    };
    const { a, b, ca, cb } = await stopAndResume(config, "bias", 3);
    expect(b.resumed_from).toBe(3);
    expect(b.curve.map((c) => c.val_loss)).toEqual(a.curve.map((c) => c.val_loss));
    const biases = [...ca.tensors.keys()].filter((k) => /^param\/.*router\.1$/.test(k));
    expect(biases.length).toBe(2); // one bias [E] per routed block
    for (const k of biases) {
      const bias = Array.from(ca.tensors.get(k)!.data);
      expect(bias.length).toBe(8);
      expect(Math.max(...bias.map(Math.abs))).toBeGreaterThan(0); // it has learned something
      expect(Array.from(cb.tensors.get(k)!.data)).toEqual(bias);
    }
  });
});

describe("training loop", () => {
  it("holds a constant number of tensors across steps (no memory growth)", async () => {
    const counts: number[] = [];
    await train({ ...TINY, router: "sbase", experts: 4, steps: 8, evalEvery: 3 }, {
      onProgress: () => counts.push(tf.memory().numTensors),
    });
    expect(counts.length).toBe(8);
    expect(new Set(counts.slice(1)).size).toBe(1);
    expect(counts[0]).toBe(counts[1]);
  });

  it("reports router metrics per routed layer and losses that fall on the real corpus", async () => {
    const r = await train({
      ...TINY,
      router: "sbase",
      experts: 4,
      layers: 4,
      routingFrequency: 0.5,
      steps: 30,
      evalEvery: 10,
      batchSize: 8,
      seqLen: 32,
      lr: 1e-2,
    });
    expect(r.router_metrics.map((m) => m.block)).toEqual([1, 3]);
    for (const m of r.router_metrics) {
      expect(m.load.length).toBe(4);
      expect(m.load.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(m.dropped).toBeGreaterThanOrEqual(0);
      expect(m.dropped).toBeLessThan(1); // a fraction of the choices, and not all dropped
      // Mean router entropy (nats) over 4 experts: positive, at most ln 4 (uniform routing).
      expect(m.entropy).toBeGreaterThan(0);
      expect(m.entropy).toBeLessThanOrEqual(Math.log(4) + 1e-6);
      expect(m.sinkhornIterations).toBeGreaterThanOrEqual(1);
      expect(m.steps).toBe(10);
    }
    const first = r.curve[0].train_loss;
    expect(first).toBeGreaterThan(7); // ln 2048 = 7.6 at initialisation
    expect(r.val_loss).toBeLessThan(first - 0.5);
    expect(Object.keys(r.val_loss_by_source).sort()).toEqual(["brown", "moby", "sotu"]);
    expect(r.curve.filter((c) => c.val_loss !== undefined).map((c) => c.step)).toEqual([
      10,
      20,
      30,
    ]);
    expect(r.tokens).toBe(30 * 8 * 32);
  });

  it("stops a diverging run with diverged = true", async () => {
    const r = await train({ ...TINY, steps: 20, lr: 1e30, warmupSteps: 0, gradClip: 0 });
    expect(r.diverged).toBe(true);
    expect(r.steps).toBeLessThan(20);
    expect(Number.isFinite(r.train_loss)).toBe(false);
  });
});

describe("router losses and divergence", () => {
  it("an auxiliary loss never scales the model's update: RL-R's baseline is clipped on its own", () => {
    const V = 300, S = 8;
    const rng = new Rng(2);
    const batch = Int32Array.from({ length: 4 * (S + 1) }, () => rng.int(V));
    const step = (baselineWeight: number) => {
      const model = new TransformerLM({
        vocabSize: V,
        seqLen: S,
        dModel: 16,
        layers: 2,
        heads: 2,
        experts: 4,
        routingFrequency: 0.5,
        k: 1,
        capacityFactor: 2,
        router: resolveRouter("rlr"),
        routerOptions: { baselineWeight },
        seed: 3,
      });
      const named = model.namedVariables();
      const opt = new AdamW(named, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
      const r = trainStep(model, opt, batch, { lr: 1e-2, gradClip: 1, rng: new Rng(5) });
      const values = new Map(named.map((n) => [n.name, n.variable.dataSync().slice()]));
      const aux = named.filter((n) => n.auxiliary).map((n) => n.name);
      opt.dispose();
      model.dispose();
      return { r, values, aux };
    };
    const small = step(0.1), huge = step(1e4);
    expect(small.aux.length).toBe(2); // the baseline head's two matrices
    // the auxiliary gradient is 1e5 times larger, and clipped on its own...
    expect(huge.r.auxGradNorm).toBeGreaterThan(1e3 * small.r.auxGradNorm);
    expect(huge.r.auxGradNorm).toBeGreaterThan(1);
    // ...so the model's gradient norm and every model parameter after the update are unchanged
    expect(huge.r.gradNorm).toBe(small.r.gradNorm);
    for (const [name, v] of small.values) {
      if (small.aux.includes(name)) continue;
      expect(Array.from(huge.values.get(name)!), name).toEqual(Array.from(v));
    }
    // while the baseline head itself was updated differently (the comparison above can fail)
    const a = small.aux[0];
    expect(Array.from(huge.values.get(a)!)).not.toEqual(Array.from(small.values.get(a)!));
  });

  it("a run is diverged when its loss is not finite, far above ln(V), or ends far above its start", () => {
    const curve = (...l: number[]) => l.map((train_loss, i) => ({ step: i + 1, train_loss }));
    const lnV = Math.log(1024);
    expect(divergenceReason(curve(7, 5, 4.5), 4.6, 1024)).toBeUndefined();
    expect(divergenceReason(curve(7, NaN), NaN, 1024)).toMatch(/training loss NaN at step 2/);
    expect(divergenceReason(curve(7, 6), Infinity, 1024)).toMatch(/validation loss Infinity/);
    expect(divergenceReason(curve(7, 6.9), lnV + 0.5, 1024)).toBeUndefined();
    expect(divergenceReason(curve(7, 6.9), lnV + 1.01, 1024)).toMatch(/above ln\(V\) = 6\.931/);
    expect(divergenceReason(curve(3, 3.5, 4.2), 4.0, 1024)).toMatch(/more than 1 nat above/);
  });

  it("training with a runaway learning rate ends marked diverged, with the reason", async () => {
    const r = await train({ ...TINY, steps: 6, lr: 10, gradClip: 0, warmupSteps: 0 }, {
      quiet: true,
    });
    expect(r.diverged).toBe(true);
    expect(r.diverged_reason).toMatch(/ln\(V\)|not finite|NaN|Infinity|1 nat/);
  });
});

describe("optimiser and schedule", () => {
  it("learning rate: linear warmup, cosine to the floor", () => {
    const c = { lr: 1, warmupSteps: 10, steps: 110, lrMinRatio: 0.1 };
    expect(learningRate(1, c)).toBeCloseTo(0.1, 12);
    expect(learningRate(10, c)).toBeCloseTo(1, 12);
    expect(learningRate(60, c)).toBeCloseTo(0.55, 12); // halfway: (1 + 0.1) / 2
    expect(learningRate(110, c)).toBeCloseTo(0.1, 12);
  });

  for (const host of [true, false]) {
    it(`AdamW (${host ? "JS" : "tfjs"} moments) matches a hand computation over two steps`, () => {
      const p = tf.variable(tf.tensor1d([1, -2]));
      const q = tf.variable(tf.tensor1d([3]));
      // r: p's first element again, at 3x the learning rate (lrScale; decay scales with it)
      const r = tf.variable(tf.tensor1d([1]));
      const opt = new AdamW([{ name: "p", variable: p, decay: true }, {
        name: "q",
        variable: q,
        decay: false,
      }, { name: "r", variable: r, decay: true, lrScale: 3 }], {
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weightDecay: 0.5,
        host,
      });
      // Reference in float64.
      const ref = { p: [1, -2], m: [0, 0], v: [0, 0], r: 1 };
      const grads = [[0.5, -1], [2, 0.25]];
      for (let t = 1; t <= 2; t++) {
        const g = grads[t - 1];
        // q gets no gradient: counts as zero
        opt.apply({ [p.name]: tf.tensor1d(g), [r.name]: tf.tensor1d([g[0]]) }, 0.1);
        for (let i = 0; i < 2; i++) {
          ref.m[i] = 0.9 * ref.m[i] + 0.1 * g[i];
          ref.v[i] = 0.99 * ref.v[i] + 0.01 * g[i] * g[i];
          const upd = ref.m[i] / (1 - 0.9 ** t) / (Math.sqrt(ref.v[i] / (1 - 0.99 ** t)) + 1e-8);
          if (i === 0) ref.r -= 0.3 * (upd + 0.5 * ref.r);
          ref.p[i] -= 0.1 * (upd + 0.5 * ref.p[i]); // decoupled weight decay
        }
      }
      const got = Array.from(p.dataSync());
      got.forEach((x, i) => expect(x).toBeCloseTo(ref.p[i], 5));
      expect(r.dataSync()[0]).toBeCloseTo(ref.r, 5);
      expect(Math.abs(r.dataSync()[0] - 1)).toBeGreaterThan(2.5 * Math.abs(p.dataSync()[0] - 1));
      opt.moments(0).m.forEach((x, i) => expect(x).toBeCloseTo(ref.m[i], 6));
      expect(q.dataSync()[0]).toBe(3); // zero gradient and no decay: unchanged
      opt.dispose();
    });
  }
});

describe("configuration errors", () => {
  const bad: [Partial<TrainConfig>, RegExp][] = [
    [{ router: "switch" }, /unknown router "switch": valid routers are dense, sbase, hash, rlr/],
    [{ router: "sbase", experts: 0 }, /experts \(E\) = 0; it must be an integer >= 1/],
    [{ router: "sbase", experts: 4, routingFrequency: 0 }, /routingFrequency \(R\) = 0.*\(0, 1\]/],
    [{ router: "sbase", experts: 4, routingFrequency: 1.5 }, /routingFrequency \(R\) = 1.5/],
    [{ router: "sbase", experts: 2, k: 3 }, /k = 3 exceeds experts = 2/],
    [{ dModel: 30, heads: 4 }, /dModel = 30 is not divisible by heads = 4/],
    [{ router: "dense", experts: 8 }, /router "dense" needs experts = 1/],
    [{ router: "hash", experts: 4, layers: 2, routingFrequency: 0.25 }, /no block would be routed/],
    [{ backend: "tpu" as TrainConfig["backend"] }, /valid backends: auto, wasm, cpu, webgpu/],
    [{ stepz: 3 } as Partial<TrainConfig>, /unknown field "stepz"/],
  ];
  for (const [cfg, msg] of bad) {
    it(`rejects ${JSON.stringify(cfg)}`, () => {
      expect(() => resolveConfig(cfg)).toThrow(msg);
    });
  }

  it("rejects a model too large for the cpu backend's memory before allocating it", async () => {
    // ~140G parameters: more than any machine's RAM.
    await expect(
      train({ router: "sbase", experts: 1024, dModel: 2048, layers: 8, backend: "cpu" }),
    ).rejects.toThrow(
      /too large for the cpu backend: .*M parameters need about .* GiB .* it keeps its tensors in JS memory/,
    );
  });

  it("names each backend's real limit: the 4 GiB wasm heap, a share of RAM on cpu", () => {
    // 104M parameters, 4.1 GiB in training on wasm (4.9 with AdamW's moments on cpu): over the
    // wasm heap, within half of 16 GiB of RAM, over half of 8 GiB.
    const c = resolveConfig({ router: "sbase", experts: 96, dModel: 256, layers: 4 });
    const GiB = 1024 ** 3;
    expect(() => checkMemory(c, 2, "wasm")).toThrow(
      /too large for the wasm backend: .* over the 4 GiB wasm heap; use fewer experts/,
    );
    expect(() => checkMemory(c, 2, "cpu", { systemMemoryBytes: 16 * GiB })).not.toThrow();
    let message = "";
    try {
      checkMemory(c, 2, "cpu", { systemMemoryBytes: 8 * GiB });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      /too large for the cpu backend: \d+\.\dM parameters need about \d+\.\d GiB in training \(~48 bytes a parameter with AdamW's moments, plus activations\), over the cpu backend's budget of 4\.0 GiB: it keeps its tensors in JS memory, so its limit is this machine's RAM \(8\.0 GiB\), of which training may plan to use 50%; use fewer experts, a smaller dModel or batch, or the webgpu backend/,
    );
    expect(message).not.toContain("wasm");
  });
});

describe("deno task train", () => {
  it("parses flags, and rejects bad ones", () => {
    const p = parseTrainArgs([
      "--router",
      "sbase",
      "--experts",
      "16",
      "--d-model",
      "128",
      "--router-option",
      "tolerance=1e-4",
      "--json",
    ]);
    expect(p.config).toEqual({
      router: "sbase",
      experts: 16,
      dModel: 128,
      routerOptions: { tolerance: 1e-4 },
    });
    expect(p.json).toBe(true);
    expect(() => parseTrainArgs(["--experts", "many"])).toThrow(/--experts must be a number/);
    expect(() => parseTrainArgs(["--expert", "4"])).toThrow();
  });

  it("--json prints one object with the final metrics", () => {
    const r = trainCliJson(["--router", "hash", "--experts", "2", "--backend", "cpu"]);
    for (
      const k of [
        "val_loss",
        "train_loss",
        "tokens",
        "tokens_per_s",
        "N",
        "P",
        "F",
        "backend",
        "router",
        "experts",
        "steps",
      ]
    ) expect(r, k).toHaveProperty(k);
    expect(r.router).toBe("hash");
    expect(r.experts).toBe(2);
    expect(r.steps).toBe(3);
    expect(r.tokens).toBe(3 * 2 * 16);
    const bad = spawnSync(Deno.execPath(), ["run", "-A", "lib/cli/train.ts", "--router", "nope"], {
      encoding: "utf8",
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/unknown router "nope"/);
  });
});
