/**
 * OpenBLAS beneath tfjs-wasm (lib/backend/blas.ts, lib/openblas): its sgemm against a float64
 * reference, its kernels against XNNPACK's on every matMul shape the model uses (forward and
 * backward, transposed operands, batched attention products, an expert with no tokens), a heap
 * that grows under a product, the BLAS attention and the host cross-entropy and GELU against the
 * idiomatic tf versions, determinism and resume with OpenBLAS, and the messages when the library
 * is missing. CI installs libopenblas0-pthread; without it these tests fail (they do not skip).
 */
import * as tf from "@tensorflow/tfjs-core";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blasActive, initBackend, resolveBlasChoice, sgemm } from "../lib/backend/mod.ts";
import { restoreXnnpackKernels, useBlas } from "../lib/backend/blas.ts";
import {
  attentionBlas,
  attentionReference,
  dispatch,
  expertCapacity,
  routedFfn,
} from "../lib/model/mod.ts";
import { crossEntropy, gelu, layerNorm, setHostPathOverride } from "../lib/nn/mod.ts";
import { train, type TrainConfig } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";

function randn(rng: Rng, shape: number[], std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.normal() * std), shape);
}

/** max |a - b| relative to max |b| (float32 rounding of sums over K terms: ~1e-6 * sqrt(K)). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}

/** Runs f with XNNPACK's matMul kernels, then with OpenBLAS's; returns both results' values. */
function bothPaths(f: () => tf.Tensor[]): { xnn: Float32Array[]; blas: Float32Array[] } {
  const run = () =>
    tf.tidy(() => f()).map((t) => {
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v.slice();
    });
  restoreXnnpackKernels();
  expect(blasActive()).toBe(false);
  const xnn = run();
  useBlas("openblas", 2, true);
  expect(blasActive()).toBe(true);
  const blas = run();
  return { xnn, blas };
}

beforeAll(async () => {
  const info = await initBackend("wasm", { threads: 2, blas: "openblas", quiet: true });
  expect(info.blas?.name).toBe("openblas");
});

afterAll(async () => {
  await initBackend("cpu");
});

describe("sgemm", () => {
  it("equals a float64 reference for every transpose, with row strides and an offset C", () => {
    const rng = new Rng(1);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const M = 37, N = 23, K = 51, lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
      const A = Float32Array.from({ length: (ta ? K : M) * lda }, () => rng.normal());
      const Bm = Float32Array.from({ length: (tb ? N : K) * ldb }, () => rng.normal());
      const C0 = Float32Array.from({ length: M * ldc }, () => rng.normal());
      const C = C0.slice();
      sgemm(ta, tb, M, N, K, 0.5, A, lda, Bm, ldb, 2, C, ldc);
      let worst = 0;
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) {
            s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? Bm[j * ldb + k] : Bm[k * ldb + j]);
          }
          const want = 0.5 * s + 2 * C0[i * ldc + j];
          worst = Math.max(worst, Math.abs(C[i * ldc + j] - want));
        }
        // the padding columns between rows are untouched
        for (let j = N; j < ldc; j++) expect(C[i * ldc + j]).toBe(C0[i * ldc + j]);
      }
      expect(worst, `transA ${ta} transB ${tb}`).toBeLessThan(1e-4);
    }
  });

  it("refuses views too small for the product instead of reading past them", () => {
    const a = new Float32Array(10), b = new Float32Array(10), c = new Float32Array(10);
    expect(() => sgemm(false, false, 4, 4, 4, 1, a, 4, b, 4, 0, c, 4)).toThrow(/too small/);
  });

  it("K = 0 gives beta C (an expert with no tokens has a zero weight gradient)", () => {
    const c = new Float32Array([1, 2, 3, 4]);
    sgemm(true, false, 2, 2, 0, 1, new Float32Array(0), 2, new Float32Array(0), 2, 0, c, 2);
    expect(Array.from(c)).toEqual([0, 0, 0, 0]);
  });
});

