/**
 * Training on the webgpu backend (here Mesa's software adapter, llvmpipe via Vulkan lavapipe):
 * the two-pass routing (lib/model/readback.ts) gives the same loss, gradients and training curve
 * as the one-pass host path on wasm and cpu.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { type BackendInfo, initBackend } from "../lib/backend/mod.ts";
import { wouldSplitK } from "../lib/backend/webgpu_deterministic.ts";
import { type ReadCache, TransformerLM } from "../lib/model/mod.ts";
import { isHostBackend, linear } from "../lib/nn/mod.ts";
import {
  defineRouter,
  pickChosen,
  resolveRouter,
  routerMatrix,
  topKRows,
} from "../lib/routers/mod.ts";
import { readCheckpoint, train, type TrainConfig } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { trainCliJson } from "./_train_cli.ts";

const V = 300, S = 16, B = 2;

function batchOf(seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: B * (S + 1) }, () => rng.int(V));
}

/**
 * A user-defined router (outside lib/, through the public interface): top-2 softmax gating that
 * reads its probabilities with a plain dataSync(), as a notebook cell would.
 */
const top2 = defineRouter({
  id: "top2",
  create(spec) {
    const w = routerMatrix(spec.dModel, spec.experts, spec.seed, 0.5); // [d, E]
    return {
      variables: [w],
      route(x, _ids, c) {
        const [T] = x.shape;
        const probs = tf.softmax(linear(x, w)) as tf.Tensor2D; // [T, E]
        const expertIndex = topKRows(probs.dataSync(), T, c.experts, 2); // [T * 2]
        const chosen = pickChosen(probs, expertIndex, 2); // [T, 2]
        return { expertIndex, combine: tf.div(chosen, tf.sum(chosen, 1, true)) as tf.Tensor2D };
      },
    };
  },
});

function model(router: string, experts: number): TransformerLM {
  return new TransformerLM({
    vocabSize: V,
    seqLen: S,
    dModel: 16,
    layers: 2,
    heads: 2,
    experts,
    routingFrequency: 1, // both blocks routed: decisions of layer 2 depend on layer 1's
    k: router === "top2" ? 2 : 1,
    capacityFactor: 1, // some tokens dropped: the capacity logic is exercised too
    router: router === "top2" ? top2 : resolveRouter(router),
    seed: 5,
  });
}

interface Result {
  loss: number;
  objective: number;
  grads: Float32Array[];
  names: string[];
  experts: Int32Array[];
  rngAfter: number;
  /** Router read-backs served asynchronously (webgpu), -1 on host backends. */
  reads: number;
}

/** Loss, objective and gradients of one training-mode pass on the active backend. */
async function lossAndGrads(router: string, experts: number, batch: Int32Array): Promise<Result> {
  const m = model(router, experts);
  const named = m.namedVariables();
  const vars = named.map((n) => n.variable);
  const rng = new Rng(11);
  const host = isHostBackend();
  let reads: ReadCache | undefined;
  if (!host) {
    // Pass 1: await the routers' read-backs; then rewind the RNG for the taped pass.
    const state = rng.getState();
    reads = (await m.forwardAsync(batch, { training: true, rng, routingOnly: true })).reads;
    rng.setState(state);
  }
  let lm: tf.Scalar | null = null;
  let experts_: Int32Array[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const out = m.forward(batch, { training: true, rng, reads });
    lm = tf.keep(out.loss);
    experts_ = out.routing.map((r) => r.expertIndex);
    return out.objective;
  }, vars);
  const res: Result = {
    loss: (await (lm as unknown as tf.Scalar).data())[0],
    objective: (await value.data())[0],
    grads: [],
    names: named.map((n) => n.name),
    experts: experts_,
    rngAfter: rng.getState(),
    reads: reads ? reads.values.length : -1,
  };
  for (const v of vars) {
    res.grads.push(grads[v.name] ? await grads[v.name].data() as Float32Array : new Float32Array());
  }
  tf.dispose([value, lm!, ...Object.values(grads)]);
  m.dispose();
  return res;
}

let webgpu: BackendInfo | undefined;

async function useBackend(name: "cpu" | "wasm" | "webgpu"): Promise<void> {
  const info = await initBackend(name);
  if (name === "webgpu") webgpu = info;
}

afterAll(async () => {
  await initBackend("cpu");
});

