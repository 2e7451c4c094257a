/**
 * `deno task bench:profile`: where one wasm training step's time goes, for one configuration.
 * Prints the step time (min and median of --steps), minor page faults per step (Linux), the time
 * of all matMul kernels against every other kernel (tf.profile), the costliest kernels, and the
 * wall time of each custom op's forward and backward (lib/nn's op profile).
 *
 *   deno task bench:profile [--router dense] [--experts 1] [--d 256] [--threads 2] [--steps 5]
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { type BlasChoice, initBackend } from "../lib/backend/mod.ts";
import { startOpProfile, stopOpProfile } from "../lib/nn/mod.ts";
import { DEFAULT_CONFIG, trainStep } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { benchModel, matMulPath } from "./_setup.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    router: { type: "string" },
    experts: { type: "string" },
    d: { type: "string" },
    threads: { type: "string" },
    steps: { type: "string" },
    blas: { type: "string" },
  },
});
const router = values.router ?? "dense", E = Number(values.experts ?? 1);
const d = Number(values.d ?? 256), threads = Number(values.threads ?? 2);
const steps = Number(values.steps ?? 5);
const info = await initBackend("wasm", {
  threads,
  blas: (values.blas ?? "auto") as BlasChoice,
});
// The shapes of bench/train.ts.
const S = d >= 256 ? 256 : 128, B = d >= 256 ? 8 : 16, V = DEFAULT_CONFIG.vocabSize;
const { model, opt, batch } = benchModel({
  vocabSize: V,
  seqLen: S,
  batchSize: B,
  dModel: d,
  layers: 4,
  heads: 4,
  router,
  experts: E,
});
const rng = new Rng(1);
const step = () => trainStep(model, opt, batch(), { lr: 1e-3, gradClip: 1, rng });

/** Minor page faults of this process so far (Linux /proc), or NaN elsewhere. */
function minorFaults(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ")[7]);
  } catch {
    return NaN;
  }
}

step(), step();
const f0 = minorFaults();
const times: number[] = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  step();
  times.push(performance.now() - t0);
}
const faults = (minorFaults() - f0) / steps;
times.sort((a, b) => a - b);
console.log(
  `${router} E=${E} d_model ${d}, matMuls on ${matMulPath(info)}, ${B} x ${S} tokens: step min ${
    times[0].toFixed(0)
  } ms, median ${times[times.length >> 1].toFixed(0)} ms; ${
    faults.toFixed(0)
  } minor page faults/step`,
);

startOpProfile(true);
const prof = await tf.profile(() => {
  step();
  return tf.scalar(0);
});
const ops = stopOpProfile();
const byKernel = new Map<string, { ms: number; calls: number }>();
let matMulMs = 0, otherMs = 0, kernelCount = 0;
for (const k of prof.kernels) {
  // Custom ops show up as kernels named after the function that made them; their own kernels are
  // listed separately, so they are skipped here.
  if (!/^[A-Z_]/.test(k.name) && !k.name.endsWith("__op")) continue;
  const ms = k.kernelTimeMs as number;
  kernelCount++;
  const isMatMul = k.name === "BatchMatMul" || k.name === "_FusedMatMul";
  if (isMatMul) matMulMs += ms;
  else otherMs += ms;
  const key = isMatMul ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const e = byKernel.get(key) ?? { ms: 0, calls: 0 };
  e.ms += ms, e.calls++;
  byKernel.set(key, e);
}
console.log(
  `kernels in one step (${kernelCount}): matMul ${matMulMs.toFixed(0)} ms, other kernels ${
    otherMs.toFixed(0)
  } ms`,
);
for (const [k, v] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
  console.log(`  ${v.ms.toFixed(1).padStart(7)} ms ${String(v.calls).padStart(5)} x ${k}`);
}
console.log("custom ops, wall time (including the kernels they run):");
for (const [k, v] of [...ops].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`  ${v.ms.toFixed(1).padStart(7)} ms ${String(v.calls).padStart(5)} x ${k}`);
}
Deno.exit(0); // wasm pool threads
