import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../lib/backend/mod.ts";
import { linear } from "../lib/nn/mod.ts";
import {
  defineRouter,
  dense,
  hash,
  hashMap,
  isDenseRouter,
  pickChosen,
  resolveRouter,
  rlr,
  ROUTER_LABELS,
  routerIdOf,
  routerMatrix,
  type RouterMetrics,
  ROUTERS,
  sbase,
  sinkhorn,
  softmaxRows,
  topKRows,
} from "../lib/routers/mod.ts";
import { AdamW, train } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";

beforeAll(async () => {
  await initBackend("cpu");
});

function skewedLogits(rng: Rng, T: number, E: number): Float32Array {
  // Expert e gets a bias of 0.6 e: plain top-1 would send most tokens to the last experts.
  return Float32Array.from({ length: T * E }, (_, i) => rng.normal() + 0.6 * (i % E));
}

function ctx(E: number, training: boolean, rng = new Rng(0), k = 1) {
  return { training, experts: E, k, layer: 0, rng };
}

/** S-BASE's router of routed layer 0 (k = 1, vocabulary 300). */
function sbaseLayer(d: number, E: number, seed: number, options: Record<string, unknown> = {}) {
  return sbase({ dModel: d, experts: E, k: 1, vocabSize: 300, layer: 0, seed, options });
}

/**
 * An S-BASE router (E = 8, d = 16) made skewed, and its input x [T, d]: feature 0 of x is 1 for
 * every token and the router favours expert e by 0.6 e on it, so plain top-1 crowds the last
 * experts while training's balanced choice spreads them. The same draws on every call.
 */
function skewedSbase(T: number, options: Record<string, unknown> = {}) {
  const E = 8, d = 16;
  const rng = new Rng(2);
  const router = sbaseLayer(d, E, 1, options);
  const w = Float32Array.from({ length: d * E }, () => 0.05 * rng.normal());
  for (let e = 0; e < E; e++) w[0 * E + e] = 0.6 * e;
  router.variables[0].assign(tf.tensor2d(w, [d, E]));
  const xs = Float32Array.from({ length: T * d }, (_, i) => (i % d === 0 ? 1 : rng.normal()));
  return { router, x: tf.tensor2d(xs, [T, d]), E };
}