describe("OpenBLAS kernels against XNNPACK", () => {
  it("every matMul shape of the model, forward and backward, agrees to float32 rounding", () => {
    const rng = new Rng(2);
    // [a shape, b shape, transposeA, transposeB]: dense layers at d_model 256 (T 2048), their
    // backward products, an expert's few tokens, an expert with none, batched attention products.
    const cases: [number[], number[], boolean, boolean][] = [
      [[2048, 256], [256, 1024], false, false],
      [[2048, 1024], [256, 1024], false, true],
      [[2048, 256], [2048, 1024], true, false],
      [[2048, 256], [256, 2048], false, false],
      [[30, 256], [256, 1024], false, false],
      [[30, 1024], [256, 1024], false, true],
      [[0, 256], [256, 1024], false, false],
      [[0, 256], [0, 1024], true, false],
      [[32, 64, 16], [32, 64, 16], false, true],
      [[32, 64, 64], [32, 64, 16], false, false],
      [[2, 16, 64, 64], [2, 16, 64, 16], true, false],
      [[32, 64, 16], [16, 8], false, false], // batch broadcast of b (forward only: tfjs's
      // own BatchMatMul gradient does not reduce over broadcast dims)
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = tf.variable(randn(rng, sa)), b = tf.variable(randn(rng, sb));
      const broadcast = sa.length !== sb.length;
      const { xnn, blas } = bothPaths(() => {
        const y = tf.matMul(a, b, ta, tb);
        if (broadcast) return [y];
        const g = tf.grads((x: tf.Tensor, w: tf.Tensor) => {
          const r = tf.matMul(x, w, ta, tb);
          return tf.sum(tf.mul(r, r));
        })([a, b]);
        return [y, ...g];
      });
      const label = `${JSON.stringify(sa)} x ${JSON.stringify(sb)} ${ta} ${tb}`;
      for (let i = 0; i < xnn.length; i++) {
        expect(blas[i].length, label).toBe(xnn[i].length);
        expect(relErr(blas[i], xnn[i]), `${label} output ${i}`).toBeLessThan(2e-5);
      }
      a.dispose(), b.dispose();
    }
  });

  it("a fused matMul with bias and relu equals XNNPACK's", () => {
    const rng = new Rng(3);
    const a = randn(rng, [64, 48]), b = randn(rng, [48, 40]), bias = randn(rng, [40]);
    const { xnn, blas } = bothPaths(() => [
      tf.fused.matMul({
        a: a as tf.Tensor2D,
        b: b as tf.Tensor2D,
        bias,
        activation: "relu",
      }),
      tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, bias, transposeB: false }),
    ]);
    for (let i = 0; i < 2; i++) expect(relErr(blas[i], xnn[i])).toBeLessThan(1e-5);
  });

  it("a routed FFN with dropped tokens and an empty expert has the same values and gradients", () => {
    const rng = new Rng(4);
    const T = 128, d = 32, E = 8, k = 1;
    const h = tf.variable(randn(rng, [T, d]));
    const w1 = Array.from({ length: E }, () => tf.variable(randn(rng, [d, 4 * d], 0.1)));
    const w2 = Array.from({ length: E }, () => tf.variable(randn(rng, [4 * d, d], 0.1)));
    // expert 0 gets most tokens (some dropped for capacity), expert 7 gets none
    const idx = Int32Array.from({ length: T }, (_, t) => (t % 3 === 0 ? t % 7 : 0));
    const cap = expertCapacity(T, E, k, 2);
    const disp = dispatch(idx, T, k, E, cap);
    expect(disp.dropped).toBeGreaterThan(0);
    expect(disp.requested[7]).toBe(0);
    const combine = tf.variable(tf.sigmoid(randn(rng, [T, k])));
    const vars = [h, ...w1, ...w2, combine];
    // per-expert products (XNNPACK) against one packed block (OpenBLAS, lib/model/moe_blas.ts),
    // without and with combine weights
    for (const c of [null, combine]) {
      const { xnn, blas } = bothPaths(() => {
        const f = () =>
          tf.sum(
            tf.square(
              routedFfn(
                h as tf.Tensor2D,
                c as tf.Tensor2D | null,
                w1 as tf.Tensor2D[],
                w2 as tf.Tensor2D[],
                disp,
                k,
              ),
            ),
          ) as tf.Scalar;
        const { value, grads } = tf.variableGrads(f, c ? vars : vars.slice(0, -1));
        return [value, ...vars.filter((v) => grads[v.name]).map((v) => grads[v.name])];
      });
      expect(blas.length).toBe(c ? 2 + 2 * E + 1 : 2 + 2 * E);
      for (let i = 0; i < xnn.length; i++) expect(relErr(blas[i], xnn[i])).toBeLessThan(2e-5);
    }
    const { xnn, blas } = bothPaths(() => {
      const f = () =>
        tf.sum(
          tf.square(
            routedFfn(h as tf.Tensor2D, null, w1 as tf.Tensor2D[], w2 as tf.Tensor2D[], disp, k),
          ),
        ) as tf.Scalar;
      const { value, grads } = tf.variableGrads(f, vars.slice(0, -1));
      return [value, ...vars.slice(0, -1).map((v) => grads[v.name])];
    });
    // the empty expert's weight gradients are exactly zero on both paths; a used one's are not
    for (const r of [xnn, blas]) {
      // r: [value, dh, dW1 of experts 0..E-1, dW2 of experts 0..E-1]
      expect(r[2 + 7].every((x) => x === 0)).toBe(true);
      expect(r[2 + E + 7].every((x) => x === 0)).toBe(true);
      expect(r[2].some((x) => x !== 0)).toBe(true);
    }
    tf.dispose(vars);
  });

  it("a product whose output grows the wasm heap reads fresh views (no stale memory)", () => {
    useBlas("openblas", 2, true);
    const backend = tf.backend() as unknown as { wasm: { HEAPF32: Float32Array } };
    const before = backend.wasm.HEAPF32.buffer.byteLength;
    const rng = new Rng(5);
    const M = 8192, N = 8192, K = 4; // a 256 MiB output
    const a = randn(rng, [M, K]), b = randn(rng, [K, N]);
    const av = a.dataSync(), bv = b.dataSync();
    const c = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
    const cv = c.dataSync();
    const after = backend.wasm.HEAPF32.buffer.byteLength;
    expect(after).toBeGreaterThan(before); // the heap did grow during this product
    for (const [i, j] of [[0, 0], [M - 1, N - 1], [4097, 123], [17, 8000]]) {
      let s = 0;
      for (let k = 0; k < K; k++) s += av[i * K + k] * bv[k * N + j];
      expect(Math.abs(cv[i * N + j] - s)).toBeLessThan(1e-4);
    }
    tf.dispose([a, b, c]);
  });
});

