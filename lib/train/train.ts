/**
 * train(): one training run of a routed (or dense) transformer LM on the kit's corpus.
 *
 * Every random choice is seeded from config.seed: initialisation (model seed), the batches
 * (sampler seed), RL-R's sampling (routing RNG), HASH maps (router seeds). Checkpoints hold all of
 * that state, so a run resumed from a checkpoint takes exactly the steps an uninterrupted run takes.
 */
import * as tf from "@tensorflow/tfjs-core";
import { type BackendInfo, blasActive, initBackend, sumSquares } from "../backend/mod.ts";
import { BatchSampler, evalBatches, getTokenStreams } from "../corpus/mod.ts";
import { hostView, isHostBackend, type LayerRouting, TransformerLM } from "../model/mod.ts";
import { resolveRouter, type RouterFactory } from "../routers/mod.ts";
import { Rng } from "../util/random.ts";
import { AdamW, learningRate } from "./adamw.ts";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import { checkMemory, resolveConfig, type TrainConfig } from "./config.ts";
import { routedBlocks } from "../counting/mod.ts";

export interface TrainProgress {
  step: number;
  steps: number;
  trainLoss: number;
  tokensPerS: number;
  etaS: number;
  lr: number;
  /** Set on steps where an evaluation ran. */
  valLoss?: number;
  /** Router metrics of this step, per routed layer. */
  routing?: LayerRouting[];
}

export interface RouterLayerMetrics {
  /** Routed layer index and block index. */
  layer: number;
  block: number;
  /** Mean fraction of choices each expert received (before capacity) over the window. */
  load: number[];
  /** Mean fraction of choices dropped for capacity. */
  dropped: number;
  /** Mean router entropy (nats), if the router reports it. */
  entropy?: number;
  /** Mean Sinkhorn iterations (S-BASE). */
  sinkhornIterations?: number;
  /**
   * Mean fraction of tokens whose training choice equals the evaluation (greedy top-1) choice
   * (S-BASE: balanced vs plain top-1; RL-R: sampled vs most likely).
   */
  agreement?: number;
  /** Mean over steps of the busiest expert's share times E (1 = perfectly balanced). */
  maxLoad: number;
  capacity: number;
  /** Training steps averaged. */
  steps: number;
}

export interface TrainResult {
  val_loss: number;
  train_loss: number;
  tokens: number;
  tokens_per_s: number;
  N: number;
  P: number;
  /** Forward FLOPs per token (lib/counting's accounting). */
  F: number;
  backend: string;
  backend_info: BackendInfo;
  router: string;
  experts: number;
  steps: number;
  /** The run diverged (see divergenceReason): not a data point. */
  diverged: boolean;
  /** Why it counts as diverged, when it does. */
  diverged_reason?: string;
  curve: { step: number; train_loss: number; val_loss?: number; lr: number }[];
  /** Per routed layer, averaged over the training steps since the last evaluation. */
  router_metrics: RouterLayerMetrics[];
  val_loss_by_source: Record<string, number>;
  config: TrainConfig;
  wall_s: number;
  /** Step the run resumed from (0 = fresh). */
  resumed_from: number;
  /** Parameters actually held (embeddings, the rest). */
  parameters: { embedding: number; nonEmbedding: number };
}

export interface TrainData {
  train: Int32Array;
  validation: Int32Array;
  validationBySource?: Record<string, Int32Array>;
}

export interface TrainOptions {
  /** Resume from / write checkpoints here. */
  checkpointDir?: string;
  /** Write a checkpoint every this many steps (default: evalEvery, else never mid-run). */
  checkpointEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  quiet?: boolean;
  /** Token streams to use instead of the kit's corpus (ids must be < vocabSize). */
  data?: TrainData;
  /** Stop (with a checkpoint) after this many steps of this call; for tests of resuming. */
  stopAfter?: number;
}

interface CheckpointHeader {
  version: 1;
  step: number;
  config: Omit<TrainConfig, "router"> & { router: string };
  routingRng: number;
  sampler: { seed: number; cursor: number };
  adamT: number;
  curve: TrainResult["curve"];
  trainTokens: number;
  trainSeconds: number;
  lastTrainLoss: number;
  valLoss: number;
  valBySource: Record<string, number>;
}