describe("Sinkhorn", () => {
  it("balances the marginals to the tolerance: rows sum to 1, columns to T / E", () => {
    const rng = new Rng(1);
    const T = 512, E = 8;
    const p = softmaxRows(skewedLogits(rng, T, E), T, E);
    for (const tol of [1e-2, 1e-3, 1e-5]) {
      const r = sinkhorn(p, T, E, tol, 1000);
      expect(r.iterations).toBeLessThan(1000);
      expect(r.error).toBeLessThanOrEqual(tol);
      const col = new Float64Array(E);
      for (let t = 0; t < T; t++) {
        let row = 0;
        for (let e = 0; e < E; e++) {
          const m = r.u[t] * p[t * E + e] * r.v[e];
          row += m;
          col[e] += m;
        }
        expect(Math.abs(row - 1)).toBeLessThan(1e-9);
      }
      for (let e = 0; e < E; e++) {
        expect(Math.abs(col[e] - T / E) / (T / E)).toBeLessThanOrEqual(tol * 1.0001);
      }
    }
    // The cap is honoured.
    expect(sinkhorn(p, T, E, 1e-12, 3).iterations).toBe(3);
  });

  it("S-BASE spreads tokens far more evenly than plain top-1 on skewed router scores", () => {
    const T = 1024;
    const { router, x, E } = skewedSbase(T);
    const share = (training: boolean) =>
      tf.tidy(() => {
        const r = router.route(x, new Int32Array(T), ctx(E, training));
        const n = new Array(E).fill(0);
        r.expertIndex.forEach((e) => n[e]++);
        return { max: Math.max(...n) / T, iters: r.metrics?.sinkhornIterations ?? 0 };
      });
    const bal = share(true), plain = share(false);
    expect(plain.max).toBeGreaterThan(0.4); // top-1 at evaluation: the skew shows
    expect(bal.max).toBeLessThan(0.2); // balanced in training: near 1/8 = 0.125
    expect(bal.iters).toBeGreaterThan(1);
  });

  it("a lower Sinkhorn temperature balances the hard top-1 loads of confident, clustered tokens", () => {
    // Half the tokens share a confident preference for expert 0 (as frequent tokens do after some
    // training); the rest are spread. Soft marginals balance at any temperature; hard loads do not.
    const T = 512, E = 8, d = 8;
    const rng = new Rng(6);
    const xs = new Float32Array(T * d);
    for (let t = 0; t < T; t++) {
      xs[t * d] = 1;
      xs[t * d + 1] = t < T / 2 ? 1 : 0;
      for (let j = 2; j < d; j++) xs[t * d + j] = rng.normal();
    }
    const w = new Float32Array(d * E);
    for (let j = 2; j < d; j++) for (let e = 0; e < E; e++) w[j * E + e] = 0.1 * rng.normal();
    w[1 * E + 0] = 4; // feature 1 -> expert 0
    const x = tf.tensor2d(xs, [T, d]);
    const busiest = (temperature: number) => {
      const router = sbaseLayer(d, E, 1, { temperature, tolerance: 1e-4, maxIterations: 1000 });
      router.variables[0].assign(tf.tensor2d(w, [d, E]));
      const r = router.route(x, new Int32Array(T), ctx(E, true));
      const n = new Array(E).fill(0);
      r.expertIndex.forEach((e) => n[e]++);
      return Math.max(...n) / T;
    };
    const hot = busiest(1), cold = busiest(0.1);
    expect(hot).toBeGreaterThan(0.3);
    expect(cold).toBeLessThan(0.2);
    expect(cold).toBeLessThan(hot);
  });

  it("S-BASE combine weights are the router's softmax probabilities of the chosen experts", () => {
    const T = 6, E = 4, d = 5;
    const router = sbase({ dModel: d, experts: E, k: 2, vocabSize: 300, layer: 0, seed: 3 });
    const rng = new Rng(3);
    const x = tf.tensor2d(Float32Array.from({ length: T * d }, () => rng.normal()), [T, d]);
    const { expertIndex, combine } = router.route(x, new Int32Array(T), ctx(E, false, rng, 2));
    const p = softmaxRows(
      tf.matMul(x, router.variables[0]).dataSync() as Float32Array,
      T,
      E,
    );
    const c = combine!.dataSync();
    for (let i = 0; i < T * 2; i++) {
      expect(c[i]).toBeCloseTo(p[Math.floor(i / 2) * E + expertIndex[i]], 6);
    }
  });

  it('S-BASE gate "straight" is 1 forward and passes the softmax gate\'s gradient to the router', () => {
    const T = 6, E = 4, d = 5;
    const make = (gate: string) => sbaseLayer(d, E, 3, { gate });
    const rng = new Rng(3);
    const x = tf.tensor2d(Float32Array.from({ length: T * d }, () => rng.normal()), [T, d]);
    const w = tf.tensor2d(Float32Array.from({ length: T }, () => rng.normal()), [T, 1]);
    const gradOf = (gate: string) => {
      const router = make(gate);
      const W = router.variables[0] as tf.Variable;
      let value: Float32Array = new Float32Array();
      const { grads } = tf.variableGrads(() => {
        const { combine } = router.route(x, new Int32Array(T), ctx(E, false, new Rng(0)));
        value = combine!.dataSync() as Float32Array;
        return tf.sum(tf.mul(combine!, w)) as tf.Scalar;
      }, [W]);
      return { value, grad: grads[W.name].dataSync() as Float32Array };
    };
    const soft = gradOf("softmax"), straight = gradOf("straight");
    for (const v of straight.value) expect(v).toBeCloseTo(1, 6);
    for (const v of soft.value) expect(v).toBeLessThan(1);
    expect(Math.max(...soft.grad.map(Math.abs))).toBeGreaterThan(1e-3);
    for (let i = 0; i < soft.grad.length; i++) {
      expect(straight.grad[i]).toBeCloseTo(soft.grad[i], 6);
    }
  });
});