describe("webgpu training (software adapter)", () => {
  // router, experts, read-backs per pass on webgpu (one per routed layer for learned routers)
  const cases: [string, number, number][] = [
    ["dense", 1, 0],
    ["sbase", 4, 2],
    ["hash", 4, 0],
    ["rlr", 4, 2],
    ["top2", 4, 2],
  ];
  for (const [router, E, nReads] of cases) {
    it(`${router}: the same seed and batch give the same loss and gradients on wasm, cpu and webgpu`, async () => {
      const batch = batchOf(23);
      const r: Record<string, Result> = {};
      for (const name of ["cpu", "wasm", "webgpu"] as const) {
        await useBackend(name);
        r[name] = await lossAndGrads(router, E, batch);
      }
      expect(webgpu?.name).toBe("webgpu");
      expect(r.webgpu.reads).toBe(nReads);
      expect(r.cpu.reads).toBe(-1);
      const ref = r.cpu;
      expect(ref.loss).toBeGreaterThan(5); // ln 300 = 5.7 at initialisation
      for (const name of ["wasm", "webgpu"]) {
        const x = r[name];
        // The routers took the same decisions and drew the same random numbers.
        expect(x.experts.map((e) => Array.from(e)), name).toEqual(
          ref.experts.map((e) => Array.from(e)),
        );
        expect(x.rngAfter, name).toBe(ref.rngAfter);
        expect(Math.abs(x.loss - ref.loss) / ref.loss, `${name} loss`).toBeLessThan(1e-5);
        expect(Math.abs(x.objective - ref.objective), `${name} objective`).toBeLessThan(
          1e-5 * Math.abs(ref.objective) + 1e-6,
        );
        x.grads.forEach((g, i) => {
          const want = ref.grads[i];
          expect(g.length, `${name} ${ref.names[i]}`).toBe(want.length);
          let scale = 0, diff = 0;
          for (let j = 0; j < g.length; j++) {
            scale = Math.max(scale, Math.abs(want[j]));
            diff = Math.max(diff, Math.abs(g[j] - want[j]));
          }
          expect(diff, `${name} grad ${ref.names[i]}`).toBeLessThanOrEqual(1e-4 * scale + 1e-7);
        });
      }
      if (router !== "dense") {
        // Routing is exercised: more than one expert is used in each routed layer.
        for (const e of ref.experts) expect(new Set(e).size).toBeGreaterThan(1);
      }
    });
  }
});

describe("webgpu determinism", () => {
  it("a long-inner-dimension matMul gives the same bits every run (no split-K atomics)", async () => {
    await initBackend("webgpu");
    const rng = new Rng(1);
    const K = 8192;
    const a = Float32Array.from({ length: K * 16 }, () => rng.normal());
    const b = Float32Array.from({ length: K * 24 }, () => rng.normal());
    // x^T dy with many tokens: the shape of a weight gradient; tfjs-webgpu would split K here.
    expect(wouldSplitK([K, 16], [K, 24], true, false, 8)).toBe(true);
    expect(wouldSplitK([512, 64], [512, 256], true, false, 8)).toBe(false);
    const at = tf.tensor2d(a, [K, 16]), bt = tf.tensor2d(b, [K, 24]);
    const runs: Float32Array[] = [];
    for (let i = 0; i < 4; i++) {
      const c = tf.matMul(at, bt, true, false);
      runs.push(await c.data() as Float32Array);
      c.dispose();
    }
    tf.dispose([at, bt]);
    for (const r of runs.slice(1)) expect(Array.from(r)).toEqual(Array.from(runs[0]));
    // And the value is right: float64 reference.
    let worst = 0;
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 24; j++) {
        let ref = 0;
        for (let k = 0; k < K; k++) ref += a[k * 16 + i] * b[k * 24 + j];
        worst = Math.max(worst, Math.abs(runs[0][i * 24 + j] - ref));
      }
    }
    expect(worst).toBeLessThan(1e-3); // |entries| ~ sqrt(8192) = 90
  });
});