describe("host building blocks with OpenBLAS", () => {
  it("attention by strided sgemm equals the batched tf reference, gradients included", () => {
    useBlas("openblas", 2, true);
    const rng = new Rng(6);
    for (const [B, S, H, dh] of [[2, 16, 2, 8], [3, 64, 4, 16]]) {
      const T = B * S, d = H * dh;
      const qkv = tf.variable(randn(rng, [T, 3 * d]));
      const dy = randn(rng, [T, d]);
      const run = (f: typeof attentionBlas) =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.sum(tf.mul(f(qkv as tf.Tensor2D, S, H), dy)) as tf.Scalar,
            [qkv],
          );
          return [value.dataSync()[0], grads[qkv.name].dataSync().slice()] as const;
        });
      const [v1, g1] = run(attentionBlas);
      const [v2, g2] = run(attentionReference);
      expect(Math.abs(v1 - v2) / Math.abs(v2)).toBeLessThan(1e-5);
      expect(relErr(g1, g2)).toBeLessThan(1e-5);
      qkv.dispose(), dy.dispose();
    }
  });

  it("the host LayerNorm equals the idiomatic tf ops, values and all three gradients", () => {
    const rng = new Rng(9);
    const x = tf.variable(randn(rng, [50, 48], 2)), g = tf.variable(randn(rng, [48]));
    const b = tf.variable(randn(rng, [48])), w = randn(rng, [50, 48]);
    const run = (host: boolean) => {
      setHostPathOverride(host);
      try {
        return tf.tidy(() => {
          const { value, grads } = tf.variableGrads(
            () =>
              tf.sum(tf.mul(layerNorm(x as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D), w))
                .asScalar(),
            [x, g, b],
          );
          return [value.dataSync()[0], ...[x, g, b].map((v) => grads[v.name].dataSync().slice())];
        });
      } finally {
        setHostPathOverride(undefined);
      }
    };
    const a = run(true), r = run(false);
    expect(Math.abs((a[0] as number) - (r[0] as number))).toBeLessThan(1e-3);
    for (let i = 1; i < 4; i++) {
      expect(relErr(a[i] as Float32Array, r[i] as Float32Array)).toBeLessThan(1e-5);
    }
    tf.dispose([x, g, b, w]);
  });

  it("the host cross-entropy and GELU equal the idiomatic tf ops, values and gradients", () => {
    const rng = new Rng(7);
    const n = 64, V = 300;
    const logits = tf.variable(randn(rng, [n, V], 3));
    const targets = Int32Array.from({ length: n }, () => rng.int(V));
    const h = tf.variable(randn(rng, [n, 40]));
    const run = (host: boolean) => {
      setHostPathOverride(host);
      try {
        return tf.tidy(() => {
          const ce = tf.variableGrads(
            () =>
              tf.mean(tf.mul(crossEntropy(logits as tf.Tensor2D, targets), tf.range(0, n)))
                .asScalar(),
            [logits],
          );
          const ge = tf.variableGrads(
            () => tf.sum(tf.mul(gelu(h as tf.Tensor2D), tf.sin(h))).asScalar(),
            [h],
          );
          return [
            ce.value.dataSync()[0],
            ce.grads[logits.name].dataSync().slice(),
            ge.value.dataSync()[0],
            ge.grads[h.name].dataSync().slice(),
          ] as const;
        });
      } finally {
        setHostPathOverride(undefined);
      }
    };
    const a = run(true), b = run(false);
    expect(Math.abs(a[0] - b[0]) / b[0]).toBeLessThan(1e-5);
    expect(relErr(a[1], b[1])).toBeLessThan(1e-5);
    expect(Math.abs(a[2] - b[2]) / Math.abs(b[2])).toBeLessThan(1e-5);
    expect(relErr(a[3], b[3])).toBeLessThan(1e-5);
    logits.dispose(), h.dispose();
  });

  it("the host cross-entropy stays exact where the target's probability underflows", () => {
    // target logit 200 nats below the row's maximum: softmax gives p = 0 in float32
    const V = 8;
    const row = [0, 0, 0, 0, 0, 0, 0, 0];
    row[3] = 200;
    const logits = tf.tensor2d([row, [1, 2, 3, 4, 5, 6, 7, 8]], [2, V]);
    const loss = crossEntropy(logits, Int32Array.from([0, 7])).dataSync();
    const lse = (xs: number[]) => {
      const m = Math.max(...xs);
      return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
    };
    expect(Number.isFinite(loss[0])).toBe(true);
    expect(Math.abs(loss[0] - (lse(row) - 0))).toBeLessThan(1e-3);
    expect(Math.abs(loss[1] - (lse([1, 2, 3, 4, 5, 6, 7, 8]) - 8))).toBeLessThan(1e-5);
    logits.dispose();
  });
});

