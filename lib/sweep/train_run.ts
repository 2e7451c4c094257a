/**
 * The default run function: lib/train's train() with the run's checkpoint folder, so that an
 * unfinished run resumes from its last checkpoint.
 */
import { train, type TrainConfig } from "../train/mod.ts";
import type { RouterFactory } from "../routers/mod.ts";
import type { RunConfig, RunContext, RunOne, RunOutcome } from "./types.ts";

export interface TrainRunnerOptions {
  /**
   * Routers of your own by name: a run whose config names one trains with its factory (the name,
   * not the function, goes into the run id, so keep names unique per router definition).
   */
  routerFactories?: Record<string, RouterFactory>;
}

/** A RunOne over lib/train's train(). */
export function trainRunner(opts: TrainRunnerOptions = {}): RunOne {
  return async (config: RunConfig, ctx: RunContext): Promise<RunOutcome> => {
    const router = opts.routerFactories?.[config.router] ?? config.router;
    const result = await train({ ...config, router } as Partial<TrainConfig>, {
      checkpointDir: ctx.checkpointDir,
      checkpointEvery: ctx.checkpointEvery,
      onProgress: ctx.onProgress,
      quiet: true,
    });
    return {
      ...result,
      router_metrics: result.router_metrics as unknown as Record<string, unknown>[],
    };
  };
}

export const trainRunOne: RunOne = trainRunner();
