import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../lib/backend/mod.ts";
import {
  denseParameterCount,
  forwardFlopsPerToken,
  totalParameterCount,
} from "../lib/counting/mod.ts";
import {
  attentionHost,
  attentionReference,
  blockIndex,
  defaultExpertPath,
  dispatch,
  expertCapacity,
  expertPath,
  routedFfn,
  setBatchedTensorLimit,
  setExpertPath,
  TransformerLM,
} from "../lib/model/mod.ts";
import {
  freshWeightRoute,
  gelu,
  hostColSum,
  hostGatherRows,
  hostTensor,
  hostTranspose2d,
  hostView,
  linear,
  matMulFreshWeight,
  matMulTransB,
  setHostPathOverride,
  transBRoute,
  weightGrad,
} from "../lib/nn/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { disposeCase, ffnCase, ffnRun, gradNames, relDiff } from "./_experts.ts";

const V = 300, S = 8, B = 2;

function randomBatch(seed: number, n = B): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n * (S + 1) }, () => rng.int(V));
}

function tiny(router: string, experts: number, extra: Partial<{ k: number; R: number }> = {}) {
  return new TransformerLM({
    vocabSize: V,
    seqLen: S,
    dModel: 16,
    layers: 2,
    heads: 2,
    experts,
    routingFrequency: extra.R ?? 0.5,
    k: extra.k ?? 1,
    capacityFactor: 2,
    router: resolveRouter(router),
    seed: 3,
  });
}

function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * std), shape);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await initBackend("cpu");
});