describe("training with OpenBLAS", () => {
  const TINY: Partial<TrainConfig> = {
    router: "sbase",
    experts: 4,
    dModel: 64,
    layers: 2,
    heads: 2,
    seqLen: 32,
    batchSize: 8,
    evalBatches: 1,
    steps: 6,
    evalEvery: 2,
    seed: 5,
    backend: "wasm",
    threads: 2,
    blas: "openblas",
  };

  it("is deterministic for a fixed thread count, and a resumed run equals an uninterrupted one", async () => {
    const dirA = fs.mkdtempSync(path.join(os.tmpdir(), "blas-a-"));
    const dirB = fs.mkdtempSync(path.join(os.tmpdir(), "blas-b-"));
    const a = await train(TINY, { checkpointDir: dirA, checkpointEvery: 100, quiet: true });
    expect(a.backend_info.blas?.name).toBe("openblas");
    const again = await train(TINY, { quiet: true });
    expect(again.curve.map((c) => c.train_loss)).toEqual(a.curve.map((c) => c.train_loss));
    expect(again.val_loss).toBe(a.val_loss);
    const b1 = await train(TINY, { checkpointDir: dirB, checkpointEvery: 100, stopAfter: 3 });
    expect(b1.steps).toBe(3);
    const b2 = await train(TINY, { checkpointDir: dirB, checkpointEvery: 100, quiet: true });
    expect(b2.resumed_from).toBe(3);
    expect(b2.curve.map((c) => c.train_loss)).toEqual(a.curve.map((c) => c.train_loss));
    expect(b2.val_loss).toBe(a.val_loss);
    // XNNPACK gives the same losses to float32 rounding, not bit for bit (README says which)
    const off = await train({ ...TINY, blas: "off", threads: 1 }, { quiet: true });
    expect(off.backend_info.blas?.name).toBe("off");
    const la = a.curve.map((c) => c.train_loss), lo = off.curve.map((c) => c.train_loss);
    for (let i = 0; i < la.length; i++) expect(Math.abs(la[i] - lo[i])).toBeLessThan(1e-3);
  });
});

