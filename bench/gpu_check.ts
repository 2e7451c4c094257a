/**
 * The measurements of scripts/gpu-check.sh, one per process, each a JSON line on stdout.
 *
 *   deno run -A bench/gpu_check.ts --parity [--steps 4]
 *     train() a tiny routed model (S-BASE and RL-R, E = 4) on wasm and on webgpu from the same
 *     seed: the training and validation losses must agree to 1e-4 (relative).
 *   deno run -A bench/gpu_check.ts --backend webgpu|wasm --d-model 256 --layers 6 --heads 8
 *                                 --experts 64 [--batch-size 32 --seq-len 128 --vocab-size 4096]
 *                                 [--steps 5 --warmup 2 --max-seconds 40 --threads N]
 *     training throughput of one model on random tokens (lib/train's trainStepAsync: forward,
 *     backward, clipping, AdamW; the loss read back every step): tokens/s over the timed steps,
 *     stopping early once --max-seconds have passed (at least one timed step). E = 1 is dense,
 *     else S-BASE routing in every other block (R = 0.5), as the gpu preset.
 *   deno run -A bench/gpu_check.ts --summary OUTDIR
 *     reads what gpu-check.sh wrote under OUTDIR and writes OUTDIR/summary.txt and summary.json:
 *     the adapter, the parity check, tokens/s per model and backend (webgpu, wasm, PyTorch),
 *     the slice of the gpu preset, and each phase's time.
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import {
  type BackendInfo,
  checkWebgpuMemory,
  formatBytes,
  initBackend,
} from "../lib/backend/mod.ts";
import { routedBlocks } from "../lib/counting/mod.ts";
import { train, type TrainConfig, trainStepAsync } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { benchModel } from "./_setup.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    parity: { type: "boolean", default: false },
    backend: { type: "string", default: "webgpu" },
    "d-model": { type: "string", default: "256" },
    layers: { type: "string", default: "6" },
    heads: { type: "string", default: "8" },
    experts: { type: "string", default: "1" },
    "batch-size": { type: "string", default: "32" },
    "seq-len": { type: "string", default: "128" },
    "vocab-size": { type: "string", default: "4096" },
    steps: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    "max-seconds": { type: "string", default: "40" },
    threads: { type: "string", default: "1" },
    summary: { type: "string" },
  },
});
const num = (k: keyof typeof a, min = 1) => {
  const v = Number(a[k]);
  if (!Number.isFinite(v) || v < min) throw new Error(`--${k} must be a number >= ${min}`);
  return v;
};

/** Names the adapter of a backend for the JSON lines. */
const where = (info: BackendInfo) => ({
  backend: info.name,
  adapter: info.adapter ?? null,
  software: info.software ?? null,
  threads: info.threads ?? null,
  blas: info.blas?.name ?? null,
});

async function parity(steps: number) {
  const tiny: Partial<TrainConfig> = {
    dModel: 16,
    layers: 2,
    heads: 2,
    seqLen: 16,
    batchSize: 2,
    evalBatches: 1,
    steps,
    evalEvery: 2,
    seed: 3,
    lr: 3e-3,
    warmupSteps: 1,
    experts: 4,
    routingFrequency: 0.5,
    vocabSize: 2048,
  };
  const out = [];
  let worst = 0;
  for (const router of ["sbase", "rlr"]) {
    const w = await train({ ...tiny, router, backend: "wasm" }, { quiet: true });
    const g = await train({ ...tiny, router, backend: "webgpu" }, { quiet: true });
    const rel = (x: number, y: number) => Math.abs(x - y) / Math.abs(y);
    let d = 0;
    g.curve.forEach((c, i) => {
      d = Math.max(d, rel(c.train_loss, w.curve[i].train_loss));
      const vw = w.curve[i].val_loss;
      if (vw !== undefined && c.val_loss !== undefined) d = Math.max(d, rel(c.val_loss, vw));
    });
    worst = Math.max(worst, d);
    out.push({
      router,
      wasm: w.curve.map((c) => c.train_loss),
      webgpu: g.curve.map((c) => c.train_loss),
      val_wasm: w.val_loss,
      val_webgpu: g.val_loss,
      max_rel_diff: d,
      adapter: g.backend_info.adapter ?? null,
    });
  }
  const ok = worst < 1e-4;
  console.log(JSON.stringify({ check: "parity", ok, max_rel_diff: worst, runs: out }));
  return ok;
}