describe("S-BASE's balancing bias", () => {
  it("learns Sinkhorn's column scales, so that evaluation routes as training did", () => {
    // Training's balanced choice and plain top-1 disagree for most tokens of a skewed router
    // until the bias has learned the balancing.
    const T = 1024;
    const { router, x, E } = skewedSbase(T, { balanceBias: true });
    const bias = router.variables[1];
    expect(router.auxVariables).toEqual([bias]);
    expect(router.lrScales?.get(bias)).toBe(10);
    const ids = new Int32Array(T);
    const agreement = () => {
      const train = router.route(x, ids, ctx(E, true)).expertIndex;
      const evaluate = router.route(x, ids, ctx(E, false)).expertIndex;
      return train.filter((e, t) => e === evaluate[t]).length / T;
    };
    const before = agreement();
    expect(before).toBeLessThan(0.5);
    const opt = new AdamW(
      [{ name: bias.name, variable: bias, decay: false, auxiliary: true }],
      { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0 },
    );
    for (let step = 0; step < 300; step++) {
      const { value, grads } = tf.variableGrads(
        () => router.route(x, ids, ctx(E, true)).auxLoss!,
        [bias],
      );
      opt.apply(grads, 0.05);
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
    }
    // The bias is the centred log of Sinkhorn's column scales (computed here independently).
    const p = softmaxRows(tf.matMul(x, router.variables[0]).dataSync() as Float32Array, T, E);
    const { v } = sinkhorn(p, T, E, 1e-3, 100);
    const logV = Array.from(v, Math.log), mean = logV.reduce((a, b) => a + b) / E;
    const b = bias.dataSync();
    for (let e = 0; e < E; e++) expect(Math.abs(b[e] - (logV[e] - mean))).toBeLessThan(0.05);
    expect(agreement()).toBeGreaterThan(0.95);
    const m = router.route(x, ids, ctx(E, true)).metrics!;
    expect(m.agreement).toBeGreaterThan(0.95); // the metric compares with the biased choice
  });

  it("leaves training's choice and the router's gradient as they were", () => {
    const T = 64, E = 4, d = 6;
    const rng = new Rng(4);
    const x = tf.tensor2d(Float32Array.from({ length: T * d }, () => rng.normal()), [T, d]);
    const run = (balanceBias: boolean) => {
      const router = sbaseLayer(d, E, 5, { balanceBias });
      if (balanceBias) router.variables[1].assign(tf.tensor1d([3, -1, 0, -2]));
      const W = router.variables[0];
      let index: Int32Array = new Int32Array();
      const { grads } = tf.variableGrads(() => {
        const r = router.route(x, new Int32Array(T), ctx(E, true));
        index = r.expertIndex;
        return tf.sum(r.combine!) as tf.Scalar;
      }, [W]);
      return { index, grad: grads[W.name].dataSync() };
    };
    const off = run(false), on = run(true);
    expect(Array.from(on.index)).toEqual(Array.from(off.index));
    expect(Array.from(on.grad)).toEqual(Array.from(off.grad));
  });

  it("initStdPerExpert scales the router matrix's initial std with E, and excludes initStd", () => {
    const stdOf = (options: Record<string, unknown>, E: number) => {
      const router = sbaseLayer(64, E, 7, options);
      const w = Array.from(router.variables[0].dataSync());
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      return Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    };
    for (const E of [4, 32]) {
      const std = stdOf({ initStdPerExpert: 0.005 }, E);
      expect(Math.abs(std / (0.005 * E) - 1)).toBeLessThan(0.1);
      expect(stdOf({ initStd: 0.005 * E }, E)).toBeCloseTo(std, 9); // the same draw, the same std
    }
    expect(() => stdOf({ initStd: 0.1, initStdPerExpert: 0.005 }, 8)).toThrow(/both given/);
    expect(() => stdOf({ initStdPerExpert: -1 }, 8)).toThrow(/initStdPerExpert = -1/);
  });

  it("routerLrTimesE sets the router's learning rate to min(1, that / E), excludes routerLr", () => {
    const scaleOf = (options: Record<string, unknown>, E: number) => {
      const router = sbaseLayer(16, E, 7, options);
      return router.lrScales?.get(router.variables[0]) ?? 1;
    };
    expect(scaleOf({ routerLrTimesE: 8 }, 4)).toBe(1); // capped: full rate up to E = 8
    expect(scaleOf({ routerLrTimesE: 8 }, 8)).toBe(1);
    expect(scaleOf({ routerLrTimesE: 8 }, 16)).toBe(0.5);
    expect(scaleOf({ routerLrTimesE: 8 }, 32)).toBe(0.25);
    expect(scaleOf({ routerLr: 0.25 }, 32)).toBe(0.25); // the same rate, set directly
    expect(scaleOf({}, 32)).toBe(1);
    expect(() => scaleOf({ routerLr: 1, routerLrTimesE: 4 }, 8)).toThrow(/both given/);
    expect(() => scaleOf({ routerLrTimesE: 0 }, 8)).toThrow(/routerLrTimesE = 0/);
  });

  it("evalBalanced (a diagnostic) evaluates with training's batch-balanced choice", () => {
    const T = 256, ids = new Int32Array(T);
    const choices = (evalBalanced: boolean) => {
      const { router, x, E } = skewedSbase(T, { evalBalanced });
      return {
        train: Array.from(router.route(x, ids, ctx(E, true)).expertIndex),
        evaluate: Array.from(router.route(x, ids, ctx(E, false)).expertIndex),
      };
    };
    const plain = choices(false), balanced = choices(true);
    expect(balanced.evaluate).toEqual(balanced.train);
    expect(plain.train).toEqual(balanced.train);
    expect(plain.evaluate.filter((e, t) => e === plain.train[t]).length).toBeLessThan(T / 2);
  });
});