describe("model gradients", () => {
  for (const [router, E] of [["dense", 1], ["sbase", 4], ["hash", 4]] as const) {
    it(`${router}: analytic gradients match central finite differences (cpu, float32)`, () => {
      const model = tiny(router, E);
      const batch = randomBatch(11);
      const named = model.namedVariables();
      const vars = named.map((n) => n.variable);
      const routes = (r: { expertIndex: Int32Array }[]) =>
        r.map((l) => Array.from(l.expertIndex).join()).join("|");
      // The loss and whether the routing equals the unperturbed one (a perturbation that flips a
      // token to another expert makes the loss jump: no derivative to compare there).
      const lossOf = () =>
        tf.tidy(() => {
          const out = model.forward(batch, { training: true, rng: new Rng(1) });
          return { l: out.loss.dataSync()[0], same: routes(out.routing) === baseRoutes };
        });
      const baseRoutes = tf.tidy(() =>
        routes(model.forward(batch, { training: true, rng: new Rng(1) }).routing)
      );
      const grads = tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => model.forward(batch, { training: true, rng: new Rng(1) }).loss,
          vars,
        );
        return named.map((n) => grads[n.variable.name].dataSync().slice());
      });
      // Three entries of every kind of parameter: embeddings, LayerNorm, attention, FFN/experts,
      // router, unembedding. Compare where the derivative is not tiny (float32 noise ~1e-5).
      let checked = 0, flips = 0;
      const rng = new Rng(5);
      for (let i = 0; i < named.length; i++) {
        const v = named[i].variable;
        const base = v.dataSync().slice() as Float32Array;
        for (let rep = 0; rep < 3; rep++) {
          const j = rng.int(base.length);
          const g = grads[i][j];
          if (Math.abs(g) < 2e-4) continue;
          const at = (delta: number) => {
            const d = base.slice();
            d[j] += delta;
            v.assign(tf.tensor(d, v.shape));
            return lossOf();
          };
          const h = 5e-3;
          const [up, down] = [at(h), at(-h)];
          v.assign(tf.tensor(base, v.shape));
          if (!up.same || !down.same) {
            flips++;
            continue;
          }
          const fd = (up.l - down.l) / (2 * h);
          expect(Math.abs(fd - g), `${named[i].name}[${j}] analytic ${g} fd ${fd}`)
            .toBeLessThan(0.05 * Math.abs(g) + 2e-4);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(15);
      expect(flips).toBeLessThan(checked / 3);
      model.dispose();
    });
  }

  it("host (JS typed-array) and device (tf.gather/scatter) code paths agree", () => {
    for (const [router, E, k] of [["sbase", 4, 2], ["hash", 3, 1], ["rlr", 4, 1]] as const) {
      const model = tiny(router, E, { k, R: 1 });
      const vars = model.namedVariables().map((n) => n.variable);
      const batch = randomBatch(2);
      const run = (host: boolean) => {
        setHostPathOverride(host);
        try {
          return tf.tidy(() => {
            const { value, grads } = tf.variableGrads(
              () => model.forward(batch, { training: true, rng: new Rng(9) }).objective,
              vars,
            );
            return { l: value.dataSync()[0], g: vars.map((v) => grads[v.name].dataSync()) };
          });
        } finally {
          setHostPathOverride(undefined);
        }
      };
      const a = run(true), b = run(false);
      expect(Math.abs(a.l - b.l)).toBeLessThan(1e-5);
      a.g.forEach((g, i) => expect(maxAbsDiff(g, b.g[i])).toBeLessThan(1e-6));
      model.dispose();
    }
  });

  it("host attention equals batched reference attention, values and gradients", () => {
    const rng = new Rng(4);
    const T = 3 * 6, d = 12, heads = 3;
    const qkv = randn(rng, [T, 3 * d]) as tf.Tensor2D;
    const dy = randn(rng, [T, d]);
    const run = (f: typeof attentionHost) =>
      tf.tidy(() => {
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x as tf.Tensor2D, 6, heads), dy)));
        return { y: f(qkv, 6, heads).dataSync(), g: g(qkv).dataSync() };
      });
    const a = run(attentionHost), b = run(attentionReference);
    expect(maxAbsDiff(a.y, b.y)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.g, b.g)).toBeLessThan(1e-5);
    // causal: output row 0 of each sequence depends only on token 0 -> changing the last token
    // of a sequence leaves its earlier outputs unchanged.
    const data = qkv.dataSync().slice() as Float32Array;
    for (let j = 0; j < 3 * d; j++) data[5 * 3 * d + j] += 1;
    const y2 = tf.tidy(() => attentionHost(tf.tensor2d(data, [T, 3 * d]), 6, heads).dataSync());
    expect(maxAbsDiff(y2.slice(0, 5 * d), a.y.slice(0, 5 * d))).toBe(0);
    expect(maxAbsDiff(y2.slice(5 * d, 6 * d), a.y.slice(5 * d, 6 * d))).toBeGreaterThan(1e-3);
  });
});