/** The fields whose change makes a checkpoint unusable. */
const SHAPE_FIELDS: (keyof TrainConfig)[] = [
  "experts",
  "dModel",
  "layers",
  "heads",
  "routingFrequency",
  "k",
  "batchSize",
  "seqLen",
  "vocabSize",
  "seed",
  "capacityFactor",
  "routerOptions",
];

function routerName(r: string | RouterFactory): string {
  return typeof r === "string" ? r.toLowerCase() : (r.routerName ?? (r.name || "custom"));
}

/** Mixes the run seed with a stream label so init, batches and routing draw independent numbers. */
export function subSeed(seed: number, stream: number): number {
  let h = Math.imul((seed | 0) ^ 0x27d4eb2d, 0x165667b1) ^ Math.imul(stream + 1, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  return h >>> 0;
}

class MetricWindow {
  private sums: {
    load: number[];
    maxLoad: number;
    dropped: number;
    /** Sum and count of each numeric router metric (entropy, agreement, ...). */
    metrics: Map<string, { sum: number; n: number }>;
    n: number;
    block: number;
    capacity: number;
  }[] = [];
  add(r: LayerRouting[]): void {
    r.forEach((l, i) => {
      const s = this.sums[i] ??= {
        load: l.load.map(() => 0),
        maxLoad: 0,
        dropped: 0,
        metrics: new Map(),
        n: 0,
        block: l.block,
        capacity: l.capacity,
      };
      l.load.forEach((x, e) => s.load[e] += x);
      s.maxLoad += Math.max(...l.load) * l.load.length;
      s.dropped += l.dropped;
      s.n++;
      s.capacity = l.capacity;
      for (const [key, v] of Object.entries(l.metrics)) {
        // Sinkhorn iterations are 0 at evaluation: average the training passes only.
        if (v === undefined || !Number.isFinite(v) || (key === "sinkhornIterations" && v <= 0)) {
          continue;
        }
        const m = s.metrics.get(key) ?? { sum: 0, n: 0 };
        m.sum += v, m.n++;
        s.metrics.set(key, m);
      }
    });
  }
  summary(): RouterLayerMetrics[] {
    return this.sums.map((s, i) => ({
      layer: i,
      block: s.block,
      load: s.load.map((x) => x / s.n),
      maxLoad: s.maxLoad / s.n,
      dropped: s.dropped / s.n,
      ...Object.fromEntries([...s.metrics].map(([k, m]) => [k, m.sum / m.n])),
      capacity: s.capacity,
      steps: s.n,
    }));
  }
  get size(): number {
    return this.sums.length ? this.sums[0].n : 0;
  }
  reset(): void {
    this.sums = [];
  }
}

/**
 * Why a run counts as diverged, or undefined. More than a NaN: a loss that is not finite, a
 * validation loss more than 1 nat above ln(V), a uniform guess (`--lr 10` ended at 15.1 nats with
 * V = 2048; the margin spares a sane model scored on text it cannot predict, e.g. random tokens,
 * which sits just above ln V), or a final training loss more than 1 nat above the first step's.
 */
export function divergenceReason(
  curve: { step: number; train_loss: number }[],
  valLoss: number,
  vocabSize: number,
): string | undefined {
  const last = curve.at(-1)?.train_loss, first = curve[0]?.train_loss;
  if (last !== undefined && !Number.isFinite(last)) {
    return `training loss ${last} at step ${curve.at(-1)!.step}`;
  }
  if (!Number.isFinite(valLoss)) return `validation loss ${valLoss}`;
  const uniform = Math.log(vocabSize);
  if (valLoss > uniform + 1) {
    return `validation loss ${valLoss.toFixed(3)} more than 1 nat above ln(V) = ` +
      `${uniform.toFixed(3)} (a uniform guess)`;
  }
  if (first !== undefined && last !== undefined && curve.length > 1 && last > first + 1) {
    return `final training loss ${last.toFixed(3)} more than 1 nat above the first step's ` +
      `${first.toFixed(3)}`;
  }
  return undefined;
}

/**
 * The squared global gradient norm: OpenBLAS's sdot over heap views where it runs (one pass, 2
 * threads: 56 -> ~10 ms over 70M parameters), else one tfjs reduction.
 */
function gradNormSquared(grads: tf.Tensor[]): number {
  if (blasActive()) {
    let s = 0;
    for (const g of grads) s += sumSquares(hostView(g));
    return s;
  }
  return tf.tidy(() => tf.addN(grads.map((g) => tf.sum(tf.square(g)))).dataSync()[0]);
}

/**
 * Gradient-norm clipping in two groups: the model (everything the language-model loss trains,
 * routers included) and the auxiliary-only variables (those a router lists in `auxVariables`,
 * e.g. RL-R's baseline head). Each group is clipped to `gradClip` by its own norm, so a large
 * auxiliary gradient (a baseline regressing rewards of ~6 nats) never scales the model's update
 * down. Returns the two scales and norms, or null when a norm is not finite.
 */
function clipScales(
  grads: Record<string, tf.Tensor>,
  aux: Set<string>,
  gradClip: number,
): { scale: number; auxScale: number; norm: number; auxNorm: number } | null {
  const main: tf.Tensor[] = [], side: tf.Tensor[] = [];
  for (const [name, g] of Object.entries(grads)) (aux.has(name) ? side : main).push(g);
  return clipFromNorms(
    Math.sqrt(gradNormSquared(main)),
    side.length ? Math.sqrt(gradNormSquared(side)) : 0,
    gradClip,
  );
}

/** The clip scales of the two groups from their norms (null when a norm is not finite). */
function clipFromNorms(
  norm: number,
  auxNorm: number,
  gradClip: number,
): { scale: number; auxScale: number; norm: number; auxNorm: number } | null {
  if (!Number.isFinite(norm) || !Number.isFinite(auxNorm)) return null;
  const scaleOf = (n: number) => (gradClip > 0 && n > gradClip ? gradClip / n : 1);
  return { scale: scaleOf(norm), auxScale: scaleOf(auxNorm), norm, auxNorm };
}

const auxNamesOf = new WeakMap<TransformerLM, Set<string>>();

/** Names of a model's auxiliary-only variables (clipped as their own group), once per model. */
function auxNames(model: TransformerLM): Set<string> {
  let names = auxNamesOf.get(model);
  if (!names) {
    names = new Set(
      model.namedVariables().filter((n) => n.auxiliary).map((n) => n.variable.name),
    );
    auxNamesOf.set(model, names);
  }
  return names;
}

/**
 * One optimisation step on one batch: forward, backward, gradient-norm clipping (model and
 * auxiliary-only variables apart, see clipScales), AdamW. Returns the LM loss (NaN/Infinity when
 * the step diverged: then nothing is updated), the routing and the gradient norms.
 */
export function trainStep(
  model: TransformerLM,
  opt: AdamW,
  batch: Int32Array,
  o: { lr: number; gradClip: number; rng: Rng; varList?: tf.Variable[] },
): StepResult {
  const varList = o.varList ?? model.namedVariables().map((n) => n.variable);
  let routing: LayerRouting[] = [];
  let norms = { norm: NaN, auxNorm: NaN };
  const loss = tf.tidy(() => {
    let lmLoss: tf.Scalar | null = null;
    const { grads } = tf.variableGrads(() => {
      const out = model.forward(batch, { training: true, rng: o.rng });
      routing = out.routing;
      lmLoss = tf.keep(out.loss);
      return out.objective;
    }, varList);
    const kept = lmLoss as unknown as tf.Scalar;
    const l = kept.dataSync()[0];
    kept.dispose();
    if (!Number.isFinite(l)) return l;
    const c = clipScales(grads, auxNames(model), o.gradClip);
    if (!c) return NaN;
    norms = c;
    opt.apply(grads, o.lr, c.scale, c.auxScale);
    return l;
  });
  return { loss, routing, gradNorm: norms.norm, auxGradNorm: norms.auxNorm };
}

export interface StepResult {
  loss: number;
  routing: LayerRouting[];
  /** Global gradient norm of the model (before clipping). */
  gradNorm: number;
  /** Gradient norm of the auxiliary-only variables (0 when there are none). */
  auxGradNorm: number;
}

/**
 * trainStep on any backend. On wasm/cpu it is trainStep. On backends without synchronous
 * read-back (webgpu) it runs two passes: an untaped forward up to the last routed block that
 * awaits the routers' read-backs and records them (the routing RNG is rewound after it), then the
 * taped forward/backward replaying those decisions (lib/model/readback.ts); the loss and the
 * gradient norm are read back asynchronously after the backward pass, before the update.
 * Same seed and batch: the same decisions, loss and update as a single pass.
 */
export async function trainStepAsync(
  model: TransformerLM,
  opt: AdamW,
  batch: Int32Array,
  o: { lr: number; gradClip: number; rng: Rng; varList?: tf.Variable[] },
): Promise<StepResult> {
  if (isHostBackend()) return trainStep(model, opt, batch, o);
  const aux = auxNames(model);
  const varList = o.varList ?? model.namedVariables().map((n) => n.variable);
  const rngState = o.rng.getState();
  const { reads } = await model.forwardAsync(batch, {
    training: true,
    rng: o.rng,
    routingOnly: true,
  });
  o.rng.setState(rngState);
  let routing: LayerRouting[] = [];
  const { grads, stats } = tf.tidy(() => {
    let lmLoss: tf.Scalar | null = null;
    const { grads } = tf.variableGrads(() => {
      const out = model.forward(batch, { training: true, rng: o.rng, reads });
      routing = out.routing;
      lmLoss = tf.keep(out.loss);
      return out.objective;
    }, varList);
    // Summed pairwise: tfjs-webgpu 4.22's AddN of many inputs exceeds the adapter's storage
    // buffers per shader, and the failed pipeline turns the whole submission's results to 0.
    const sumSq = (gs: tf.Tensor[]) =>
      gs.length
        ? gs.map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)) as tf.Scalar
        : tf.scalar(0);
    const named = Object.entries(grads);
    // the loss and the squared gradient norms of the model and of the auxiliary-only variables
    const stats = [
      lmLoss as unknown as tf.Scalar,
      sumSq(named.filter(([n]) => !aux.has(n)).map(([, g]) => g)),
      sumSq(named.filter(([n]) => aux.has(n)).map(([, g]) => g)),
    ];
    return { grads, stats };
  });
  try {
    const [[l], [sq], [auxSq]] = await Promise.all(stats.map((t) => t.data()));
    const failed = { routing, gradNorm: NaN, auxGradNorm: NaN };
    if (!Number.isFinite(l)) return { loss: l, ...failed };
    const c = clipFromNorms(Math.sqrt(sq), Math.sqrt(auxSq), o.gradClip);
    if (!c) return { loss: NaN, ...failed };
    opt.apply(grads, o.lr, c.scale, c.auxScale);
    return { loss: l, routing, gradNorm: c.norm, auxGradNorm: c.auxNorm };
  } finally {
    tf.dispose(stats);
    tf.dispose(Object.values(grads));
  }
}

