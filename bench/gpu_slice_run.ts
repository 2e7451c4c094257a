/**
 * The sweep's run function for scripts/gpu-check.sh's slice of the gpu preset
 * (`deno task sweep --run-module bench/gpu_slice_run.ts ...`): lib/train's train(), as the sweep
 * runs by default (same results, same run ids), that also appends one JSON line a step to
 * $GPU_CHECK_PROGRESS: run label, step, tokens/s so far, loss, and the adapter of the run.
 */
import { appendFileSync } from "node:fs";
import process from "node:process";
import { type RunOne, trainRunner } from "../lib/sweep/mod.ts";

const train = trainRunner();
const file = process.env.GPU_CHECK_PROGRESS;

export const runOne: RunOne = async (config, ctx) => {
  const t0 = performance.now();
  const write = (o: Record<string, unknown>) => {
    if (file) appendFileSync(file, JSON.stringify({ run: ctx.runId, ...o }) + "\n");
  };
  write({ event: "start", config, t: 0 });
  const out = await train(config, {
    ...ctx,
    onProgress: (p) => {
      ctx.onProgress(p);
      write({
        event: "step",
        step: p.step,
        steps: p.steps,
        tokens_per_s: p.tokensPerS,
        train_loss: p.trainLoss,
        t: (performance.now() - t0) / 1000,
      });
    },
  });
  const info = (out as { backend_info?: { adapter?: string; software?: boolean } }).backend_info;
  write({
    event: "end",
    val_loss: out.val_loss,
    tokens_per_s: out.tokens_per_s,
    adapter: info?.adapter ?? null,
    software: info?.software ?? null,
    t: (performance.now() - t0) / 1000,
  });
  return out;
};
