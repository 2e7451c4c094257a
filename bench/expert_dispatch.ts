/**
 * What the batched expert path (lib/model/moe_batched.ts) saves against the per-expert path:
 * kernel dispatches per routed block and per training step, and (with --time) step time.
 *
 *   deno run -A bench/expert_dispatch.ts [--backend webgpu] [--experts 8,64,128] [--json]
 *   deno run -A bench/expert_dispatch.ts --time --backend wasm,webgpu --experts 8,64 [--steps 5]
 *     [--blas auto|off] (wasm's matMuls: OpenBLAS when it loads, or XNNPACK)
 *   --time-only: step times without the counts
 *
 * The model is bench/_setup.ts's: d_model 64 (--d-model), 2 layers (one routed, R = 0.5), S-BASE
 * top-1, batch 8 x 64 tokens. Counted per path, after a warm-up step:
 * - "kernels": tfjs kernel calls (tf.engine().runKernelFunc with a kernel name; the kernels that
 *   a backend runs inside another, like a Reshape in GatherV2, are not seen);
 * - "dispatches" (webgpu): GPU compute dispatches, i.e. tfjs-webgpu's recordAndSubmit (one
 *   dispatchWorkgroups each); "uploads": tensors made from CPU values (backend.write with values:
 *   index tensors, scalar constants, small kernel results computed on the CPU); "reads":
 *   tensors read back (backend.read); "buffers": GPU buffers created (device.createBuffer);
 * - "clipping + AdamW": what lib/train's gradient clipping and AdamW do per step for a block's 2E
 *   expert variables alone (the same on both paths);
 * - "block": one routed FFN alone, forward and backward, at the step's shapes (T 512 tokens,
 *   capacity 2 T / E, S-BASE's capacity factor) with random top-1 choices; "step": one whole
 *   training step (trainStepAsync: on webgpu the routing pre-pass, the taped pass, clipping and
 *   AdamW).
 * Counts do not depend on timing or load. --time adds each path's median step time over --steps
 * steps of one model, the paths taking turns step by step after two warm-up steps each (time it on
 * an otherwise idle machine).
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { type BlasChoice, initBackend } from "../lib/backend/mod.ts";
import {
  dispatch,
  EXPERT_PATHS,
  expertCapacity,
  type ExpertPath,
  type NamedVariable,
  routedFfn,
  setExpertPath,
} from "../lib/model/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { AdamW, trainStepAsync } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { benchModel } from "./_setup.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string", default: "webgpu" },
    experts: { type: "string", default: "8,64,128" },
    "d-model": { type: "string", default: "64" },
    steps: { type: "string", default: "5" },
    blas: { type: "string", default: "auto" },
    time: { type: "boolean", default: false },
    "time-only": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
const list = (s: string) => s.split(",").map((x) => x.trim()).filter((x) => x);
const backends = list(a.backend!) as ("wasm" | "webgpu" | "cpu")[];
const expertCounts = list(a.experts!).map(Number);
const d = Number(a["d-model"]), steps = Number(a.steps);
for (
  const [name, v] of [
    ["--d-model", d],
    ["--steps", steps],
    ...expertCounts.map((e) => ["--experts", e]),
  ] as const
) {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new Error(`${name} must be a positive integer (got ${v})`);
  }
}
for (const b of backends) {
  if (!["wasm", "webgpu", "cpu"].includes(b)) {
    throw new Error(`--backend ${b}: use wasm, webgpu or cpu (comma-separated for several)`);
  }
}
const blas = a.blas as BlasChoice;
const L = 2, S = 64, B = 8, V = 2048, T = B * S;

interface Counts {
  kernels: number;
  dispatches: number;
  uploads: number;
  reads: number;
  buffers: number;
}

/** Counts what `f` makes the active backend do. */
async function counted(f: () => Promise<unknown>): Promise<Counts> {
  const c: Counts = { kernels: 0, dispatches: 0, uploads: 0, reads: 0, buffers: 0 };
  // deno-lint-ignore no-explicit-any
  const eng = tf.engine() as any, be = tf.backend() as any;
  const undo: (() => void)[] = [];
  // deno-lint-ignore no-explicit-any
  const hook = (obj: any, name: string, count: (args: any[]) => void) => {
    if (!obj || typeof obj[name] !== "function") return;
    const own = Object.prototype.hasOwnProperty.call(obj, name), orig = obj[name];
    // deno-lint-ignore no-explicit-any
    obj[name] = function (this: unknown, ...args: any[]) {
      count(args);
      return orig.apply(this, args);
    };
    undo.push(() => own ? (obj[name] = orig) : delete obj[name]);
  };
  hook(eng, "runKernelFunc", ([p]) => p?.kernelName && c.kernels++);
  hook(be, "recordAndSubmit", () => c.dispatches++);
  hook(be, "write", ([values]) => values != null && c.uploads++); // not an output's allocation
  hook(be, "read", () => c.reads++);
  hook(be, "readSync", () => c.reads++);
  hook(be?.bufferManager?.device, "createBuffer", () => c.buffers++);
  try {
    await f();
    // deno-lint-ignore no-explicit-any
    if (tf.getBackend() === "webgpu") await (be as any).device?.queue?.onSubmittedWorkDone?.();
  } finally {
    for (const u of undo.reverse()) u();
  }
  return c;
}

