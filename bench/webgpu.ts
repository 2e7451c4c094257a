/**
 * Training step time on webgpu (two-pass routing) beside wasm (one pass), same model and batches.
 *
 *   deno run -A bench/webgpu.ts [--d-model 64] [--experts 8] [--steps 5] [--json]
 *
 * Prints, per backend and router: ms per step (median of the timed steps after 2 warm-up steps),
 * tokens/s, and on webgpu the share of the step spent in the untaped routing pre-pass. On a
 * software adapter (llvmpipe) the webgpu figures are for reference only: it checks the GPU path,
 * it is not meant to be fast.
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/mod.ts";
import { trainStepAsync } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { benchModel } from "./_setup.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    "d-model": { type: "string", default: "64" },
    layers: { type: "string", default: "2" },
    experts: { type: "string", default: "8" },
    "seq-len": { type: "string", default: "64" },
    "batch-size": { type: "string", default: "8" },
    steps: { type: "string", default: "5" },
    json: { type: "boolean", default: false },
  },
});
const num = (k: keyof typeof a) => {
  const v = Number(a[k]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
  return v;
};
const d = num("d-model"), L = num("layers"), E = num("experts");
const S = num("seq-len"), B = num("batch-size"), steps = num("steps");
const V = 2048;

async function measure(backend: "wasm" | "webgpu", router: string) {
  const info = await initBackend(backend);
  const experts = router === "dense" ? 1 : E;
  const { model, opt, batch } = benchModel({
    vocabSize: V,
    seqLen: S,
    batchSize: B,
    dModel: d,
    layers: L,
    heads: Math.max(1, d / 32),
    router,
    experts,
  });
  const rng = new Rng(3);
  const times: number[] = [], pre: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const b = batch();
    let tPre = 0;
    if (backend === "webgpu") {
      // The pre-pass alone (its cost is part of every webgpu step).
      const st = rng.getState();
      const t = performance.now();
      await model.forwardAsync(b, { training: true, rng, routingOnly: true });
      tPre = performance.now() - t;
      rng.setState(st);
    }
    const t0 = performance.now();
    const { loss } = await trainStepAsync(model, opt, b, { lr: 1e-3, gradClip: 1, rng });
    const ms = performance.now() - t0;
    if (!Number.isFinite(loss)) throw new Error(`${backend} ${router}: loss ${loss}`);
    if (i >= 2) times.push(ms), pre.push(tPre);
  }
  opt.dispose();
  model.dispose();
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)];
  const ms = med(times);
  return {
    backend,
    adapter: info.adapter,
    router,
    experts,
    d_model: d,
    layers: L,
    tokens_per_step: B * S,
    ms_per_step: +ms.toFixed(1),
    tokens_per_s: Math.round((B * S) / (ms / 1000)),
    prepass_share: backend === "webgpu" && router !== "dense" ? +(med(pre) / ms).toFixed(3) : 0,
  };
}

const rows = [];
for (const router of ["dense", "sbase"]) {
  for (const backend of ["wasm", "webgpu"] as const) {
    const r = await measure(backend, router);
    rows.push(r);
    if (a.json) console.log(JSON.stringify(r));
    else {
      console.log(
        `${backend.padEnd(6)} ${router.padEnd(5)} E=${String(r.experts).padEnd(3)} d=${d} L=${L} ` +
          `${r.tokens_per_step} tok/step: ${r.ms_per_step} ms/step, ${r.tokens_per_s} tok/s` +
          (r.prepass_share ? `, pre-pass ${(100 * r.prepass_share).toFixed(0)}% of a step` : "") +
          (r.adapter ? ` (${r.adapter})` : ""),
      );
    }
  }
}
tf.disposeVariables();