describe("HASH", () => {
  it("the map is fixed for a seed, differs across seeds, and is uniform over the vocabulary", () => {
    const a = hashMap(2048, 16, 7), b = hashMap(2048, 16, 7), c = hashMap(2048, 16, 8);
    expect(Array.from(a)).toEqual(Array.from(b));
    let same = 0;
    for (let i = 0; i < a.length; i++) same += a[i] === c[i] ? 1 : 0;
    expect(same / a.length).toBeLessThan(0.15); // ~1/16 agree by chance
    const counts = new Array(16).fill(0);
    a.forEach((e) => counts[e]++);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    // 2049 ids over 16 experts: 128 or 129 each.
    const odd = hashMap(2049, 16, 1), n = new Array(16).fill(0);
    odd.forEach((e) => n[e]++);
    expect(Math.min(...n)).toBe(128);
    expect(Math.max(...n)).toBe(129);
  });

  it("routes by token id, identically in training and evaluation, and learns nothing", () => {
    const r = hash({ dModel: 8, experts: 4, k: 1, vocabSize: 50, layer: 0, seed: 5 });
    expect(r.variables.length).toBe(0);
    const ids = Int32Array.from([3, 9, 3, 49, 0, 9]);
    const x = tf.zeros([6, 8]) as tf.Tensor2D;
    const a = r.route(x, ids, ctx(4, true)).expertIndex;
    const b = r.route(tf.ones([6, 8]) as tf.Tensor2D, ids, ctx(4, false)).expertIndex;
    const map = hashMap(50, 4, 5);
    expect(Array.from(a)).toEqual(Array.from(ids, (i) => map[i]));
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(() => r.route(x, Int32Array.from([50, 0, 0, 0, 0, 0]), ctx(4, true))).toThrow(
      /outside the vocabulary/,
    );
  });
});