async function throughput() {
  const backend = a.backend as "webgpu" | "wasm";
  if (backend !== "webgpu" && backend !== "wasm") throw new Error("--backend webgpu|wasm");
  const d = num("d-model"), L = num("layers"), H = num("heads"), E = num("experts");
  const B = num("batch-size"), S = num("seq-len"), V = num("vocab-size", 257);
  const steps = num("steps"), warmup = num("warmup", 0), maxS = num("max-seconds", 0);
  const router = E === 1 ? "dense" : "sbase";
  const info = await initBackend(backend, { threads: num("threads"), quiet: true });
  const shape = {
    dModel: d,
    layers: L,
    heads: H,
    experts: E,
    k: 1,
    batchSize: B,
    seqLen: S,
    vocabSize: V,
    routedBlocks: E === 1 ? 0 : routedBlocks(L, 0.5).length,
  };
  const est = await checkWebgpuMemory(shape, info); // throws before building what cannot fit
  const t0 = performance.now();
  const { model, opt, batch } = benchModel({
    vocabSize: V,
    seqLen: S,
    batchSize: B,
    dModel: d,
    layers: L,
    heads: H,
    router,
    experts: E,
  });
  const buildS = (performance.now() - t0) / 1000;
  const rng = new Rng(3);
  const losses: number[] = [], times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < warmup + steps; i++) {
    const ts = performance.now();
    const { loss } = await trainStepAsync(model, opt, batch(), { lr: 1e-3, gradClip: 1, rng });
    const ms = performance.now() - ts;
    if (!Number.isFinite(loss)) throw new Error(`${backend} d${d} E${E}: loss ${loss}`);
    losses.push(loss);
    if (i >= warmup) times.push(ms);
    if (maxS > 0 && (performance.now() - start) / 1000 > maxS && times.length > 0) break;
  }
  const timedS = times.reduce((x, y) => x + y, 0) / 1000;
  const params = model.namedVariables().reduce((s, n) => s + n.variable.size, 0);
  opt.dispose();
  model.dispose();
  console.log(JSON.stringify({
    check: "throughput",
    ...where(info),
    d_model: d,
    layers: L,
    heads: H,
    experts: E,
    router,
    batch_size: B,
    seq_len: S,
    vocab_size: V,
    params,
    estimated_gpu_gib: est ? est.totalBytes / 1024 ** 3 : null,
    build_s: buildS,
    warmup_steps: Math.min(warmup, losses.length),
    timed_steps: times.length,
    step_ms: times.length ? (1000 * timedS) / times.length : null,
    tokens_per_s: times.length ? (times.length * B * S) / timedS : null,
    loss_first: losses[0],
    loss_last: losses.at(-1),
    stopped_early: times.length < steps,
    tensors: tf.memory().numTensors,
  }));
}

