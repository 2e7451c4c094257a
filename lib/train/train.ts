/**
 * train(): one training run of a routed (or dense) transformer LM on the kit's corpus.
 *
 * Every random choice is seeded from config.seed: initialisation (model seed), the batches
 * (sampler seed), RL-R's sampling (routing RNG), HASH maps (router seeds). Checkpoints hold all of
 * that state (resume.ts), so a run resumed from a checkpoint takes exactly the steps an
 * uninterrupted run takes. One step is step.ts's; router metrics are averaged by metrics.ts.
 */
import { type BackendInfo, checkWebgpuMemory, initBackend } from "../backend/mod.ts";
import { BatchSampler, evalBatches, getTokenStreams } from "../corpus/mod.ts";
import { routedBlocks } from "../counting/mod.ts";
import { type LayerRouting, TransformerLM } from "../model/mod.ts";
import { isDenseRouter, resolveRouter, type RouterFactory } from "../routers/mod.ts";
import { Rng } from "../util/random.ts";
import { AdamW, learningRate } from "./adamw.ts";
import { checkMemory, resolveConfig, type TrainConfig } from "./config.ts";
import { MetricWindow, type RouterLayerMetrics } from "./metrics.ts";
import { type CurvePoint, freshProgress, resumeRun, type RunParts, saveRun } from "./resume.ts";
import { evaluateAsync, trainStepAsync } from "./step.ts";

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
  /**
   * The router: for a name, the name as the config gives it, lower-cased ("sbase", "s-base" for
   * "S-Base"); for a factory, its id. Checkpoints record it too, so it is kept as it always was.
   */
  router: string;
  experts: number;
  steps: number;
  /** The run diverged (see divergenceReason): not a data point. */
  diverged: boolean;
  /** Why it counts as diverged, when it does. */
  diverged_reason?: string;
  curve: CurvePoint[];
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
  /**
   * webgpu: the GPU memory (GiB) the run may use in the memory check; default env
   * ROUTING_GPU_MEMORY_GIB, else nvidia-smi's total, else half the RAM.
   */
  gpuMemoryGiB?: number;
}

/** TrainResult.router of a config's router (see there). */
function resultRouterName(r: string | RouterFactory): string {
  return typeof r === "string" ? r.toLowerCase() : r.id;
}

