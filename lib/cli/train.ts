/**
 * `deno task train`: train one routed (or dense) language model on the kit's corpus.
 *
 *   deno task train --router sbase --experts 16 --d-model 128 --layers 4 --steps 200 --seed 1
 *                   --backend wasm [--json] [--checkpoint-dir DIR] ...
 *
 * Shows a progress bar on stderr; prints a summary (or with --json one JSON object) on stdout.
 */
import { parseArgs } from "node:util";
import process from "node:process";
import cliProgress from "cli-progress";
import { DEFAULT_CONFIG, train, type TrainConfig, type TrainResult } from "../train/mod.ts";
import { ROUTERS } from "../routers/mod.ts";

const USAGE = `usage: deno task train [options]
  --router NAME            ${Object.keys(ROUTERS).join(" | ")} (default ${DEFAULT_CONFIG.router})
  --experts E              experts per routed block (default 1; dense needs 1)
  --d-model D              model width (default ${DEFAULT_CONFIG.dModel})
  --layers L               transformer blocks (default ${DEFAULT_CONFIG.layers})
  --heads H                attention heads (default ${DEFAULT_CONFIG.heads})
  --routing-frequency R    fraction of routed blocks in (0, 1] (default ${DEFAULT_CONFIG.routingFrequency})
  --k K                    experts per token (default 1)
  --capacity-factor C      expert capacity factor (default: the router's, 2)
  --eval-capacity-factor C capacity factor at evaluation (default: none, nothing dropped)
  --steps N                training steps (default ${DEFAULT_CONFIG.steps})
  --batch-size B           sequences per step (default ${DEFAULT_CONFIG.batchSize})
  --seq-len S              tokens per sequence (default ${DEFAULT_CONFIG.seqLen})
  --lr LR                  peak learning rate (default ${DEFAULT_CONFIG.lr})
  --warmup N               warmup steps (default ${DEFAULT_CONFIG.warmupSteps})
  --weight-decay W         AdamW weight decay (default ${DEFAULT_CONFIG.weightDecay})
  --grad-clip G            global gradient-norm clip, 0 = off (default ${DEFAULT_CONFIG.gradClip})
  --vocab-size V           BPE vocabulary size (default ${DEFAULT_CONFIG.vocabSize})
  --seed N                 seed of every random choice (default ${DEFAULT_CONFIG.seed})
  --backend B              auto | wasm | cpu | webgpu (default ${DEFAULT_CONFIG.backend})
  --threads N              CPU threads: OpenBLAS's, else XNNPACK's (default 1)
  --blas auto|openblas|off wasm matMuls on OpenBLAS: auto uses it when it loads (default auto)
  --gpu-memory GiB         webgpu: GPU memory the run may use (default: nvidia-smi's total, else
                           half the RAM; env ROUTING_GPU_MEMORY_GIB)
  --eval-every N           evaluate every N steps, 0 = at the end only (default ${DEFAULT_CONFIG.evalEvery})
  --eval-batches N         evaluation batches per stream (default ${DEFAULT_CONFIG.evalBatches})
  --router-option K=V      router option (repeatable), e.g. tolerance=1e-4, policyWeight=0.05
  --checkpoint-dir DIR     resume from / write checkpoints to DIR
  --checkpoint-every N     checkpoint every N steps (default: --eval-every)
  --json                   print the final metrics as one JSON object
  --quiet                  no progress bar`;

const NUMERIC: Record<string, keyof TrainConfig> = {
  experts: "experts",
  "d-model": "dModel",
  layers: "layers",
  heads: "heads",
  "routing-frequency": "routingFrequency",
  k: "k",
  "capacity-factor": "capacityFactor",
  "eval-capacity-factor": "evalCapacityFactor",
  steps: "steps",
  "batch-size": "batchSize",
  "seq-len": "seqLen",
  lr: "lr",
  warmup: "warmupSteps",
  "weight-decay": "weightDecay",
  "grad-clip": "gradClip",
  "vocab-size": "vocabSize",
  seed: "seed",
  threads: "threads",
  "eval-every": "evalEvery",
  "eval-batches": "evalBatches",
};

