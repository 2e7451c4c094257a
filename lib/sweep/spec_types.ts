/**
 * The sweep's data as plain JSON types: specs, expanded runs and their configs. RunConfig is
 * lib/config's PlainTrainConfig (a TrainConfig with the router given by name), so that a config
 * hashes to a stable run id. Reaches no tensor library, not even for its types, so that
 * lib/sweep/spec.ts names runs without the training stack (test/imports.test.ts checks).
 */

import type { PlainTrainConfig } from "../config/mod.ts";

/** One model size of a sweep. */
export interface SizeSpec {
  dModel: number;
  layers: number;
  heads: number;
  /** Seeds of this size's runs, where they differ from the spec's `seeds`. */
  seeds?: number[];
}

/**
 * Training settings every run of a sweep shares: lib/config's PlainTrainConfig fields, each one
 * explicit (capacityFactor included) so that the run id hashes every setting.
 */
export type SharedTrainSettings = Required<
  Pick<
    PlainTrainConfig,
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

/**
 * The full config of one run, as passed to lib/train's train(); its canonical hash is the run id.
 * Every field of lib/config's PlainTrainConfig (router by name, capacityFactor explicit) but the
 * thread count (sweep runs take the default, one thread) and evalCapacityFactor (sweeps evaluate
 * with no capacity limit; the field, left out, leaves run ids as they were).
 */
export type RunConfig = Required<Omit<PlainTrainConfig, "threads" | "evalCapacityFactor">>;

/** One expanded run: its id, its position in the spec's deterministic order and its config. */
export interface SweepRun {
  runId: string;
  index: number;
  label: string;
  config: RunConfig;
}