describe("train() on webgpu", () => {
  const TINY: Partial<TrainConfig> = {
    dModel: 16,
    layers: 2,
    heads: 2,
    seqLen: 16,
    batchSize: 2,
    evalBatches: 1,
    steps: 4,
    evalEvery: 2,
    seed: 3,
    lr: 3e-3,
    warmupSteps: 1,
  };

  const fewSteps: [string, Record<string, unknown>][] = [
    ["sbase", {}],
    ["sbase", { balanceBias: true, initStdPerExpert: 0.005 }], // the bias is read back too
    ["rlr", {}],
  ];
  for (const [router, routerOptions] of fewSteps) {
    it(`${router} ${JSON.stringify(routerOptions)}: a few steps give the same losses as wasm`, async () => {
      const cfg = { ...TINY, router, routerOptions, experts: 4, routingFrequency: 0.5 };
      const w = await train({ ...cfg, backend: "wasm" }, { quiet: true });
      const counts: number[] = [];
      const g = await train({ ...cfg, backend: "webgpu" }, {
        quiet: true,
        onProgress: () => counts.push(tf.memory().numTensors),
      });
      expect(g.backend).toBe("webgpu");
      expect(g.backend_info.software).toBe(true);
      expect(g.steps).toBe(4);
      g.curve.forEach((c, i) => {
        const ref = w.curve[i];
        expect(Math.abs(c.train_loss - ref.train_loss), `step ${c.step}`).toBeLessThan(
          1e-4 * ref.train_loss,
        );
        if (ref.val_loss !== undefined) {
          expect(Math.abs(c.val_loss! - ref.val_loss), `val ${c.step}`).toBeLessThan(
            1e-4 * ref.val_loss,
          );
        }
      });
      // The losses move (the comparison above is of a run that trains).
      expect(w.curve[3].train_loss).not.toBe(w.curve[0].train_loss);
      // Same routing statistics.
      expect(g.router_metrics.map((m) => m.load)).toEqual(w.router_metrics.map((m) => m.load));
      // No tensors leak across steps on webgpu either.
      expect(new Set(counts.slice(1)).size).toBe(1);
    });
  }

  it("a run stopped after 2 steps and resumed equals an uninterrupted 4-step run", async () => {
    const cfg: Partial<TrainConfig> = {
      ...TINY,
      router: "rlr",
      experts: 4,
      routingFrequency: 0.5,
      backend: "webgpu",
    };
    const dirA = Deno.makeTempDirSync({ prefix: "webgpu-ck-a-" });
    const dirB = Deno.makeTempDirSync({ prefix: "webgpu-ck-b-" });
    const a = await train(cfg, { quiet: true, checkpointDir: dirA, checkpointEvery: 100 });
    const b1 = await train(cfg, { quiet: true, checkpointDir: dirB, stopAfter: 2 });
    expect(b1.steps).toBe(2);
    const b2 = await train(cfg, { quiet: true, checkpointDir: dirB, checkpointEvery: 100 });
    expect(b2.resumed_from).toBe(2);
    expect(b2.curve.map((c) => c.train_loss)).toEqual(a.curve.map((c) => c.train_loss));
    expect(b2.val_loss).toBe(a.val_loss);
    const ca = readCheckpoint(dirA)!, cb = readCheckpoint(dirB)!;
    for (const [k, t] of ca.tensors) {
      expect(Array.from(cb.tensors.get(k)!.data), k).toEqual(Array.from(t.data));
    }
    // The Adam moments were read back from the device: not all zero after 4 steps.
    expect(ca.tensors.get("adam_v/w_out")!.data.some((x) => x > 0)).toBe(true);
  });

  it("a synchronous forward of a learned router fails with a clear message on webgpu", async () => {
    await initBackend("webgpu");
    const m = model("sbase", 4);
    expect(() => tf.tidy(() => m.forward(batchOf(1), { training: true, rng: new Rng(1) }).loss))
      .toThrow(/router "sbase" failed on the webgpu backend.*forwardAsync/);
    m.dispose();
  });

  it("deno task train --backend webgpu --steps 3 --json works and names the adapter", () => {
    const r = trainCliJson(["--router", "sbase", "--experts", "4", "--backend", "webgpu"]);
    expect(r.backend).toBe("webgpu");
    // The adapter in the run's metrics: a one-line label, and the details.
    const info = r.backend_info as {
      adapter: string;
      software: boolean;
      gpu: { vendor: string; description: string; software: boolean; limits: object };
    };
    expect(info.adapter).toContain(info.gpu.description);
    expect(info.adapter).toMatch(info.software ? /\[.*software\]$/ : /\]$/);
    expect(info.gpu.software).toBe(info.software);
    expect(typeof info.gpu.vendor).toBe("string");
    expect(Object.keys(info.gpu.limits).sort()).toEqual([
      "maxBufferSize",
      "maxStorageBufferBindingSize",
    ]);
    expect(r.steps).toBe(3);
    expect(r.tokens).toBe(3 * 2 * 16);
    expect(Number.isFinite(r.val_loss)).toBe(true);
    expect(r.val_loss).toBeGreaterThan(5);
  });
});
