/**
 * Resuming and checkpointing a run. A checkpoint (checkpoint.ts's file) holds every weight and
 * AdamW's moments, and a header with the run's progress (step, curve, losses, tokens, time), its
 * config, AdamW's step count and the states of the routing RNG and the batch sampler: all a run
 * needs to take, after resuming, exactly the steps an uninterrupted run takes.
 */
import * as tf from "@tensorflow/tfjs-core";
import type { BatchSampler, SamplerState } from "../corpus/mod.ts";
import type { NamedVariable } from "../model/mod.ts";
import type { Rng } from "../util/random.ts";
import type { AdamW } from "./adamw.ts";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";

/** One step of a run's curve (val_loss on the steps where an evaluation ran). */
export interface CurvePoint {
  step: number;
  train_loss: number;
  val_loss?: number;
  lr: number;
}

/** What a run carries from step to step (beside the tensors and the RNG states). */
export interface RunProgress {
  /** Steps taken. */
  step: number;
  curve: CurvePoint[];
  trainTokens: number;
  /** Seconds spent in training steps (evaluation and checkpoints excluded). */
  trainSeconds: number;
  lastTrainLoss: number;
  valLoss: number;
  valBySource: Record<string, number>;
}

/** The stateful parts of a run that a checkpoint saves and restores. */
export interface RunParts {
  named: NamedVariable[];
  opt: AdamW;
  routingRng: Rng;
  sampler: BatchSampler;
}

interface CheckpointHeader {
  version: 1;
  step: number;
  config: Omit<TrainConfig, "router"> & { router: string };
  routingRng: number;
  sampler: SamplerState;
  adamT: number;
  curve: CurvePoint[];
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
  "evalCapacityFactor",
  "routerOptions",
];

/** A run's progress before its first step. */
export function freshProgress(): RunProgress {
  return {
    step: 0,
    curve: [],
    trainTokens: 0,
    trainSeconds: 0,
    lastTrainLoss: NaN,
    valLoss: NaN,
    valBySource: {},
  };
}

/**
 * Restores `parts` from the checkpoint in `dir` and returns the progress it holds, or null when
 * `dir` holds none. Throws when the checkpoint was written by another model, batch shape, seed or
 * router (`routerName`: the name TrainResult.router records).
 */
export function resumeRun(
  dir: string,
  config: TrainConfig,
  routerName: string,
  parts: RunParts,
): RunProgress | null {
  const ck = readCheckpoint<CheckpointHeader>(dir);
  if (!ck) return null;
  const h = ck.header;
  for (const f of SHAPE_FIELDS) {
    if (JSON.stringify(h.config[f]) !== JSON.stringify(config[f])) {
      throw new Error(
        `checkpoint in ${dir} was written with ${f} = ${JSON.stringify(h.config[f])}, this run ` +
          `has ${JSON.stringify(config[f])}: use another checkpointDir or the same config`,
      );
    }
  }
  if (h.config.router !== routerName) {
    throw new Error(
      `checkpoint in ${dir} is of router "${h.config.router}", this run is "${routerName}"`,
    );
  }
  const get = (key: string, size: number) => {
    const t = ck.tensors.get(key);
    if (!t || t.data.length !== size) {
      throw new Error(`checkpoint in ${dir} lacks tensor ${key} of size ${size}`);
    }
    return t.data;
  };
  parts.named.forEach(({ name, variable }, i) => {
    const w = get(`param/${name}`, variable.size);
    tf.tidy(() => variable.assign(tf.tensor(w, variable.shape)));
    parts.opt.setMoments(
      i,
      get(`adam_m/${name}`, variable.size),
      get(`adam_v/${name}`, variable.size),
    );
  });
  parts.opt.t = h.adamT;
  parts.routingRng.setState(h.routingRng);
  parts.sampler.setState(h.sampler);
  return {
    step: h.step,
    curve: h.curve,
    trainTokens: h.trainTokens,
    trainSeconds: h.trainSeconds,
    lastTrainLoss: h.lastTrainLoss,
    valLoss: h.valLoss,
    valBySource: h.valBySource,
  };
}

/** Writes the run's checkpoint into `dir` (replacing the previous one atomically). */
export async function saveRun(
  dir: string,
  config: TrainConfig,
  routerName: string,
  parts: RunParts,
  progress: RunProgress,
): Promise<void> {
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  for (const [i, { name, variable }] of parts.named.entries()) {
    const { m, v } = await parts.opt.momentsAsync(i);
    const shape = variable.shape;
    tensors.push({ name: `param/${name}`, shape, data: await variable.data() as Float32Array });
    tensors.push({ name: `adam_m/${name}`, shape, data: m });
    tensors.push({ name: `adam_v/${name}`, shape, data: v });
  }
  const header: CheckpointHeader = {
    version: 1,
    step: progress.step,
    config: { ...config, router: routerName },
    routingRng: parts.routingRng.getState(),
    sampler: parts.sampler.getState(),
    adamT: parts.opt.t,
    curve: progress.curve,
    trainTokens: progress.trainTokens,
    trainSeconds: progress.trainSeconds,
    lastTrainLoss: progress.lastTrainLoss,
    valLoss: progress.valLoss,
    valBySource: progress.valBySource,
  };
  writeCheckpoint(dir, header, tensors);
}