describe("routed FFN", () => {
  it("with E = 1 and room for every token equals the dense FFN (values and gradients)", () => {
    const rng = new Rng(8);
    const T = 10, d = 6;
    const h = randn(rng, [T, d]) as tf.Tensor2D;
    const w1 = randn(rng, [d, 4 * d], 0.3) as tf.Tensor2D;
    const w2 = randn(rng, [4 * d, d], 0.3) as tf.Tensor2D;
    const disp = dispatch(new Int32Array(T), T, 1, 1, expertCapacity(T, 1, 1, 1));
    expect(disp.dropped).toBe(0);
    const dy = randn(rng, [T, d]);
    const routed = tf.tidy(() => {
      const f = (x: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(
            routedFfn(x as tf.Tensor2D, null, [a as tf.Tensor2D], [b as tf.Tensor2D], disp, 1),
            dy,
          ),
        );
      return [routedFfn(h, null, [w1], [w2], disp, 1), ...tf.grads(f)([h, w1, w2])].map((t) =>
        t.dataSync()
      );
    });
    const dense = tf.tidy(() => {
      const f = (x: tf.Tensor, a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.mul(linear(gelu(linear(x as tf.Tensor2D, a as tf.Tensor2D)), b as tf.Tensor2D), dy),
        );
      return [linear(gelu(linear(h, w1)), w2), ...tf.grads(f)([h, w1, w2])].map((t) =>
        t.dataSync()
      );
    });
    routed.forEach((r, i) => expect(maxAbsDiff(r, dense[i])).toBeLessThan(1e-5));
  });

  it("drops choices over capacity (zero output: the residual passes) and counts them", () => {
    const rng = new Rng(9);
    const T = 12, d = 4, E = 3;
    // 8 tokens want expert 0, 4 want expert 1; capacity ceil(1 * 12 / 3) = 4.
    const idx = Int32Array.from({ length: T }, (_, t) => (t < 8 ? 0 : 1));
    const cap = expertCapacity(T, E, 1, 1);
    expect(cap).toBe(4);
    const disp = dispatch(idx, T, 1, E, cap);
    expect(disp.dropped).toBe(4);
    expect(Array.from(disp.requested)).toEqual([8, 4, 0]);
    expect(Array.from(disp.tokens[0])).toEqual([0, 1, 2, 3]); // first come, first served
    const h = randn(rng, [T, d]) as tf.Tensor2D;
    const w1 = [0, 1, 2].map(() => randn(rng, [d, 4 * d]) as tf.Tensor2D);
    const w2 = [0, 1, 2].map(() => randn(rng, [4 * d, d]) as tf.Tensor2D);
    const y = tf.tidy(() => routedFfn(h, null, w1, w2, disp, 1).arraySync() as number[][]);
    for (let t = 4; t < 8; t++) expect(y[t].every((v) => v === 0)).toBe(true);
    for (const t of [0, 3, 8, 11]) expect(y[t].some((v) => v !== 0)).toBe(true);
  });
});

describe("capacity at evaluation", () => {
  it("evaluation drops nothing; training drops what is over capacity (HASH, every token one id)", () => {
    // Every input token is the same id, so HASH sends all T = B * S of them to one expert:
    // training capacity ceil(2 * T / 4) keeps half; evaluation keeps all.
    const batch = new Int32Array(B * (S + 1)).fill(7);
    const base = tiny("hash", 4);
    const withCf = (capacityFactor: number) =>
      new TransformerLM({ ...base.config, capacityFactor });
    base.dispose();
    const tight = withCf(2), roomy = withCf(4); // same seed: same weights
    const run = (m: TransformerLM, training: boolean) => {
      let loss = NaN;
      let routing: { dropped: number; capacity: number }[] = [];
      tf.tidy(() => {
        const out = m.forward(batch, { training, rng: new Rng(1) })!;
        loss = out.loss.dataSync()[0];
        routing = out.routing;
      });
      return { loss, routing };
    };
    const evalTight = run(tight, false),
      trainTight = run(tight, true),
      trainRoomy = run(roomy, true);
    expect(trainTight.routing[0].dropped).toBeCloseTo(0.5, 12);
    expect(evalTight.routing[0].dropped).toBe(0);
    expect(evalTight.routing[0].capacity).toBe(B * S);
    expect(trainRoomy.routing[0].dropped).toBe(0);
    // No drops at evaluation = the loss of a model whose capacity holds every token.
    expect(Math.abs(evalTight.loss - trainRoomy.loss)).toBeLessThan(1e-6);
    expect(Math.abs(trainTight.loss - trainRoomy.loss)).toBeGreaterThan(1e-4);
    // evalCapacityFactor brings the limit back at evaluation (code versions <= 5 scored so).
    const legacy = new TransformerLM({ ...base.config, capacityFactor: 2, evalCapacityFactor: 2 });
    const evalLegacy = run(legacy, false);
    expect(evalLegacy.routing[0].dropped).toBeCloseTo(0.5, 12);
    expect(Math.abs(evalLegacy.loss - trainTight.loss)).toBeLessThan(1e-6);
    for (const m of [tight, roomy, legacy]) m.dispose();
  });
});