describe("RL-R", () => {
  it("REINFORCE moves the policy toward the expert with the lower loss", () => {
    // Toy problem: a token routed to the good expert has cross-entropy 1, to the other 3.
    const T = 256, d = 8, E = 2;
    const rng = new Rng(4);
    // Feature 0 is constant (as a LayerNorm offset makes it): the router has no bias of its own.
    const x = tf.tensor2d(
      Float32Array.from({ length: T * d }, (_, i) => (i % d === 0 ? 1 : rng.normal())),
      [T, d],
    );
    const run = (good: number) => {
      // a near-uniform start (init std 0.02), so that the movement is REINFORCE's alone
      const router = rlr({
        dModel: d,
        experts: E,
        k: 1,
        vocabSize: 300,
        layer: 0,
        seed: 4,
        options: { initStd: 0.02 },
      });
      const pGood = () =>
        tf.tidy(() => {
          const p = tf.softmax(tf.matMul(x, router.variables[0])); // [T, E]
          return tf.mean(tf.slice(p, [0, good], [T, 1])).dataSync()[0];
        });
      const before = pGood();
      const opt = new AdamW(
        router.variables.map((v, i) => ({ name: `r${i}`, variable: v, decay: false })),
        { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 },
      );
      const sampleRng = new Rng(10);
      for (let s = 0; s < 60; s++) {
        tf.tidy(() => {
          const { grads } = tf.variableGrads(() => {
            const r = router.route(x, new Int32Array(T), ctx(E, true, sampleRng));
            const ce = tf.tensor1d(Float32Array.from(r.expertIndex, (e) => (e === good ? 1 : 3)));
            return r.policyLoss!(ce);
          }, router.variables);
          opt.apply(grads, 0.05);
        });
      }
      // the policy's entropy and how often the sampled choice is the greedy one, after training
      let metrics: RouterMetrics = {};
      tf.tidy(() => {
        metrics = router.route(x, new Int32Array(T), ctx(E, true, sampleRng)).metrics!;
      });
      opt.dispose();
      return { before, after: pGood(), metrics };
    };
    for (const good of [0, 1]) {
      const { before, after, metrics } = run(good);
      expect(before).toBeGreaterThan(0.4);
      expect(before).toBeLessThan(0.6);
      expect(after).toBeGreaterThan(0.9);
      // entropy fell from ~ln 2 = 0.693, and training (sampled) and evaluation (greedy) choices
      // now agree for most tokens
      expect(metrics.entropy!).toBeLessThan(0.35);
      expect(metrics.agreement!).toBeGreaterThan(0.85);
    }
  });

  it("samples from the policy in training (seeded) and routes greedily in evaluation", () => {
    const T = 400, d = 4, E = 4;
    const router = rlr({ dModel: d, experts: E, k: 1, vocabSize: 300, layer: 0, seed: 2 });
    const x = tf.zeros([T, d]) as tf.Tensor2D; // uniform policy
    const a = router.route(x, new Int32Array(T), ctx(E, true, new Rng(1))).expertIndex;
    const b = router.route(x, new Int32Array(T), ctx(E, true, new Rng(1))).expertIndex;
    const c = router.route(x, new Int32Array(T), ctx(E, true, new Rng(2))).expertIndex;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const n = new Array(E).fill(0);
    a.forEach((e) => n[e]++);
    for (const v of n) expect(Math.abs(v - T / E)).toBeLessThan(40); // uniform sampling
    const g = router.route(x, new Int32Array(T), ctx(E, false)).expertIndex;
    expect(new Set(g).size).toBe(1); // greedy: all ties go to expert 0
    expect(() => rlr({ dModel: 4, experts: 4, k: 2, vocabSize: 300, layer: 0, seed: 1 }))
      .toThrow(/k = 1/);
  });

  it("routerLr scales the policy matrix's learning rate, and only that", () => {
    const layer = (options?: Record<string, unknown>) =>
      rlr({ dModel: 8, experts: 4, k: 1, vocabSize: 300, layer: 0, seed: 3, options });
    const slow = layer({ routerLr: 0.25 });
    expect([...(slow.lrScales ?? [])]).toEqual([[slow.variables[0], 0.25]]);
    expect(layer().lrScales?.size ?? 0).toBe(0); // default: every rate is the base one
    expect(() => layer({ routerLr: 0 })).toThrow(/routerLr = 0/);
  });
});

/**
 * A router defined outside lib/ through the public interface only: top-2 softmax gating with
 * renormalised weights and a Switch-style load-balancing auxiliary loss. The shared base scores
 * the tokens; the router writes only its choice.
 */