/** Mean cross-entropy over the given evaluation batches (no routing randomness). */
export function evaluate(model: TransformerLM, batches: Int32Array[]): number {
  let sum = 0, n = 0;
  const rng = new Rng(0); // unused in evaluation (routers route deterministically)
  for (const b of batches) {
    const s = tf.tidy(() => {
      const out = model.forward(b, { training: false, rng });
      return tf.sum(out.tokenLoss).dataSync()[0];
    });
    sum += s;
    n += (b.length / (model.config.seqLen + 1)) * model.config.seqLen;
  }
  return sum / n;
}

/** evaluate on any backend (read-backs awaited; on wasm/cpu the same numbers as evaluate). */
export async function evaluateAsync(model: TransformerLM, batches: Int32Array[]): Promise<number> {
  if (isHostBackend()) return evaluate(model, batches);
  let sum = 0, n = 0;
  const rng = new Rng(0);
  for (const b of batches) {
    const { value } = await model.forwardAsync(
      b,
      { training: false, rng },
      async (out) => (await tf.sum(out.tokenLoss).data())[0],
    );
    sum += value!;
    n += (b.length / (model.config.seqLen + 1)) * model.config.seqLen;
  }
  return sum / n;
}

export async function train(
  partial: Partial<TrainConfig>,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const config = resolveConfig(partial);
  const factory = resolveRouter(config.router);
  const backendInfo = await initBackend(config.backend, {
    threads: config.threads,
    blas: config.blas,
    quiet: opts.quiet,
  });
  const backend = backendInfo.name;
  const capacityFactor = config.capacityFactor ?? factory.defaultCapacityFactor ?? 2;
  const isDense = factory.countingLabel === "Dense";
  checkMemory(
    config,
    isDense ? 0 : routedBlocks(config.layers, config.routingFrequency).length,
    backend,
  );

  const data: TrainData = opts.data ?? await getTokenStreams({ vocabSize: config.vocabSize });
  for (const [name, s] of [["train", data.train], ["validation", data.validation]] as const) {
    if (s.length < config.seqLen + 1) {
      throw new Error(`${name} stream has ${s.length} tokens, fewer than seqLen + 1; lower seqLen`);
    }
  }
  const t0 = performance.now();
  const model = new TransformerLM({
    vocabSize: config.vocabSize,
    seqLen: config.seqLen,
    dModel: config.dModel,
    layers: config.layers,
    heads: config.heads,
    experts: config.experts,
    routingFrequency: config.routingFrequency,
    k: config.k,
    capacityFactor,
    router: factory,
    routerOptions: config.routerOptions,
    seed: subSeed(config.seed, 0),
  });
  const named = model.namedVariables();
  const opt = new AdamW(named, {
    beta1: config.beta1,
    beta2: config.beta2,
    eps: 1e-8,
    weightDecay: config.weightDecay,
  });
  const sampler = new BatchSampler(data.train, {
    batchSize: config.batchSize,
    seqLen: config.seqLen,
    seed: subSeed(config.seed, 1),
  });
  const routingRng = new Rng(subSeed(config.seed, 2));
  const evalSets = {
    all: evalBatches(data.validation, {
      batchSize: config.batchSize,
      seqLen: config.seqLen,
      maxBatches: config.evalBatches,
    }),
    bySource: Object.fromEntries(
      Object.entries(data.validationBySource ?? {})
        .filter(([, s]) => s.length >= config.seqLen + 1)
        .map(([k, s]) => [
          k,
          evalBatches(s, {
            batchSize: config.batchSize,
            seqLen: config.seqLen,
            maxBatches: config.evalBatches,
          }),
        ]),
    ),
  };

  const name = routerName(config.router);
  const headerConfig = { ...config, router: name };
  let step = 0, trainTokens = 0, trainSeconds = 0, lastTrainLoss = NaN, valLoss = NaN;
  let valBySource: Record<string, number> = {};
  let curve: TrainResult["curve"] = [];
  let resumedFrom = 0;

  // Resume.
  if (opts.checkpointDir) {
    const ck = readCheckpoint<CheckpointHeader>(opts.checkpointDir);
    if (ck) {
      const h = ck.header;
      for (const f of SHAPE_FIELDS) {
        if (JSON.stringify(h.config[f]) !== JSON.stringify(config[f])) {
          throw new Error(
            `checkpoint in ${opts.checkpointDir} was written with ${f} = ${
              JSON.stringify(h.config[f])
            }, this run has ${
              JSON.stringify(config[f])
            }: use another checkpointDir or the same config`,
          );
        }
      }
      if (h.config.router !== name) {
        throw new Error(
          `checkpoint in ${opts.checkpointDir} is of router "${h.config.router}", this run is "${name}"`,
        );
      }
      const get = (key: string, size: number) => {
        const t = ck.tensors.get(key);
        if (!t || t.data.length !== size) {
          throw new Error(
            `checkpoint in ${opts.checkpointDir} lacks tensor ${key} of size ${size}`,
          );
        }
        return t.data;
      };
      named.forEach(({ name: n, variable }, i) => {
        const w = get(`param/${n}`, variable.size);
        tf.tidy(() => variable.assign(tf.tensor(w, variable.shape)));
        opt.setMoments(i, get(`adam_m/${n}`, variable.size), get(`adam_v/${n}`, variable.size));
      });
      opt.t = h.adamT;
      routingRng.setState(h.routingRng);
      sampler.setState(h.sampler);
      step = resumedFrom = h.step;
      curve = h.curve;
      trainTokens = h.trainTokens;
      trainSeconds = h.trainSeconds;
      lastTrainLoss = h.lastTrainLoss;
      valLoss = h.valLoss;
      valBySource = h.valBySource;
    }
  }
  const checkpointEvery = opts.checkpointEvery ?? config.evalEvery;
  const saveCheckpoint = async () => {
    if (!opts.checkpointDir) return;
    const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const [i, { name: n, variable }] of named.entries()) {
      const { m, v } = await opt.momentsAsync(i);
      const shape = variable.shape;
      tensors.push({ name: `param/${n}`, shape, data: await variable.data() as Float32Array });
      tensors.push({ name: `adam_m/${n}`, shape, data: m });
      tensors.push({ name: `adam_v/${n}`, shape, data: v });
    }
    const header: CheckpointHeader = {
      version: 1,
      step,
      config: headerConfig,
      routingRng: routingRng.getState(),
      sampler: sampler.getState(),
      adamT: opt.t,
      curve,
      trainTokens,
      trainSeconds,
      lastTrainLoss,
      valLoss,
      valBySource,
    };
    writeCheckpoint(opts.checkpointDir, header, tensors);
  };

  const runEval = async () => {
    valLoss = await evaluateAsync(model, evalSets.all);
    valBySource = {};
    for (const [k, b] of Object.entries(evalSets.bySource)) {
      valBySource[k] = await evaluateAsync(model, b);
    }
  };

  const window = new MetricWindow();
  let lastRouterMetrics: RouterLayerMetrics[] = [];
  let diverged = false;
  const tokensPerStep = config.batchSize * config.seqLen;
  const varList = named.map((n) => n.variable);
  let stepsThisCall = 0;
  while (step < config.steps) {
    const batch = sampler.next();
    const lr = learningRate(step + 1, config);
    const ts = performance.now();
    const { loss, routing } = await trainStepAsync(model, opt, batch, {
      lr,
      gradClip: config.gradClip,
      rng: routingRng,
      varList,
    });
    step++;
    stepsThisCall++;
    trainSeconds += (performance.now() - ts) / 1000;
    if (!Number.isFinite(loss)) {
      diverged = true;
      lastTrainLoss = loss;
      curve.push({ step, train_loss: loss, lr });
      break;
    }
    trainTokens += tokensPerStep;
    lastTrainLoss = loss;
    window.add(routing);
    const isEval = step === config.steps || (config.evalEvery > 0 && step % config.evalEvery === 0);
    if (isEval) {
      await runEval();
      lastRouterMetrics = window.summary();
      window.reset();
    }
    curve.push({ step, train_loss: loss, lr, ...(isEval ? { val_loss: valLoss } : {}) });
    const tps = trainTokens / Math.max(1e-9, trainSeconds);
    opts.onProgress?.({
      step,
      steps: config.steps,
      trainLoss: loss,
      tokensPerS: tps,
      etaS: ((config.steps - step) * tokensPerStep) / tps,
      lr,
      ...(isEval ? { valLoss } : {}),
      routing,
    });
    const stopNow = opts.stopAfter !== undefined && stepsThisCall >= opts.stopAfter;
    if ((checkpointEvery > 0 && step % checkpointEvery === 0) || step === config.steps || stopNow) {
      await saveCheckpoint();
    }
    if (stopNow) break;
  }
  if (window.size > 0) lastRouterMetrics = window.summary();
  if (!diverged && Number.isNaN(valLoss)) await runEval();
  const divergedReason = divergenceReason(curve, valLoss, config.vocabSize);
  const counts = model.counts();
  const result: TrainResult = {
    val_loss: valLoss,
    train_loss: lastTrainLoss,
    tokens: trainTokens,
    tokens_per_s: trainTokens / Math.max(1e-9, trainSeconds),
    N: counts.N,
    P: counts.P,
    F: counts.F,
    backend,
    backend_info: backendInfo,
    router: name,
    experts: config.experts,
    steps: step,
    diverged: divergedReason !== undefined,
    ...(divergedReason ? { diverged_reason: divergedReason } : {}),
    curve,
    router_metrics: lastRouterMetrics,
    val_loss_by_source: valBySource,
    config,
    wall_s: (performance.now() - t0) / 1000,
    resumed_from: resumedFrom,
    parameters: model.parameterCounts(),
  };
  opt.dispose();
  model.dispose();
  return result;
}