describe("batched experts (one [E, capacity, d] block, batched matMuls)", () => {
  it("lays a dispatch out in the block: free slots and dropped choices point at zero rows", () => {
    // T 6, k 1, E 3, capacity 2: expert 0 asked 4 times (2 dropped), expert 2 never; token 5 nowhere
    const disp = dispatch(Int32Array.from([0, 0, 1, 0, 0, -1]), 6, 1, 3, 2);
    const ix = blockIndex(disp, 6, 1);
    expect(Array.from(ix.rowToken)).toEqual([0, 1, 2, 6, 6, 6]);
    expect(Array.from(ix.rowChoice)).toEqual([0, 1, 2, 6, 6, 6]);
    expect(Array.from(ix.choiceRow)).toEqual([0, 1, 2, 6, 6, 6]);
  });

  it("per-backend defaults: wasm and cpu per-expert, webgpu batched; the override switches", () => {
    expect(defaultExpertPath("wasm")).toBe("per-expert");
    expect(defaultExpertPath("cpu")).toBe("per-expert");
    expect(defaultExpertPath("webgpu")).toBe("batched"); // measured faster there
    expect(expertPath()).toBe("per-expert"); // cpu is active here
    setExpertPath("batched");
    try {
      expect(expertPath()).toBe("batched");
    } finally {
      setExpertPath(undefined);
    }
    expect(expertPath()).toBe("per-expert");
    expect(() => setExpertPath("fused" as never)).toThrow(/unknown expert path "fused"/);
  });

  const cases = [
    { k: 1, withCombine: true },
    { k: 2, withCombine: true },
    { k: 1, withCombine: false },
    { k: 2, withCombine: false },
  ];

  for (const { k, withCombine } of cases) {
    it(`cpu, k=${k}${withCombine ? "" : ", no combine"}: batched equals the host and device per-expert paths (values, gradients), dropped choices and an empty expert included`, async () => {
      const x = ffnCase({ T: 24, d: 8, E: 4, k, withCombine });
      try {
        expect(x.disp.dropped).toBeGreaterThan(0);
        expect(x.disp.requested[x.E - 1]).toBe(0); // the last expert is empty
        const batched = await ffnRun(x, "batched");
        const names = gradNames(x);
        for (const host of [true, false]) {
          setHostPathOverride(host);
          let ref;
          try {
            ref = await ffnRun(x, "per-expert");
          } finally {
            setHostPathOverride(undefined);
          }
          const label = host ? "host" : "device";
          expect(relDiff(batched.y, ref.y), `${label} value`).toBeLessThan(1e-5);
          batched.grads.forEach((g, i) =>
            expect(relDiff(g, ref.grads[i]), `${label} d${names[i]}`).toBeLessThan(1e-5)
          );
        }
        // Exact zeros where the per-expert paths give them: tokens with no kept choice (their
        // output and dh rows) and the empty expert's weight gradients.
        const kept = new Set<number>();
        for (const tk of x.disp.tokens) for (const t of tk) kept.add(t);
        const none = Array.from({ length: x.T }, (_, t) => t).filter((t) => !kept.has(t));
        expect(none).toContain(1); // token 1 is routed nowhere
        for (const t of none) {
          for (const a of [batched.y, batched.grads[0]]) {
            expect(a.subarray(t * x.d, (t + 1) * x.d).every((v) => v === 0)).toBe(true);
          }
        }
        const off = withCombine ? 2 : 1;
        for (const i of [off + x.E - 1, off + 2 * x.E - 1]) {
          expect(batched.grads[i].every((v) => v === 0), names[i]).toBe(true);
        }
      } finally {
        disposeCase(x);
      }
    });
  }

  it("cpu: experts split into groups (a buffer limit) give the same values and gradients", async () => {
    for (const k of [1, 2]) {
      const x = ffnCase({ T: 24, d: 8, E: 4, k, withCombine: true });
      try {
        const ref = await ffnRun(x, "per-expert");
        const perExpert = 4 * Math.max(8 * 32, x.disp.capacity * 32); // bytes of W1[e], H rows
        for (const group of [1, 3]) {
          setBatchedTensorLimit(group * perExpert);
          let got;
          try {
            got = await ffnRun(x, "batched");
          } finally {
            setBatchedTensorLimit(undefined);
          }
          expect(relDiff(got.y, ref.y), `k=${k} groups of ${group}`).toBeLessThan(1e-5);
          got.grads.forEach((g, i) =>
            expect(relDiff(g, ref.grads[i]), `k=${k} groups of ${group}, ${i}`).toBeLessThan(1e-5)
          );
        }
      } finally {
        disposeCase(x);
      }
    }
  });

  for (const blas of ["off", "auto"] as const) {
    it(`wasm (blas ${blas}): batched equals the per-expert path at expert-like sizes, k = 1 and 2`, async () => {
      await initBackend("wasm", { blas, quiet: true });
      try {
        for (const k of [1, 2]) {
          const x = ffnCase({ T: 128, d: 32, E: 8, k, withCombine: true, seed: 7 });
          try {
            expect(x.disp.dropped).toBeGreaterThan(0);
            const a = await ffnRun(x, "batched"), b = await ffnRun(x, "per-expert");
            expect(relDiff(a.y, b.y), `k=${k} value`).toBeLessThan(1e-5);
            const names = gradNames(x);
            a.grads.forEach((g, i) =>
              expect(relDiff(g, b.grads[i]), `k=${k} d${names[i]}`).toBeLessThan(1e-5)
            );
          } finally {
            disposeCase(x);
          }
        }
      } finally {
        await initBackend("cpu");
      }
    });
  }

  it("a model's loss and gradients agree on both paths (sbase k=2, hash, rlr; cpu)", () => {
    for (const [router, E, k] of [["sbase", 4, 2], ["hash", 3, 1], ["rlr", 4, 1]] as const) {
      const model = tiny(router, E, { k, R: 1 });
      const vars = model.namedVariables().map((n) => n.variable);
      const batch = randomBatch(4);
      const run = (batched: boolean) => {
        setExpertPath(batched ? "batched" : "per-expert");
        try {
          return tf.tidy(() => {
            const { value, grads } = tf.variableGrads(
              () => model.forward(batch, { training: true, rng: new Rng(9) }).objective,
              vars,
            );
            return { l: value.dataSync()[0], g: vars.map((v) => grads[v.name].dataSync()) };
          });
        } finally {
          setExpertPath(undefined);
        }
      };
      const a = run(true), b = run(false);
      expect(Math.abs(a.l - b.l), router).toBeLessThan(1e-5);
      a.g.forEach((g, i) => expect(maxAbsDiff(g, b.g[i]), `${router} ${i}`).toBeLessThan(1e-6));
      model.dispose();
    }
  });
});

