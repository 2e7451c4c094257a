/**
 * The sweep engine: runs the runs of one shard, skipping finished ones, resuming unfinished ones
 * from their checkpoints, one lock per run so that concurrent processes never train the same run.
 */
import { canonicalJson, runIdOf } from "../identity/mod.ts";
import { tryLock } from "./lock.ts";
import { type Shard, shardItems } from "./shard.ts";
import { expandSpec, validateSpec } from "./spec.ts";
import { claimSweepFolder } from "./folder_spec.ts";
import {
  checkpointDirOf,
  cleanTemp,
  commitRun,
  lockPathOf,
  moveAside,
  runsDir,
  runState,
} from "./store.ts";
import type {
  RunConfig,
  RunOne,
  RunOutcome,
  SweepRun,
  SweepSpec,
  SweepSpecInput,
} from "./types.ts";

/** Progress over the whole sweep (this shard). */
export interface SweepProgress {
  event: "start" | "run-start" | "step" | "run-end" | "end";
  /** Runs in this shard. */
  total: number;
  /** Runs of this shard with a result on disk (finished now or before). */
  done: number;
  /** Of `done`, found finished when the sweep started or by another process. */
  skipped: number;
  diverged: number;
  failed: number;
  /** Runs another live process holds the lock of. */
  busyElsewhere: number;
  current?: { runId: string; label: string; index: number; step: number; steps: number };
  elapsedS: number;
  /** Estimated seconds left for this shard; null until a run has made progress. */
  etaS: number | null;
}

export interface SweepOptions {
  /** Sweep folder (shared storage for all shards). */
  out: string;
  shard?: Shard;
  /** Trains one run; default lib/train's train. */
  runOne?: RunOne;
  onProgress?: (p: SweepProgress) => void;
  /** Log lines (default: console.error). */
  log?: (line: string) => void;
  /** Seconds without a heartbeat after which another host's lock is stale (default 600). */
  lockStaleS?: number;
  /** Overrides the spec's checkpointEvery. */
  checkpointEvery?: number;
  /** Run into a folder that belongs to another spec (see folder_spec.ts); default refuse. */
  allowOtherSpec?: boolean;
  /** How the user gives another folder, named when the folder is refused (default "--out DIR"). */
  folderFlag?: string;
}

export interface SweepSummary {
  total: number;
  ran: string[];
  skipped: string[];
  diverged: string[];
  failed: { runId: string; label: string; error: string }[];
  busyElsewhere: string[];
  /** Runs whose result did not read back: their folder was moved aside and the run retrained. */
  damaged: string[];
  wallS: number;
}

/** Rough relative cost of a run (multiply-adds a token x steps), for the ETA only. */
export function runCost(c: RunConfig): number {
  const perToken = c.layers * (12 * c.dModel * c.dModel + 2 * c.seqLen * c.dModel) +
    2 * c.vocabSize * c.dModel;
  // Routed layers cost a little more per expert (per-expert ops, optimiser state).
  const routedOverhead = c.experts > 1 ? 1 + 0.05 * c.experts * c.routingFrequency : 1;
  return c.steps * c.batchSize * c.seqLen * perToken * routedOverhead;
}

let defaultRunOne: RunOne | undefined;

/**
 * lib/train's train, loaded on first use: this module loads without the training stack, though
 * lib/sweep/mod.ts loads it for trainRunner. Naming runs (spec.ts) never does
 * (test/imports.test.ts).
 */
async function loadDefaultRunOne(): Promise<RunOne> {
  if (defaultRunOne) return defaultRunOne;
  const { trainRunOne } = await import("./train_run.ts");
  defaultRunOne = trainRunOne;
  return defaultRunOne;
}