/** Parses the command line into a partial config and options; throws on bad flags. */
export function parseTrainArgs(args: string[]): {
  config: Partial<TrainConfig>;
  json: boolean;
  quiet: boolean;
  help: boolean;
  checkpointDir?: string;
  checkpointEvery?: number;
  gpuMemoryGiB?: number;
} {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    router: { type: "string" },
    backend: { type: "string" },
    blas: { type: "string" },
    "router-option": { type: "string", multiple: true },
    "checkpoint-dir": { type: "string" },
    "checkpoint-every": { type: "string" },
    "gpu-memory": { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    help: { type: "boolean" },
  };
  for (const k of Object.keys(NUMERIC)) options[k] = { type: "string" };
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const v = values as Record<string, string | boolean | string[] | undefined>;
  const config: Partial<TrainConfig> = {};
  const num = (flag: string, s: string) => {
    const n = Number(s);
    if (s.trim() === "" || !Number.isFinite(n)) {
      throw new Error(`--${flag} must be a number, got ${JSON.stringify(s)}`);
    }
    return n;
  };
  for (const [flag, key] of Object.entries(NUMERIC)) {
    const s = v[flag];
    if (typeof s === "string") (config as Record<string, unknown>)[key] = num(flag, s);
  }
  if (typeof v.router === "string") config.router = v.router;
  if (typeof v.backend === "string") config.backend = v.backend as TrainConfig["backend"];
  if (typeof v.blas === "string") config.blas = v.blas as TrainConfig["blas"];
  const ro = v["router-option"];
  if (Array.isArray(ro)) {
    const opts: Record<string, unknown> = {};
    for (const kv of ro) {
      const i = kv.indexOf("=");
      if (i < 1) throw new Error(`--router-option must be KEY=VALUE, got ${JSON.stringify(kv)}`);
      const key = kv.slice(0, i), val = kv.slice(i + 1);
      const n = Number(val);
      opts[key] = val === "true" ? true : val === "false" ? false : Number.isFinite(n) ? n : val;
    }
    config.routerOptions = opts;
  }
  const ce = v["checkpoint-every"];
  return {
    config,
    json: v.json === true,
    quiet: v.quiet === true,
    help: v.help === true,
    checkpointDir: typeof v["checkpoint-dir"] === "string" ? v["checkpoint-dir"] : undefined,
    checkpointEvery: typeof ce === "string" ? num("checkpoint-every", ce) : undefined,
    gpuMemoryGiB: typeof v["gpu-memory"] === "string"
      ? num("gpu-memory", v["gpu-memory"])
      : undefined,
  };
}

function summary(r: TrainResult): string {
  const lines = [
    `router ${r.router}, E = ${r.experts}, backend ${r.backend}${
      r.backend_info.adapter ? ` on ${r.backend_info.adapter}` : ""
    }, ${r.steps} steps` +
    (r.diverged ? ` (DIVERGED: ${r.diverged_reason ?? "non-finite loss"})` : ""),
    `val_loss ${r.val_loss.toFixed(4)}  train_loss ${r.train_loss.toFixed(4)}  ` +
    `tokens ${r.tokens}  tokens/s ${r.tokens_per_s.toFixed(0)}  wall ${r.wall_s.toFixed(1)} s`,
    `N ${r.N}  P ${r.P}  F/token ${r.F}`,
    `val_loss by source: ${
      Object.entries(r.val_loss_by_source).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(", ")
    }`,
  ];
  for (const m of r.router_metrics) {
    lines.push(
      `routed block ${m.block}: dropped ${(m.dropped * 100).toFixed(2)}%` +
        (m.entropy !== undefined ? `, entropy ${m.entropy.toFixed(3)}` : "") +
        (m.sinkhornIterations !== undefined
          ? `, Sinkhorn iterations ${m.sinkhornIterations.toFixed(1)}`
          : "") +
        `, load ${m.load.map((x) => (x * 100).toFixed(1)).join("/")} %`,
    );
  }
  return lines.join("\n");
}

export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseTrainArgs(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  const bar = parsed.quiet ? null : new cliProgress.SingleBar(
    {
      format:
        "train |{bar}| {value}/{total} steps | loss {loss} | val {val} | {tps} tok/s | eta {eta}s",
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let val = "-";
  try {
    const r = await train(parsed.config, {
      checkpointDir: parsed.checkpointDir,
      checkpointEvery: parsed.checkpointEvery,
      gpuMemoryGiB: parsed.gpuMemoryGiB,
      onProgress: (p) => {
        if (!bar) return;
        if (p.valLoss !== undefined) val = p.valLoss.toFixed(3);
        const payload = { loss: p.trainLoss.toFixed(3), val, tps: p.tokensPerS.toFixed(0) };
        if (!started) bar.start(p.steps, p.step, payload), started = true;
        else bar.update(p.step, payload);
      },
    });
    if (started) bar?.stop();
    if (parsed.json) {
      const { curve: _curve, ...rest } = r;
      console.log(JSON.stringify({ ...rest, curve: r.curve }));
    } else console.log(summary(r));
    return r.diverged ? 1 : 0;
  } catch (e) {
    if (started) bar?.stop();
    console.error(`train: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