describe("parameter counts", () => {
  for (
    const [router, E, R, layers] of [
      ["dense", 1, 0.5, 4],
      ["sbase", 8, 0.5, 4],
      ["hash", 4, 1, 3],
      ["rlr", 16, 0.25, 4],
    ] as const
  ) {
    it(`${router} E=${E} R=${R}: held parameters equal lib/counting's N and P`, () => {
      const d = 32;
      const model = new TransformerLM({
        vocabSize: V,
        seqLen: S,
        dModel: d,
        layers,
        heads: 4,
        experts: E,
        routingFrequency: R,
        k: 1,
        capacityFactor: 2,
        router: resolveRouter(router),
        seed: 1,
      });
      const shape = model.shape();
      const held = model.parameterCounts();
      // Our final LayerNorm (2 d) is outside lib/counting's blocks, and HASH holds no router
      // matrix (d x E per routed block, which the release counts for every technique).
      const routed = model.routedBlockIndices.length;
      const noRouter = router === "hash" ? routed * d * E : 0;
      expect(held.nonEmbedding - 2 * d).toBe(totalParameterCount(shape) - noRouter);
      expect(held.embedding).toBe(2 * V * d + S * d);
      const c = model.counts();
      expect(c.N).toBe(denseParameterCount(shape));
      expect(c.P).toBe(totalParameterCount(shape));
      expect(c.F).toBe(forwardFlopsPerToken(shape));
      // Independent count of N: L (4 d^2 attention + 8 d^2 FFN + 4 d LayerNorm).
      expect(c.N).toBe(layers * (12 * d * d + 4 * d));
      model.dispose();
    });
  }
});