/** One routed FFN, forward and backward, at the step's shapes. */
async function blockCounts(E: number): Promise<Counts> {
  const rng = new Rng(4);
  const rand = (shape: number[], std: number) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((x, y) => x * y) }, () => rng.normal() * std),
      shape,
    );
  const h = tf.variable(rand([T, d], 1)), c = tf.variable(tf.abs(rand([T, 1], 1)));
  const w1 = Array.from({ length: E }, () => tf.variable(rand([d, 4 * d], 0.05)));
  const w2 = Array.from({ length: E }, () => tf.variable(rand([4 * d, d], 0.05)));
  const cap = expertCapacity(T, E, 1, resolveRouter("sbase").defaultCapacityFactor);
  const disp = dispatch(Int32Array.from({ length: T }, () => rng.int(E)), T, 1, E, cap);
  const vars = [h, c, ...w1, ...w2];
  const run = async () => {
    const { value, grads } = tf.variableGrads(
      () =>
        tf.sum(
          routedFfn(
            h as tf.Tensor2D,
            c as tf.Tensor2D,
            w1 as tf.Tensor2D[],
            w2 as tf.Tensor2D[],
            disp,
            1,
          ),
        ),
      vars,
    );
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  };
  await run(); // warm-up: shader compilation, buffer pool
  const n = await counted(run);
  tf.dispose(vars);
  return n;
}

/**
 * What the optimiser alone costs for a block's 2E expert variables: the squared-norm terms of
 * gradient clipping (2 kernels a variable plus the pairwise adds) and one AdamW update, as
 * lib/train runs them on a device backend.
 */