const top2 = defineRouter({
  id: "top2",
  scores: {},
  create: () => ({
    choose({ T, E, p, probs }) {
      const expertIndex = topKRows(p, T, E, 2);
      const chosen = pickChosen(probs(), expertIndex, 2); // [T, 2]
      const combine = tf.div(chosen, tf.sum(chosen, 1, true)) as tf.Tensor2D;
      const frac = new Float32Array(E);
      for (let t = 0; t < T; t++) frac[expertIndex[t * 2]] += 1 / T;
      const aux = tf.mul(0.01 * E, tf.sum(tf.mul(tf.tensor1d(frac), tf.mean(probs(), 0))));
      return { expertIndex, combine, auxLoss: aux as tf.Scalar };
    },
  }),
});

describe("the scored routers' shared base", () => {
  const spec = { dModel: 6, experts: 4, k: 1, vocabSize: 300, layer: 0, seed: 9 };
  // [5, 6], made in each test (the backend starts in beforeAll)
  const tokens = () =>
    tf.tensor2d(Float32Array.from({ length: 5 * 6 }, (_, i) => Math.sin(i)), [5, 6]);

  it("hands choose the logits x W, their softmax on the host and the entropy (two ways)", () => {
    let seen: { logits: number[]; p: number[]; probs: number[]; entropy: number } | undefined;
    const probe = defineRouter({
      id: "probe",
      scores: { initStd: 0.3 },
      create: () => ({
        choose(s) {
          seen = {
            logits: [...s.logits.dataSync()],
            p: [...s.p],
            probs: [...s.probs().dataSync()],
            entropy: s.entropy,
          };
          return { expertIndex: topKRows(s.p, s.T, s.E, 1) };
        },
      }),
    });
    const router = probe(spec);
    const x = tokens();
    const r = router.route(x, new Int32Array(5), ctx(4, true));
    // The base's matrix is routerMatrix(d, E, seed, initStd): the same draw, independently.
    const w = routerMatrix(6, 4, 9, 0.3);
    const want = linear(x, w).dataSync();
    expect(seen!.logits).toEqual([...want]);
    const p = softmaxRows(Float32Array.from(want), 5, 4);
    seen!.p.forEach((v, i) => expect(v).toBeCloseTo(p[i], 12));
    seen!.probs.forEach((v, i) => expect(v).toBeCloseTo(p[i], 6));
    let h = 0;
    for (const v of p) h -= v * Math.log(v);
    expect(seen!.entropy).toBeCloseTo(h / 5, 12);
    expect(r.metrics!.entropy).toBe(seen!.entropy);
    expect(router.variables.length).toBe(1);
    expect(router.variables[0].shape).toEqual([6, 4]);
  });

  it("puts the router's own variables after W, and honours decay, lrScale and detachInput", () => {
    const extra = tf.variable(tf.zeros([3, 3]));
    const own = defineRouter({
      id: "own",
      scores: { decay: false, detachInput: true, lrScale: 4 },
      create: () => ({
        variables: [extra],
        auxVariables: [extra],
        lrScales: new Map([[extra, 0.5]]),
        choose(s) {
          const expertIndex = topKRows(s.p, s.T, s.E, 1);
          return { expertIndex, combine: pickChosen(s.probs(), expertIndex, 1) };
        },
      }),
    })(spec);
    expect(own.variables[1]).toBe(extra);
    expect(own.auxVariables).toEqual([extra]);
    expect(own.noDecay).toEqual([own.variables[0]]);
    expect([...own.lrScales!]).toEqual([[own.variables[0], 4], [extra, 0.5]]);
    expect(top2(spec).lrScales?.size ?? 0).toBe(0); // no scale given: every rate is the base one
    const x = tokens();
    // detachInput: the combine weights depend on W but pass no gradient to x.
    const gx = tf.grad((xx: tf.Tensor) =>
      tf.sum(own.route(xx as tf.Tensor2D, new Int32Array(5), ctx(4, true)).combine!)
    )(x);
    expect(Math.max(...gx.dataSync().map(Math.abs))).toBe(0);
    const attached = top2(spec);
    const gx2 = tf.grad((xx: tf.Tensor) =>
      tf.sum(attached.route(xx as tf.Tensor2D, new Int32Array(5), ctx(4, true)).auxLoss!)
    )(x);
    expect(Math.max(...gx2.dataSync().map(Math.abs))).toBeGreaterThan(0);
  });

  it("refuses a scored router without choose, and a bad initStd", () => {
    const noChoose = defineRouter({ id: "nochoose", scores: {}, create: () => ({}) as never });
    expect(() => noChoose(spec)).toThrow(/must return \{ choose\(scores, ctx\) \}/);
    const badStd = defineRouter({
      id: "badstd",
      scores: { initStd: 0 },
      create: () => ({ choose: (s) => ({ expertIndex: new Int32Array(s.T) }) }),
    });
    expect(() => badStd(spec)).toThrow(/initStd = 0; it must be > 0/);
  });
});

