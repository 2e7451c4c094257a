/**
 * The default run function: lib/train's train() with the run's checkpoint folder, so that an
 * unfinished run resumes from its last checkpoint.
 */
import type { RunConfig, RunContext, RunOutcome } from "./types.ts";

// Loaded by a computed specifier while lib/train is being written; replaced by a static import.
const TRAIN_MODULE = "../train/mod.ts";

export async function trainRunOne(config: RunConfig, ctx: RunContext): Promise<RunOutcome> {
  const mod = await import(TRAIN_MODULE);
  const result = await mod.train({ ...config }, {
    checkpointDir: ctx.checkpointDir,
    checkpointEvery: ctx.checkpointEvery,
    onProgress: ctx.onProgress,
    quiet: true,
  });
  return result as RunOutcome;
}