describe("a missing OpenBLAS", () => {
  const run = (code: string) =>
    spawnSync(Deno.execPath(), ["eval", code], {
      encoding: "utf8",
      env: {
        ...Deno.env.toObject(),
        NO_COLOR: "1",
        ROUTING_OPENBLAS: "/nonexistent/libopenblas.so",
      },
    });

  it("auto falls back to XNNPACK with one line naming the package; openblas is an error", () => {
    const auto = run(
      `import { initBackend } from "./lib/backend/mod.ts";
       const i = await initBackend("wasm", { blas: "auto" });
       console.log(JSON.stringify(i.blas)); Deno.exit(0);`,
    );
    expect(auto.status).toBe(0);
    expect(JSON.parse(auto.stdout.trim()).name).toBe("off");
    const lines = auto.stderr.split("\n").filter((l) => l.startsWith("blas:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/XNNPACK.*apt-get install -y libopenblas0-pthread/);
    const forced = run(
      `import { initBackend } from "./lib/backend/mod.ts";
       try { await initBackend("wasm", { blas: "openblas" }); console.log("NO ERROR"); }
       catch (e) { console.log("ERROR " + (e as Error).message); } Deno.exit(0);`,
    );
    expect(forced.stdout).toMatch(
      /^ERROR OpenBLAS not found .*apt-get install -y libopenblas0-pthread/,
    );
  });

  it("the train CLI refuses --blas openblas without the library, and a sweep keys runs by the path", () => {
    const r = spawnSync(Deno.execPath(), [
      "run",
      "-A",
      "lib/cli/train.ts",
      "--blas",
      "openblas",
      "--steps",
      "1",
      "--quiet",
    ], {
      encoding: "utf8",
      env: { ...Deno.env.toObject(), NO_COLOR: "1", ROUTING_OPENBLAS: "/nonexistent/x.so" },
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/libopenblas0-pthread/);
    // here the library loads: "auto" resolves to "openblas" (what a sweep's run id records)
    expect(resolveBlasChoice("auto")).toBe("openblas");
    expect(resolveBlasChoice("off")).toBe("off");
    const ids = execFileSync(Deno.execPath(), [
      "eval",
      `import { expandSpec } from "./lib/sweep/mod.ts";
       const s = { name: "t", routers: ["S-Base"], sizes: [{ dModel: 16, layers: 2, heads: 2 }],
         experts: [1], budget: { steps: 2 } };
       console.log(JSON.stringify(["auto", "openblas", "off"].map((b) =>
         expandSpec({ ...s, train: { blas: b } })[0].runId)));`,
    ], { encoding: "utf8", env: { ...Deno.env.toObject(), NO_COLOR: "1" } });
    const [auto, openblas, off] = JSON.parse(ids.trim());
    expect(auto).toBe(openblas);
    expect(off).not.toBe(openblas);
  });
});