describe("the router interface", () => {
  it("a user-defined top-2 router trains through train() without touching lib/", async () => {
    // Stand-in data: random token ids (this test is about the interface, not language).
    const rng = new Rng(3);
    const stream = Int32Array.from({ length: 4000 }, () => rng.int(300));
    const r = await train({
      router: top2,
      experts: 4,
      k: 2,
      dModel: 16,
      layers: 2,
      heads: 2,
      seqLen: 16,
      batchSize: 4,
      steps: 6,
      evalEvery: 3,
      evalBatches: 1,
      vocabSize: 300,
      backend: "cpu",
    }, { data: { train: stream, validation: stream.subarray(0, 1000) } });
    expect(r.router).toBe("top2");
    expect(r.diverged).toBe(false);
    expect(r.steps).toBe(6);
    expect(r.router_metrics.length).toBe(1);
    const m = r.router_metrics[0];
    expect(m.load.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(Number.isFinite(r.val_loss)).toBe(true);
  });

  it("unknown router names fail with the list of valid routers", () => {
    expect(() => resolveRouter("sinkhorn")).toThrow(/valid routers are dense, sbase, hash, rlr/);
    expect(resolveRouter("S-Base")).toBe(sbase);
    expect(resolveRouter("RL-R")).toBe(rlr);
  });

  it("one id and one label per built-in router; every spelling resolves to the id", () => {
    for (const [id, f] of Object.entries(ROUTERS)) {
      expect(f.id).toBe(id);
      expect(f.label).toBe(ROUTER_LABELS[f.id as keyof typeof ROUTER_LABELS]);
      expect(f.defaultCapacityFactor).toBe(2);
      expect(resolveRouter(f.label)).toBe(f);
      expect(resolveRouter(f)).toBe(f);
    }
    for (const name of ["sbase", "S-Base", "S-BASE", "s_base", "S BASE"]) {
      expect(routerIdOf(name)).toBe("sbase");
    }
    expect(routerIdOf("Switch")).toBeUndefined();
    expect(isDenseRouter(dense)).toBe(true);
    expect(isDenseRouter(resolveRouter("Dense"))).toBe(true);
    expect(isDenseRouter(hash)).toBe(false);
    expect([top2.id, top2.label, top2.defaultCapacityFactor]).toEqual(["top2", "top2", 2]);
  });

  it("defineRouter and resolveRouter refuse what would be ambiguous or broken", () => {
    const create = () => ({ variables: [], route: () => ({ expertIndex: new Int32Array(0) }) });
    expect(() => defineRouter({ id: "", create })).toThrow(/non-empty name/);
    expect(() => defineRouter({ id: "x", defaultCapacityFactor: 0, create })).toThrow(/> 0/);
    expect(() => resolveRouter(defineRouter({ id: "S-Base", create }))).toThrow(
      /names the built-in router sbase/,
    );
    // a plain function, as factories were made before defineRouter
    const bare = (() => create()) as unknown as Parameters<typeof resolveRouter>[0];
    expect(() => resolveRouter(bare)).toThrow(/defineRouter/);
    const broken = defineRouter({ id: "broken", create: () => ({}) as never });
    expect(() => broken({ dModel: 4, experts: 2, k: 1, vocabSize: 300, layer: 0, seed: 1 }))
      .toThrow(/must return \{ variables, route/);
  });
});
