/**
 * Sharding: shard i of n takes the runs whose index % n == i. The shard comes from `--shard i/n`,
 * env SWEEP_SHARD="i/n", a Slurm job array (SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT or
 * SLURM_ARRAY_TASK_MIN/MAX), or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with the shard
 * count in env SWEEP_SHARD_COUNT, which the Job's `completions` must equal).
 */

export interface Shard {
  index: number;
  count: number;
  /** Where the shard came from, for logs. */
  source: string;
}

/** The env variable that carries the shard count for Kubernetes Indexed Jobs. */
export const SHARD_COUNT_ENV = "SWEEP_SHARD_COUNT";

function check(index: number, count: number, source: string): Shard {
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`Shard count from ${source} must be an integer >= 1, got ${count}`);
  }
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(
      `Shard index from ${source} must be an integer in 0..${count - 1}, got ${index}`,
    );
  }
  return { index, count, source };
}

function int(v: string, what: string): number {
  if (!/^\s*-?\d+\s*$/.test(v)) throw new Error(`${what} must be an integer, got "${v}"`);
  return Number(v);
}

/** Parses "i/n" (0-based i). */
export function parseShard(text: string, source = "--shard"): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) {
    throw new Error(
      `${source} must look like i/n (e.g. 0/4: the first of 4 shards), got "${text}"`,
    );
  }
  return check(Number(m[1]), Number(m[2]), source);
}

/**
 * The shard of this process: the explicit `--shard` text first, then the environment. Returns
 * `{index: 0, count: 1}` when nothing names a shard.
 */
export function resolveShard(
  explicit?: string,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Shard {
  if (explicit !== undefined) return parseShard(explicit);
  if (env.SWEEP_SHARD) return parseShard(env.SWEEP_SHARD, "env SWEEP_SHARD");
  const slurmId = env.SLURM_ARRAY_TASK_ID;
  if (slurmId !== undefined && slurmId !== "") {
    const id = int(slurmId, "SLURM_ARRAY_TASK_ID");
    const step = env.SLURM_ARRAY_TASK_STEP ? int(env.SLURM_ARRAY_TASK_STEP, "step") : 1;
    if (step !== 1) {
      throw new Error(
        `Slurm array step is ${step}: submit a contiguous array (--array=0-N) so each task id ` +
          `maps to one shard`,
      );
    }
    const min = env.SLURM_ARRAY_TASK_MIN
      ? int(env.SLURM_ARRAY_TASK_MIN, "SLURM_ARRAY_TASK_MIN")
      : 0;
    let count: number | undefined;
    if (env.SLURM_ARRAY_TASK_COUNT) {
      count = int(env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT");
    } else if (env.SLURM_ARRAY_TASK_MAX) {
      count = int(env.SLURM_ARRAY_TASK_MAX, "SLURM_ARRAY_TASK_MAX") - min + 1;
    }
    if (env[SHARD_COUNT_ENV]) count = int(env[SHARD_COUNT_ENV]!, SHARD_COUNT_ENV);
    if (count === undefined) {
      throw new Error(
        `SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT, SLURM_ARRAY_TASK_MAX nor ` +
          `${SHARD_COUNT_ENV} is: export ${SHARD_COUNT_ENV}=<number of array tasks>`,
      );
    }
    return check(id - min, count, "Slurm job array");
  }
  const k8s = env.JOB_COMPLETION_INDEX;
  if (k8s !== undefined && k8s !== "") {
    const countText = env[SHARD_COUNT_ENV];
    if (!countText) {
      throw new Error(
        `JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but ${SHARD_COUNT_ENV} is not: ` +
          `set env ${SHARD_COUNT_ENV} to the Job's completions`,
      );
    }
    return check(
      int(k8s, "JOB_COMPLETION_INDEX"),
      int(countText, SHARD_COUNT_ENV),
      "Kubernetes Indexed Job",
    );
  }
  return { index: 0, count: 1, source: "single process" };
}

/** The items of shard i of n: index % n == i, in their original order. */
export function shardItems<T extends { index: number }>(items: T[], shard: Shard): T[] {
  return items.filter((r) => r.index % shard.count === shard.index);
}
