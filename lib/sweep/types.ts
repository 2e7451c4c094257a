/**
 * Types shared by the sweep modules: the run function's (progress, context, outcome), and the
 * plain data types of ./spec_types.ts re-exported. The run function's types take lib/train's
 * TrainProgress as a type only, so that lib/sweep still loads without the training stack.
 */

import type { TrainProgress } from "../train/mod.ts";
import type { RunConfig } from "./spec_types.ts";

export type {
  Budget,
  RunConfig,
  SharedTrainSettings,
  SizeSpec,
  SweepRun,
  SweepSpec,
  SweepSpecInput,
} from "./spec_types.ts";

/**
 * What a run function reports after each step: the part of lib/train's TrainProgress the sweep
 * reads (train()'s own payload is one), rate and time left optional for run functions of your own.
 */
export type RunProgress =
  & Pick<TrainProgress, "step" | "steps" | "trainLoss">
  & Partial<Pick<TrainProgress, "tokensPerS" | "etaS">>;

/** What the engine gives a run function. */
export interface RunContext {
  runId: string;
  index: number;
  /** Folder for this run's checkpoints; a run function must resume from it when it holds one. */
  checkpointDir: string;
  checkpointEvery: number;
  onProgress: (p: RunProgress) => void;
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
  /** The backend's device: for webgpu, the adapter's label and whether it is software. */
  backend_info?: { adapter?: string; software?: boolean };
  wall_s?: number;
}

/** Trains one run (default: lib/train's train). Must resume from ctx.checkpointDir. */
export type RunOne = (config: RunConfig, ctx: RunContext) => Promise<RunOutcome>;