async function writeSpecRecord(out: string, spec: SweepSpec): Promise<void> {
  const dir = `${out}/specs`;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${spec.name}-${runIdOf(spec)}.json`;
  try {
    await Deno.stat(path);
    return;
  } catch { /* write it */ }
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, JSON.stringify(JSON.parse(canonicalJson(spec)), null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/**
 * Runs the spec's runs of this shard into `opts.out`. Finished runs are skipped, unfinished ones
 * resume from DIR/checkpoints/<run_id>. A run that throws is reported in `failed` (nothing is
 * written for it, so a rerun retries it); the other runs go on.
 */
export async function runSweep(
  specInput: SweepSpec | SweepSpecInput,
  opts: SweepOptions,
): Promise<SweepSummary> {
  const spec = validateSpec(specInput);
  const shard = opts.shard ?? { index: 0, count: 1, source: "single process" };
  const log = opts.log ?? ((line: string) => console.error(line));
  const runs = shardItems(expandSpec(spec), shard);
  const out = opts.out;
  // Before anything is written: a folder of another spec is refused untouched.
  await claimSweepFolder(out, spec, {
    allowOtherSpec: opts.allowOtherSpec,
    folderFlag: opts.folderFlag,
    log,
  });
  await Deno.mkdir(runsDir(out), { recursive: true });
  await Deno.mkdir(`${out}/locks`, { recursive: true });
  await Deno.mkdir(`${out}/checkpoints`, { recursive: true });
  await writeSpecRecord(out, spec);
  await cleanTemp(out);
  const runOne = opts.runOne ?? await loadDefaultRunOne();
  const checkpointEvery = opts.checkpointEvery ?? spec.checkpointEvery;

  const t0 = performance.now();
  const summary: SweepSummary = {
    total: runs.length,
    ran: [],
    skipped: [],
    diverged: [],
    failed: [],
    busyElsewhere: [],
    damaged: [],
    wallS: 0,
  };
  const remaining = new Map(runs.map((r) => [r.runId, runCost(r.config)]));
  let costDone = 0; // cost units computed by this process
  let computeS = 0; // seconds this process spent computing them
  const progress = (event: SweepProgress["event"], current?: SweepProgress["current"]) => {
    if (!opts.onProgress) return;
    const elapsedS = (performance.now() - t0) / 1000;
    let etaS: number | null = null;
    if (costDone > 0) {
      let left = 0;
      for (const c of remaining.values()) left += c;
      etaS = (left * computeS) / costDone;
    } else if (remaining.size === 0) etaS = 0;
    opts.onProgress({
      event,
      total: runs.length,
      done: summary.ran.length + summary.skipped.length,
      skipped: summary.skipped.length,
      diverged: summary.diverged.length,
      failed: summary.failed.length,
      busyElsewhere: summary.busyElsewhere.length,
      current: current && { ...current },
      elapsedS,
      etaS,
    });
  };

  const skip = async (run: SweepRun) => {
    summary.skipped.push(run.runId);
    remaining.delete(run.runId);
    await Deno.remove(checkpointDirOf(out, run.runId), { recursive: true }).catch(() => {});
  };

  log(
    `[sweep] ${spec.name}: ${runs.length} runs in shard ${shard.index}/${shard.count} ` +
      `(${shard.source}) -> ${out}`,
  );
  progress("start");
  for (const run of runs) {
    // Done only when its result reads back: a truncated file would otherwise surface at merge.
    if (runState(out, run.runId) === "done") {
      await skip(run);
      continue;
    }
    const got = tryLock(lockPathOf(out, run.runId), { staleS: opts.lockStaleS });
    if ("heldBy" in got) {
      const who = got.heldBy ? `pid ${got.heldBy.pid} on ${got.heldBy.host}` : "another process";
      log(`[sweep] ${run.label} (${run.runId}) is being trained by ${who}: leaving it`);
      summary.busyElsewhere.push(run.runId);
      remaining.delete(run.runId);
      continue;
    }
    const lock = got.lock;
    try {
      const state = runState(out, run.runId);
      if (state === "done") {
        await skip(run); // finished by another process between the check and the lock
        continue;
      }
      if (state !== "absent") {
        const aside = await moveAside(out, run.runId);
        summary.damaged.push(run.runId);
        log(
          `[sweep] ${run.label} (${run.runId}): its finished run is damaged: ${state.damaged}; ` +
            `moved its folder aside to ${aside} and training the run again`,
        );
      }
      const cost = runCost(run.config);
      const perStep = cost / run.config.steps;
      let lastStep: number | undefined;
      let tRun = 0;
      const current = { runId: run.runId, label: run.label, index: run.index, step: 0, steps: 0 };
      progress("run-start", current);
      const outcome: RunOutcome = await runOne(run.config, {
        runId: run.runId,
        index: run.index,
        checkpointDir: checkpointDirOf(out, run.runId),
        checkpointEvery,
        onProgress: (p) => {
          lock.heartbeat();
          // Rate from the second report on: the first one also pays for start-up (data, tokenizer,
          // backend), and steps before it may come from a checkpoint.
          const now = performance.now();
          if (lastStep !== undefined) {
            costDone += Math.max(0, p.step - lastStep) * perStep;
            computeS += (now - tRun) / 1000;
          }
          tRun = now;
          lastStep = p.step;
          remaining.set(run.runId, Math.max(0, run.config.steps - p.step) * perStep);
          current.step = p.step;
          current.steps = p.steps;
          progress("step", current);
        },
      });
      const wrote = await commitRun(out, run, outcome, {
        sweep: spec.name,
        host: Deno.hostname(),
        finishedAt: new Date().toISOString(),
      });
      remaining.delete(run.runId);
      await Deno.remove(checkpointDirOf(out, run.runId), { recursive: true }).catch(() => {});
      if (!wrote) {
        summary.skipped.push(run.runId);
        continue;
      }
      summary.ran.push(run.runId);
      const diverged = outcome.diverged || !Number.isFinite(outcome.val_loss);
      if (diverged) summary.diverged.push(run.runId);
      log(
        `[sweep] ${diverged ? "DIVERGED" : "done"} ${run.label} (${run.runId}): val_loss ` +
          `${outcome.val_loss.toFixed(4)}${
            outcome.wall_s ? `, ${outcome.wall_s.toFixed(1)} s` : ""
          }`,
      );
      progress("run-end", current);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      summary.failed.push({ runId: run.runId, label: run.label, error });
      remaining.delete(run.runId);
      log(`[sweep] FAILED ${run.label} (${run.runId}): ${error}`);
      progress("run-end");
    } finally {
      lock.release();
    }
  }
  summary.wallS = (performance.now() - t0) / 1000;
  progress("end");
  log(
    `[sweep] ${spec.name} shard ${shard.index}/${shard.count}: ${summary.ran.length} ran, ` +
      `${summary.skipped.length} already done, ${summary.diverged.length} diverged, ` +
      `${summary.failed.length} failed, ${summary.busyElsewhere.length} busy elsewhere, ` +
      (summary.damaged.length
        ? `${summary.damaged.length} damaged result(s) moved aside and retrained, `
        : "") +
      `${summary.wallS.toFixed(1)} s`,
  );
  return summary;
}