/** Mixes the run seed with a stream label so init, batches and routing draw independent numbers. */
export function subSeed(seed: number, stream: number): number {
  let h = Math.imul((seed | 0) ^ 0x27d4eb2d, 0x165667b1) ^ Math.imul(stream + 1, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  return h >>> 0;
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

/** The evaluation batches: the whole validation split, and each source long enough for a window. */
function evaluationSets(
  data: TrainData,
  c: TrainConfig,
): { all: Int32Array[]; bySource: Record<string, Int32Array[]> } {
  const batches = (s: Int32Array) =>
    evalBatches(s, { batchSize: c.batchSize, seqLen: c.seqLen, maxBatches: c.evalBatches });
  return {
    all: batches(data.validation),
    bySource: Object.fromEntries(
      Object.entries(data.validationBySource ?? {})
        .filter(([, s]) => s.length >= c.seqLen + 1)
        .map(([k, s]) => [k, batches(s)]),
    ),
  };
}

/** The model, optimiser, batch sampler and routing RNG of a fresh run, each from its own seed. */
function setUpRun(
  config: TrainConfig,
  factory: RouterFactory,
  train: Int32Array,
): RunParts & { model: TransformerLM } {
  const model = new TransformerLM({
    vocabSize: config.vocabSize,
    seqLen: config.seqLen,
    dModel: config.dModel,
    layers: config.layers,
    heads: config.heads,
    experts: config.experts,
    routingFrequency: config.routingFrequency,
    k: config.k,
    capacityFactor: config.capacityFactor ?? factory.defaultCapacityFactor,
    evalCapacityFactor: config.evalCapacityFactor,
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
  const sampler = new BatchSampler(train, {
    batchSize: config.batchSize,
    seqLen: config.seqLen,
    seed: subSeed(config.seed, 1),
  });
  return { model, named, opt, sampler, routingRng: new Rng(subSeed(config.seed, 2)) };
}

/**
 * Trains one model on `partial` (completed by DEFAULT_CONFIG and checked): resumes from the
 * checkpoint in opts.checkpointDir when there is one and writes checkpoints there, evaluates every
 * config.evalEvery steps and at the end, and stops early when a step diverges.
 */
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
  const nRouted = isDenseRouter(factory)
    ? 0
    : routedBlocks(config.layers, config.routingFrequency).length;
  checkMemory(config, nRouted, backend);
  await checkWebgpuMemory({ ...config, routedBlocks: nRouted }, backendInfo, {
    gpuMemoryGiB: opts.gpuMemoryGiB,
  });
  const data: TrainData = opts.data ?? await getTokenStreams({ vocabSize: config.vocabSize });
  for (const [name, s] of [["train", data.train], ["validation", data.validation]] as const) {
    if (s.length < config.seqLen + 1) {
      throw new Error(`${name} stream has ${s.length} tokens, fewer than seqLen + 1; lower seqLen`);
    }
  }
  const t0 = performance.now();
  const run = setUpRun(config, factory, data.train);
  const { model, opt, sampler, routingRng } = run;
  const evalSets = evaluationSets(data, config);
  const name = resultRouterName(config.router);
  const dir = opts.checkpointDir;
  const resumed = dir ? resumeRun(dir, config, name, run) : null;
  const p = resumed ?? freshProgress();
  const resumedFrom = p.step;
  const checkpointEvery = opts.checkpointEvery ?? config.evalEvery;

  const runEval = async () => {
    p.valLoss = await evaluateAsync(model, evalSets.all);
    p.valBySource = {};
    for (const [k, b] of Object.entries(evalSets.bySource)) {
      p.valBySource[k] = await evaluateAsync(model, b);
    }
  };

  const window = new MetricWindow();
  let lastRouterMetrics: RouterLayerMetrics[] = [];
  const tokensPerStep = config.batchSize * config.seqLen;
  const varList = run.named.map((n) => n.variable);
  let stepsThisCall = 0, diverged = false;
  while (p.step < config.steps) {
    const batch = sampler.next(); // [B * (S + 1)] token windows
    const lr = learningRate(p.step + 1, config);
    const ts = performance.now();
    const { loss, routing } = await trainStepAsync(model, opt, batch, {
      lr,
      gradClip: config.gradClip,
      rng: routingRng,
      varList,
    });
    const step = ++p.step;
    stepsThisCall++;
    p.trainSeconds += (performance.now() - ts) / 1000;
    p.lastTrainLoss = loss;
    if (!Number.isFinite(loss)) {
      diverged = true;
      p.curve.push({ step, train_loss: loss, lr });
      break;
    }
    p.trainTokens += tokensPerStep;
    window.add(routing);
    const isEval = step === config.steps || (config.evalEvery > 0 && step % config.evalEvery === 0);
    if (isEval) {
      await runEval();
      lastRouterMetrics = window.summary();
      window.reset();
    }
    p.curve.push({ step, train_loss: loss, lr, ...(isEval ? { val_loss: p.valLoss } : {}) });
    const tps = p.trainTokens / Math.max(1e-9, p.trainSeconds);
    opts.onProgress?.({
      step,
      steps: config.steps,
      trainLoss: loss,
      tokensPerS: tps,
      etaS: ((config.steps - step) * tokensPerStep) / tps,
      lr,
      ...(isEval ? { valLoss: p.valLoss } : {}),
      routing,
    });
    const stopNow = opts.stopAfter !== undefined && stepsThisCall >= opts.stopAfter;
    if ((checkpointEvery > 0 && step % checkpointEvery === 0) || step === config.steps || stopNow) {
      if (dir) await saveRun(dir, config, name, run, p);
    }
    if (stopNow) break;
  }
  if (window.size > 0) lastRouterMetrics = window.summary();
  if (!diverged && Number.isNaN(p.valLoss)) await runEval();
  const divergedReason = divergenceReason(p.curve, p.valLoss, config.vocabSize);
  const counts = model.counts();
  const result: TrainResult = {
    val_loss: p.valLoss,
    train_loss: p.lastTrainLoss,
    tokens: p.trainTokens,
    tokens_per_s: p.trainTokens / Math.max(1e-9, p.trainSeconds),
    N: counts.N,
    P: counts.P,
    F: counts.F,
    backend,
    backend_info: backendInfo,
    router: name,
    experts: config.experts,
    steps: p.step,
    diverged: divergedReason !== undefined,
    ...(divergedReason ? { diverged_reason: divergedReason } : {}),
    curve: p.curve,
    router_metrics: lastRouterMetrics,
    val_loss_by_source: p.valBySource,
    config,
    wall_s: (performance.now() - t0) / 1000,
    resumed_from: resumedFrom,
    parameters: model.parameterCounts(),
  };
  opt.dispose();
  model.dispose();
  return result;
}