async function optimizerCounts(E: number): Promise<Counts> {
  const vars = Array.from(
    { length: 2 * E },
    (_, i) => tf.variable(tf.randomNormal(i < E ? [d, 4 * d] : [4 * d, d], 0, 0.05, "float32", i)),
  );
  const named: NamedVariable[] = vars.map((variable, i) => ({
    name: `w${i}`,
    variable,
    decay: true,
  }));
  const opt = new AdamW(named, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  const grads = Object.fromEntries(vars.map((v) => [v.name, tf.onesLike(v)]));
  const run = async () => {
    const sq = vars.map((v) => tf.sum(tf.square(grads[v.name])));
    const total = sq.reduce((x, y) => tf.add(x, y));
    await total.data();
    tf.dispose([...sq, total]);
    opt.apply(grads, 1e-3, 0.5);
  };
  await run();
  const n = await counted(run);
  opt.dispose();
  tf.dispose([...vars, ...Object.values(grads)]);
  return n;
}

function stepModel(E: number) {
  const { model, opt, batch } = benchModel({
    vocabSize: V,
    seqLen: S,
    batchSize: B,
    dModel: d,
    layers: L,
    heads: Math.max(1, d / 32),
    router: "sbase",
    experts: E,
  });
  const rng = new Rng(3);
  const step = async () => {
    const r = await trainStepAsync(model, opt, batch(), { lr: 1e-3, gradClip: 1, rng });
    if (!Number.isFinite(r.loss)) throw new Error(`E=${E}: loss ${r.loss}`);
  };
  const dispose = () => {
    opt.dispose();
    model.dispose();
  };
  return { step, dispose };
}

/** One training step's counts on the active expert path, after a warm-up step. */
async function stepCounts(E: number): Promise<Counts> {
  const m = stepModel(E);
  try {
    await m.step();
    return await counted(m.step);
  } finally {
    m.dispose();
  }
}

/**
 * Median step time of each expert path: one model, two warm-up steps per path, then --steps
 * rounds that time one step of each path in turn (interleaved, so that a change in the machine's
 * load hits both alike).
 */
async function stepTimes(E: number): Promise<Record<ExpertPath, number>> {
  const m = stepModel(E);
  const times: Record<string, number[]> = {};
  try {
    for (const path of EXPERT_PATHS) {
      setExpertPath(path);
      await m.step();
      await m.step();
      times[path] = [];
    }
    for (let i = 0; i < steps; i++) {
      for (const path of EXPERT_PATHS) {
        setExpertPath(path);
        const t0 = performance.now();
        await m.step();
        times[path].push(performance.now() - t0);
      }
    }
  } finally {
    setExpertPath(undefined);
    m.dispose();
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
  return Object.fromEntries(EXPERT_PATHS.map((p) => [p, +med(times[p]).toFixed(1)])) as Record<
    ExpertPath,
    number
  >;
}

const fmt = (c: Counts, gpu: boolean) =>
  `${String(c.kernels).padStart(6)} kernels` +
  (gpu
    ? `, ${String(c.dispatches).padStart(6)} dispatches, ${
      String(c.uploads).padStart(4)
    } uploads, ` +
      `${c.reads} reads, ${c.buffers} new buffers`
    : "");

for (const backend of backends) {
  const info = await initBackend(backend, {
    quiet: true,
    blas: backend === "wasm" ? blas : "auto",
  });
  const gpu = backend === "webgpu";
  if (!a.json) {
    console.log(
      `${backend}${info.adapter ? ` (${info.adapter})` : ""}${
        info.blas ? `, matMuls on ${info.blas.name}` : ""
      }: d_model ${d}, ${L} layers (1 routed), S-BASE top-1, ${B} x ${S} tokens`,
    );
  }
  for (const E of expertCounts) {
    if (gpu && !a["time-only"]) {
      const o = await optimizerCounts(E);
      if (a.json) console.log(JSON.stringify({ backend, experts: E, optimizer_of_experts: o }));
      else {console.log(
          `  E=${String(E).padEnd(3)} clipping + AdamW of the 2E expert variables: ${fmt(o, gpu)}`,
        );}
    }
    for (const path of a["time-only"] ? [] : EXPERT_PATHS) {
      setExpertPath(path);
      try {
        const block = await blockCounts(E);
        const counts = await stepCounts(E);
        const row = {
          backend,
          adapter: info.adapter,
          experts: E,
          path,
          d_model: d,
          tokens: T,
          block,
          step: counts,
        };
        if (a.json) console.log(JSON.stringify(row));
        else {
          console.log(
            `  E=${String(E).padEnd(3)} ${path.padEnd(10)} block: ${fmt(block, gpu)}\n` +
              `  ${" ".repeat(15)}step:  ${fmt(counts, gpu)}`,
          );
        }
      } finally {
        setExpertPath(undefined);
      }
    }
    if (a.time || a["time-only"]) {
      const ms = await stepTimes(E);
      if (a.json) console.log(JSON.stringify({ backend, experts: E, ms_per_step: ms }));
      else {
        console.log(
          `  E=${String(E).padEnd(3)} step time (median of ${steps}, interleaved): ` +
            EXPERT_PATHS.map((p) => `${p} ${ms[p]} ms`).join(", ") +
            ` (batched/per-expert ${(ms.batched / ms["per-expert"]).toFixed(2)})`,
        );
      }
    }
  }
}
tf.disposeVariables();
Deno.exit(0); // wasm pool threads
