/**
 * `deno task bench:kernels`: the wasm building-block costs behind the training step's design
 * (lib/nn/host.ts, lib/nn/ops.ts), each printed as measured:
 * - matMul GFLOP/s for this model's shapes, with the right operand cached (a weight used again)
 *   and new (tfjs-wasm packs a new right operand afresh: the cost per element is printed);
 * - the two operand orders of a b^T and of x W with a new weight, at an expert's and a dense
 *   layer's size (lib/nn's matMulTransB, matMulFreshWeight);
 * - transposes: tfjs-wasm's kernel against lib/nn's JS one;
 * - a fresh large JS buffer against a reused one (page faults).
 *
 * - with --blas openblas (or auto where it loads): the same products on OpenBLAS, with the
 *   transposed operands that the backward pass uses.
 *
 *   deno task bench:kernels [--threads 2] [--blas off|auto|openblas]   (default off: XNNPACK)
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { type BlasChoice, initBackend } from "../lib/backend/mod.ts";
import { freshWeightRoute, hostTranspose2d, transBRoute, transpose2d } from "../lib/nn/mod.ts";
import { matMulPath } from "./_setup.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { threads: { type: "string" }, blas: { type: "string" } },
});
const threads = Number(values.threads ?? 2);
const info = await initBackend("wasm", {
  threads,
  blas: (values.blas ?? "off") as BlasChoice,
  quiet: true,
});

/** Median ms of `f` over `n` calls after 3 warm-up calls; disposes what f returns. */
function time(f: () => tf.Tensor | void, n = 20): number {
  const ms: number[] = [];
  for (let i = 0; i < n + 3; i++) {
    const t0 = performance.now();
    const r = f();
    if (r) r.dispose();
    if (i >= 3) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[ms.length >> 1];
}

console.log(`tfjs wasm, matMuls on ${matMulPath(info)}`);
if (info.blas?.name === "openblas") {
  console.log("matMul with transposes (backward pass)  ms       GFLOP/s");
  for (
    const [M, K, N, ta, tb] of [
      [2048, 256, 1024, false, false],
      [2048, 1024, 256, false, true], // dx = dy W^T
      [256, 2048, 1024, true, false], // dW = x^T dy
      [30, 256, 1024, false, false], // an expert's few tokens
      [256, 64, 256, false, true], // attention scores, one head
    ] as [number, number, number, boolean, boolean][]
  ) {
    const a = tf.randomNormal(ta ? [K, M] : [M, K]), b = tf.randomNormal(tb ? [N, K] : [K, N]);
    const ms = time(() => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, ta, tb));
    console.log(
      `  [${M},${K}]x[${K},${N}]${ta ? " a^T" : ""}${tb ? " b^T" : ""}`.padEnd(40) +
        `${ms.toFixed(2).padStart(6)} ${((2 * M * K * N) / ms / 1e6).toFixed(1).padStart(9)}`,
    );
    a.dispose(), b.dispose();
  }
}
console.log("matMul [M,K]x[K,N]          cached b        new b     packing");
for (const [M, K, N] of [[2048, 256, 1024], [2048, 1024, 256], [256, 2048, 1024], [256, 256, 64]]) {
  const a = tf.randomNormal([M, K]), b = tf.randomNormal([K, N]);
  const flops = 2 * M * K * N;
  const cached = time(() => tf.matMul(a, b));
  const copy = time(() => tf.add(b, 0));
  const fresh = time(() => tf.tidy(() => tf.matMul(a, tf.add(b, 0))));
  const packNs = ((fresh - copy - cached) * 1e6) / (K * N);
  console.log(
    `  [${M},${K}]x[${K},${N}]`.padEnd(28) +
      `${cached.toFixed(2)} ms ${(flops / cached / 1e6).toFixed(1).padStart(5)} GFLOP/s  ` +
      `${fresh.toFixed(2)} ms  ${packNs.toFixed(1)} ns/element`,
  );
  a.dispose(), b.dispose();
}

// The two orders of lib/nn's matMulTransB and matMulFreshWeight at an expert's size (30 tokens)
// and at a dense layer's (2048), with the weight new each call as it is every step.
console.log("a b^T, b a new weight        b transposed    a transposed (matMulTransB picks)");
for (const [n, k, m] of [[30, 256, 1024], [30, 1024, 256], [2048, 256, 1024]]) {
  const a = tf.randomNormal([n, k]) as tf.Tensor2D, b = tf.randomNormal([m, k]) as tf.Tensor2D;
  const tb = time(() => tf.tidy(() => tf.matMul(a, transpose2d(tf.add(b, 0) as tf.Tensor2D))));
  const ta = time(() =>
    tf.tidy(() => transpose2d(tf.matMul(tf.add(b, 0) as tf.Tensor2D, transpose2d(a))))
  );
  const pick = transBRoute([n, k], [m, k]);
  console.log(
    `  [${n},${k}] [${m},${k}]`.padEnd(30) + `${tb.toFixed(2)} ms`.padEnd(16) +
      `${ta.toFixed(2)} ms (${pick})`,
  );
  const w = tf.randomNormal([k, m]) as tf.Tensor2D;
  const packed = time(() => tf.tidy(() => tf.matMul(a, tf.add(w, 0) as tf.Tensor2D)));
  const viaT = time(() =>
    tf.tidy(() => {
      const w2 = tf.add(w, 0) as tf.Tensor2D;
      return transpose2d(tf.matMul(transpose2d(w2), transpose2d(a)));
    })
  );
  console.log(
    `  x w, [${n},${k}] [${k},${m}]`.padEnd(30) + `packed ${packed.toFixed(2)} ms`.padEnd(16) +
      `via w^T ${viaT.toFixed(2)} ms (${freshWeightRoute([n, k], [k, m])})`,
  );
  a.dispose(), b.dispose(), w.dispose();
}

console.log("transpose [r,c]             tfjs kernel     JS (lib/nn)");
for (const [r, c] of [[2048, 1024], [2048, 256], [256, 2048]]) {
  const x = tf.randomNormal([r, c]) as tf.Tensor2D;
  const kernel = time(() => tf.transpose(x));
  const js = time(() => hostTranspose2d(x));
  console.log(
    `  [${r},${c}]`.padEnd(28) + `${kernel.toFixed(2)} ms`.padEnd(16) + `${js.toFixed(2)} ms`,
  );
  x.dispose();
}

const n = 2048 * 1024; // 8 MB of float32
const fresh = time(() => {
  new Float32Array(n).fill(1);
});
const reused = new Float32Array(n);
const again = time(() => {
  reused.fill(2);
});
console.log(
  `8 MB Float32Array: new + fill ${fresh.toFixed(2)} ms, reused + fill ${again.toFixed(2)} ms`,
);
Deno.exit(0); // wasm pool threads