/** The JSON objects of a file of JSON lines (lines that do not parse are skipped). */
function jsonLines(path: string): Record<string, unknown>[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  return text.split("\n").flatMap((l) => {
    if (!l.trim().startsWith("{")) return [];
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

function summary(dir: string): string {
  const adapter = jsonLines(`${dir}/adapter.json`)[0] ?? {};
  const parityR = jsonLines(`${dir}/parity.json`).at(-1);
  const phases = jsonLines(`${dir}/phases.jsonl`);
  const rows: Record<string, unknown>[] = [];
  for (const f of [...Deno.readDirSync(`${dir}/throughput`)].map((e) => e.name).sort()) {
    const r = jsonLines(`${dir}/throughput/${f}`).at(-1);
    rows.push(r ?? { check: "throughput", file: f, error: "no result (see the log)" });
  }
  const progress = jsonLines(`${dir}/slice-progress.jsonl`);
  const fmt = (x: unknown, d = 0) => (typeof x === "number" ? x.toFixed(d) : "-");
  const lines: string[] = [];
  lines.push(`adapter: ${adapter.adapter ?? "none"}${adapter.software ? " (SOFTWARE)" : ""}`);
  if (adapter.limits) {
    const l = adapter.limits as Record<string, number>;
    lines.push(
      `  limits: maxBufferSize ${formatBytes(l.maxBufferSize)}, maxStorageBufferBindingSize ` +
        `${formatBytes(l.maxStorageBufferBindingSize)}; memory budget ` +
        `${formatBytes(Number(adapter.budgetGiB) * 1024 ** 3)} (${adapter.budgetSource})`,
    );
  }
  lines.push(
    parityR
      ? `parity webgpu vs wasm (tiny S-BASE and RL-R runs): ${parityR.ok ? "OK" : "FAILED"}, ` +
        `largest relative loss difference ${Number(parityR.max_rel_diff).toExponential(1)}`
      : "parity webgpu vs wasm: no result (see the log)",
  );
  lines.push("tokens/s (training steps on random tokens; E = 1 dense, else S-BASE, R = 0.5):");
  const key = (r: Record<string, unknown>) => `d${r.d_model} x ${r.layers}, E = ${r.experts}`;
  const models = [...new Set(rows.filter((r) => r.d_model !== undefined).map(key))];
  const backends = ["webgpu", "wasm", "torch-cuda"];
  lines.push(`  ${"model".padEnd(20)}${backends.map((b) => b.padStart(12)).join("")}`);
  for (const m of models) {
    const cell = (b: string) => {
      const r = rows.find((x) => key(x) === m && x.backend === b);
      return (r ? (r.tokens_per_s === undefined ? "err" : fmt(r.tokens_per_s)) : "-").padStart(12);
    };
    lines.push(`  ${m.padEnd(20)}${backends.map(cell).join("")}`);
  }
  for (const r of rows.filter((x) => x.error)) {
    lines.push(
      `  ${r.backend ?? r.file} d${r.d_model} x ${r.layers}, E = ${r.experts}: ${r.error}`,
    );
  }
  const ends = progress.filter((p) => p.event === "end");
  const steps = progress.filter((p) => p.event === "step");
  const last = steps.at(-1);
  const sliceS = phases.find((p) => p.phase === "slice");
  lines.push(
    `gpu preset slice (${fmt(sliceS?.seconds)} s): ${ends.length} run(s) finished, ` +
      (last
        ? `last step ${last.step}/${last.steps} of run ${String(last.run).slice(0, 12)} at ` +
          `${fmt(last.tokens_per_s)} tokens/s`
        : "no training step finished"),
  );
  lines.push(
    `phases: ${
      phases.map((p) =>
        `${p.phase} ${fmt(p.seconds)} s${p.status === "ok" ? "" : ` (${p.status})`}`
      ).join(", ")
    }`,
  );
  const total = phases.find((p) => p.phase === "total");
  if (total) lines.push(`wall time: ${fmt(total.seconds)} s`);
  const text = lines.join("\n");
  Deno.writeTextFileSync(`${dir}/summary.txt`, text + "\n");
  Deno.writeTextFileSync(
    `${dir}/summary.json`,
    JSON.stringify(
      { adapter, parity: parityR ?? null, throughput: rows, slice: { ends, last }, phases },
      null,
      1,
    ),
  );
  return text;
}

if (a.summary) {
  console.log(summary(a.summary));
  Deno.exit(0);
}
if (a.parity) Deno.exit((await parity(num("steps"))) ? 0 : 1);
await throughput();