describe("overfitting", () => {
  it("a tiny model memorises one small batch", async () => {
    const { AdamW } = await import("../lib/train/mod.ts");
    const model = tiny("sbase", 4);
    const opt = new AdamW(model.namedVariables(), {
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      weightDecay: 0,
    });
    const batch = randomBatch(21);
    const vars = model.namedVariables().map((n) => n.variable);
    const rng = new Rng(0);
    let first = 0, last = 0;
    for (let s = 0; s < 150; s++) {
      last = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => model.forward(batch, { training: true, rng }).objective,
          vars,
        );
        opt.apply(grads, 1e-2);
        return value.dataSync()[0];
      });
      if (s === 0) first = last;
    }
    expect(first).toBeGreaterThan(5); // ln 300 = 5.7 at initialisation
    expect(last).toBeLessThan(0.2);
    opt.dispose();
    model.dispose();
  });
});

describe("backends", () => {
  it("cpu and wasm give the same loss and gradients for the same seed and batch", async () => {
    const batch = randomBatch(31);
    const results: Record<string, { loss: number; grads: Float32Array[] }> = {};
    // (webgpu, with its two-pass routing, is compared with both in test/webgpu.test.ts.)
    for (const name of ["cpu", "wasm"] as const) {
      await initBackend(name);
      const model = tiny("sbase", 4, { R: 1 });
      const vars = model.namedVariables().map((n) => n.variable);
      results[name] = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => model.forward(batch, { training: true, rng: new Rng(1) }).loss,
          vars,
        );
        return {
          loss: value.dataSync()[0],
          grads: vars.map((v) => grads[v.name].dataSync() as Float32Array),
        };
      });
      model.dispose();
    }
    await initBackend("cpu");
    const ref = results.cpu;
    expect(ref.loss).toBeGreaterThan(5);
    for (const name of ["wasm"]) {
      const r = results[name];
      expect(Math.abs(r.loss - ref.loss), name).toBeLessThan(1e-4);
      r.grads.forEach((g, i) => {
        let scale = 0;
        for (const x of ref.grads[i]) scale = Math.max(scale, Math.abs(x));
        expect(maxAbsDiff(g, ref.grads[i]), `${name} grad ${i}`).toBeLessThan(1e-3 * scale + 1e-6);
      });
    }
  });
});

