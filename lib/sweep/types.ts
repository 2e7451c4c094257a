/**
 * Types shared by the sweep modules. RunConfig is lib/train's TrainConfig with the
 * router given by name, so that a config is plain JSON and hashes to a stable run id.
 */

import type { TrainConfig } from "../train/mod.ts";

/** One model size of a sweep. */
export interface SizeSpec {
  dModel: number;
  layers: number;
  heads: number;
}

/**
 * Training settings every run of a sweep shares: lib/train's TrainConfig fields, each one explicit
 * (capacityFactor included) so that the run id hashes every setting.
 */
export type SharedTrainSettings = Required<
  Pick<
    TrainConfig,
    | "batchSize"
    | "seqLen"
    | "lr"
    | "lrMinRatio"
    | "warmupSteps"
    | "weightDecay"
    | "beta1"
    | "beta2"
    | "gradClip"
    | "vocabSize"
    | "capacityFactor"
    | "backend"
    | "blas"
    | "evalEvery"
    | "evalBatches"
  >
>;

/** Token budget of every run: a step count, or a token count (steps = ceil(tokens / tokens a step)). */
export type Budget = { steps: number } | { tokens: number };

/** A sweep: routers x sizes x E x R x k x seeds at one token budget. E = 1 is the dense baseline. */
export interface SweepSpec {
  name: string;
  /** Routed techniques, e.g. "S-Base", "RL-R", "Hash" (dense comes from E = 1 in `experts`). */
  routers: string[];
  sizes: SizeSpec[];
  /** Expert counts; 1 adds one dense run per size and seed, shared by all routers. */
  experts: number[];
  /** Fractions R of blocks that are routed, in (0, 1]. */
  routingFrequency: number[];
  k: number[];
  seeds: number[];
  budget: Budget;
  train: SharedTrainSettings;
  /** Options per router name (e.g. {"RL-R": {"policyWeight": 0.01}}), passed to train(). */
  routerOptions: Record<string, Record<string, unknown>>;
  /** Steps between checkpoints (not part of the run id: resuming must not change results). */
  checkpointEvery: number;
}

/** What a spec may leave out: everything except name, routers, sizes, experts, budget. */
export type SweepSpecInput =
  & Pick<SweepSpec, "name" | "routers" | "sizes" | "experts" | "budget">
  & Partial<
    Omit<SweepSpec, "name" | "routers" | "sizes" | "experts" | "budget" | "train">
  >
  & { train?: Partial<SharedTrainSettings> };

/** The full config of one run, as passed to lib/train's train(); its canonical hash is the run id. */
export interface RunConfig extends SharedTrainSettings {
  /** Router name as lib/routers resolves it ("Dense", "S-Base", "RL-R", "Hash", ...). */
  router: string;
  routerOptions: Record<string, unknown>;
  experts: number;
  dModel: number;
  layers: number;
  heads: number;
  routingFrequency: number;
  k: number;
  steps: number;
  seed: number;
}

/** One expanded run: its id, its position in the spec's deterministic order and its config. */
export interface SweepRun {
  runId: string;
  index: number;
  label: string;
  config: RunConfig;
}

/** Progress of one training run (lib/train's onProgress payload). */
export interface TrainProgress {
  step: number;
  steps: number;
  trainLoss: number;
  tokensPerS?: number;
  etaS?: number;
}

/** What the engine gives a run function. */
export interface RunContext {
  runId: string;
  index: number;
  /** Folder for this run's checkpoints; a run function must resume from it when it holds one. */
  checkpointDir: string;
  checkpointEvery: number;
  onProgress: (p: TrainProgress) => void;
}

/** The part of lib/train's TrainResult the sweep records. */
export interface RunOutcome {
  val_loss: number;
  train_loss: number;
  N: number;
  P: number;
  F: number;
  diverged: boolean;
  curve: { step: number; train_loss: number; val_loss?: number | null }[];
  router_metrics?: Record<string, unknown>[];
  val_loss_by_source?: Record<string, number>;
  tokens?: number;
  tokens_per_s?: number;
  backend?: string | { name: string };
  wall_s?: number;
}

/** Trains one run (default: lib/train's train). Must resume from ctx.checkpointDir. */
export type RunOne = (config: RunConfig, ctx: RunContext) => Promise<RunOutcome>;
