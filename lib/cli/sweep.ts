/**
 * deno task sweep --preset quick --out DIR [--shard i/n] [--spec FILE] [--list]
 *                 [--allow-other-spec]
 * deno task sweep --merge DIR [DIR ...]
 * deno task sweep --preset standard --out DIR --export DEST [--supplement-of BASE]
 *
 * Runs (or resumes) a sweep into DIR; a rerun skips finished runs, resumes unfinished ones and
 * retrains runs whose result no longer reads back. DIR belongs to the first spec run into it.
 * The shard also comes from SWEEP_SHARD=i/n, a Slurm job array (SLURM_ARRAY_TASK_ID/COUNT) or a
 * Kubernetes Indexed Job (JOB_COMPLETION_INDEX with SWEEP_SHARD_COUNT). Exits 1 when a run failed.
 */
import {
  expandSpec,
  exportSweep,
  formatProgress,
  loadShippedSweep,
  loadSpecFile,
  preset,
  PRESET_NAMES,
  resolveShard,
  type RunOne,
  runSweep,
  type Shard,
  shardItems,
  summarizeSweep,
  type SweepProgress,
} from "../sweep/mod.ts";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const toFileUrl = (p: string) => pathToFileURL(resolve(p)).href;

const USAGE = `usage:
  deno task sweep (--preset ${PRESET_NAMES.join("|")} | --spec FILE) --out DIR [--shard i/n]
                  [--workers N] [--list] [--lock-stale SECONDS] [--run-module FILE]
                  [--allow-other-spec]
  --workers N: N processes on this machine, each a sub-shard (one per core is fastest)
  --run-module FILE: a module exporting runOne(config, ctx), used instead of lib/train's train
  --allow-other-spec: run into a DIR that belongs to another spec (DIR/sweep-spec.json names it),
                      as a guest that leaves DIR to its spec; without it such a DIR is refused,
                      as its summary would pool both specs' runs
  deno task sweep --merge DIR [DIR ...]
  deno task sweep (--preset NAME | --spec FILE) --out DIR --export DEST [--supplement-of BASE]
  --export DEST: write DIR's finished runs of the spec to DEST (results.csv, curves and router
                 metrics as Parquet, spec.json, manifest.json with the code version and machine),
                 the small folder the kit ships under data/ours/; trains nothing
  --supplement-of BASE: with --export, leave out the runs the shipped folder BASE already holds
                 (after checking DIR scored them the same): DEST then extends BASE, e.g. with
                 more seeds, and is read with it from BASE/supplements/NAME`;