describe("host kernels (wasm heap views)", () => {
  const close = (a: tf.Tensor, b: tf.Tensor, tol = 1e-4) => {
    expect(a.shape).toEqual(b.shape);
    const [x, y] = [a.dataSync(), b.dataSync()];
    let scale = 0;
    for (const v of y) scale = Math.max(scale, Math.abs(v));
    expect(maxAbsDiff(x, y)).toBeLessThanOrEqual(tol * Math.max(1, scale));
  };

  for (const name of ["wasm", "cpu"] as const) {
    it(`${name}: hostTensor, hostView, transpose and column sums equal tfjs's own kernels`, async () => {
      await initBackend(name);
      try {
        tf.tidy(() => {
          const rng = new Rng(4);
          for (const [r, c] of [[37, 11], [64, 256], [256, 64], [1, 9]]) {
            const x = randn(rng, [r, c]) as tf.Tensor2D;
            close(hostTranspose2d(x), tf.transpose(x), 0);
            close(hostColSum(x), tf.sum(x, 0), 1e-6);
            const idx = Int32Array.from([r - 1, 0, -1, Math.floor(r / 2)]);
            const rows = hostGatherRows(x, idx);
            const want = tf.concat([
              tf.gather(x, tf.tensor1d([r - 1, 0], "int32")),
              tf.zeros([1, c]),
              tf.gather(x, tf.tensor1d([Math.floor(r / 2)], "int32")),
            ]);
            close(rows, want, 0);
            // a tensor written through hostTensor reads back as written, and is a new tensor
            const copy = hostTensor([r, c], (o) => o.set(hostView(x)));
            close(copy, x, 0);
            expect(copy.dataId).not.toBe(x.dataId);
          }
        });
      } finally {
        await initBackend("cpu");
      }
    });
  }

  it("wasm: both routes of matMulTransB, matMulFreshWeight and weightGrad equal tf.matMul", async () => {
    await initBackend("wasm", { blas: "off" });
    try {
      tf.tidy(() => {
        const rng = new Rng(6);
        const seen = new Set<string>();
        // expert-like (few rows against a large weight) and dense-like shapes
        for (const [n, k, m] of [[30, 256, 1024], [512, 64, 96], [7, 96, 384], [300, 40, 24]]) {
          const a = randn(rng, [n, k]) as tf.Tensor2D;
          const b = randn(rng, [m, k]) as tf.Tensor2D;
          seen.add(transBRoute([n, k], [m, k]));
          close(matMulTransB(a, b), tf.matMul(a, b, false, true));
          const w = randn(rng, [k, m]) as tf.Tensor2D;
          seen.add(freshWeightRoute([n, k], [k, m]));
          close(matMulFreshWeight(a, w), tf.matMul(a, w));
          const dy = randn(rng, [n, m]) as tf.Tensor2D;
          close(weightGrad(a, dy), tf.matMul(a, dy, true, false));
          close(weightGrad(dy, a), tf.matMul(dy, a, true, false));
        }
        expect([...seen].sort()).toEqual(["pack", "transpose", "transpose-a", "transpose-b"]);
      });
    } finally {
      await initBackend("cpu");
    }
  });

  it("wasm: a routed FFN at expert-like sizes has the same values and gradients on the host and device paths", async () => {
    await initBackend("wasm", { blas: "off" });
    try {
      const rng = new Rng(8);
      const T = 256, d = 64, E = 16, k = 1;
      // few tokens per expert, so the transposed routes are taken
      expect(freshWeightRoute([T / E, d], [d, 4 * d])).toBe("transpose");
      expect(transBRoute([T / E, d], [4 * d, d])).toBe("transpose-a");
      const h = tf.variable(randn(rng, [T, d]));
      const c = tf.variable(tf.abs(randn(rng, [T, k])));
      const w1 = Array.from({ length: E }, () => tf.variable(randn(rng, [d, 4 * d], 0.1)));
      const w2 = Array.from({ length: E }, () => tf.variable(randn(rng, [4 * d, d], 0.1)));
      const choice = Int32Array.from({ length: T }, () => rng.int(E));
      const disp = dispatch(choice, T, k, E, expertCapacity(T, E, k, 1.5));
      expect(disp.dropped).toBeGreaterThan(0);
      const vars = [h, c, ...w1, ...w2];
      const run = (host: boolean) => {
        setHostPathOverride(host);
        try {
          return tf.tidy(() => {
            const { value, grads } = tf.variableGrads(() => {
              const y = routedFfn(
                h as tf.Tensor2D,
                c as tf.Tensor2D,
                w1 as tf.Tensor2D[],
                w2 as tf.Tensor2D[],
                disp,
                k,
              );
              return tf.sum(tf.mul(y, tf.sin(tf.range(0, T * d).reshape([T, d]))));
            }, vars);
            return { l: value.dataSync()[0], g: vars.map((v) => grads[v.name].dataSync()) };
          });
        } finally {
          setHostPathOverride(undefined);
        }
      };
      const host = run(true), device = run(false);
      expect(Math.abs(host.l - device.l)).toBeLessThan(1e-3 * Math.abs(device.l) + 1e-3);
      host.g.forEach((g, i) => {
        let scale = 0;
        for (const x of device.g[i]) scale = Math.max(scale, Math.abs(x));
        expect(maxAbsDiff(g, device.g[i]), `grad ${i}`).toBeLessThan(1e-4 * scale + 1e-6);
      });
      for (const v of vars) v.dispose();
    } finally {
      await initBackend("cpu");
    }
  });
});