function parseArgs(raw: string[]): Record<string, string | string[] | boolean> {
  // --name=value is the same as --name value
  const args = raw.flatMap((a) =>
    /^--[a-z-]+=/.test(a) ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a]
  );
  const out: Record<string, string | string[] | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--help" || a === "-h") out.help = true;
    else if (a === "--list") out.list = true;
    else if (a === "--allow-other-spec") out["allow-other-spec"] = true;
    else if (a === "--merge") {
      const dirs: string[] = [];
      while (i + 1 < args.length && !args[i + 1].startsWith("--")) dirs.push(args[++i]);
      out.merge = dirs;
    } else if (
      [
        "--preset",
        "--spec",
        "--out",
        "--shard",
        "--lock-stale",
        "--run-module",
        "--workers",
        "--export",
        "--supplement-of",
      ]
        .includes(a)
    ) {
      const v = args[++i];
      if (v === undefined || v.startsWith("--")) throw new Error(`${a} needs a value\n${USAGE}`);
      out[a.slice(2)] = v;
    } else {
      throw new Error(`unknown argument "${a}"\n${USAGE}`);
    }
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.merge) {
    const dirs = args.merge as string[];
    if (dirs.length === 0) throw new Error(`--merge needs at least one sweep folder\n${USAGE}`);
    console.log(summarizeSweep(dirs).text);
    return 0;
  }
  if (!args.preset === !args.spec) {
    throw new Error(`give exactly one of --preset or --spec\n${USAGE}`);
  }
  const spec = args.spec ? await loadSpecFile(args.spec as string) : preset(args.preset as string);
  const shard = resolveShard(args.shard as string | undefined);
  if (args.list) {
    for (const r of shardItems(expandSpec(spec), shard)) {
      console.log(`${String(r.index).padStart(4)} ${r.runId} ${r.label}`);
    }
    return 0;
  }
  if (!args.out) throw new Error(`--out DIR is required\n${USAGE}`);
  if (args["supplement-of"] && !args.export) {
    throw new Error(`--supplement-of BASE goes with --export DEST\n${USAGE}`);
  }
  if (args.export) {
    const source = args.spec ? `--spec ${args.spec}` : `--preset ${args.preset}`;
    const baseDir = args["supplement-of"] as string | undefined;
    const base = baseDir ? loadShippedSweep(baseDir) : undefined;
    const also = baseDir ? ` --supplement-of ${baseDir}` : "";
    const m = await exportSweep(
      args.out as string,
      args.export as string,
      spec,
      [
        // A supplement runs into its base's sweep folder to reuse the runs they share.
        `deno task sweep ${source} --out ${args.out} --workers 2` +
        (baseDir ? " --allow-other-spec" : ""),
        `deno task sweep ${source} --out ${args.out} --export ${args.export}${also}`,
      ],
      expandSpec(spec).map((r) => r.runId),
      base,
    );
    console.log(
      `exported ${m.runs} runs (${m.diverged} diverged) of ${m.sweep} to ${args.export}: ` +
        `sweep wall ${(m.sweepWallS / 60).toFixed(1)} min, code version ${m.trainingCodeVersion}`,
    );
    return 0;
  }
  if (args.workers !== undefined) {
    const workers = Number(args.workers);
    if (!Number.isInteger(workers) || workers < 1) {
      throw new Error(`--workers must be an integer >= 1, got "${args.workers}"`);
    }
    if (workers > 1) return await runWorkers(workers, shard);
  }
  const tty = Deno.stderr.isTerminal();
  let last = 0;
  const enc = new TextEncoder();
  const onProgress = (p: SweepProgress) => {
    const now = performance.now();
    if (p.event === "step" && now - last < (tty ? 500 : 10_000)) return;
    last = now;
    const line = `[sweep] ${formatProgress(p)}`;
    if (tty) Deno.stderr.writeSync(enc.encode(`\r\x1b[K${line}${p.event === "end" ? "\n" : ""}`));
    else console.error(line);
  };
  let runOne: RunOne | undefined;
  if (args["run-module"]) {
    const path = args["run-module"] as string;
    const mod = await import(toFileUrl(path));
    if (typeof mod.runOne !== "function") {
      throw new Error(`--run-module ${path} must export a function runOne(config, ctx)`);
    }
    runOne = mod.runOne;
  }
  const summary = await runSweep(spec, {
    runOne,
    out: args.out as string,
    shard,
    onProgress,
    log: (l) => console.error(tty ? `\r\x1b[K${l}` : l),
    lockStaleS: args["lock-stale"] ? Number(args["lock-stale"]) : undefined,
    allowOtherSpec: args["allow-other-spec"] === true,
  });
  for (const f of summary.failed) {
    console.error(`[sweep] failed: ${f.label} (${f.runId}): ${f.error}`);
  }
  return summary.failed.length > 0 ? 1 : 0;
}

/**
 * Runs `workers` copies of this command, worker w taking sub-shard (shard.index + shard.count * w)
 * of (shard.count * workers): together exactly this shard's runs.
 */
async function runWorkers(workers: number, shard: Shard): Promise<number> {
  const rest: string[] = [];
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    if (a === "--workers" || a === "--shard") i++;
    else if (!a.startsWith("--workers=") && !a.startsWith("--shard=")) rest.push(a);
  }
  const count = shard.count * workers;
  const children = Array.from({ length: workers }, (_, w) => {
    const sub = `${shard.index + shard.count * w}/${count}`;
    return new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, ...rest, "--shard", sub],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
  });
  const codes = await Promise.all(children.map(async (c) => (await c.status).code));
  return Math.max(...codes);
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`sweep: ${e instanceof Error ? e.message : e}`);
    Deno.exit(2);
  }
}
