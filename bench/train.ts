/**
 * `deno task bench`: training throughput of the tfjs model (wasm, matMuls on OpenBLAS when it
 * loads) against the same model in PyTorch (scripts/torch_peer.py, CPU), measured in the same run.
 * PyTorch runs at 1 and at 2 threads (on some machines one is faster) and the ratio is taken
 * against the faster of the two.
 *
 * For d_model 64 and 256: dense, and E = 8 and 64 with each router (sbase, hash, rlr). Each
 * configuration: 2 warm-up steps, then timed steps; tokens/s = tokens per step / median step time;
 * GFLOP/s = 3 x forward FLOPs per token (lib/counting's F: 2 x active parameters + unembedding +
 * attention) x tokens/s. Prints a table, or with --json one JSON object per configuration.
 *
 *   deno task bench [--json] [--threads 2] [--blas auto|openblas|off] [--torch-threads 1,2]
 *                   [--steps N] [--d 64,256] [--experts 8,64] [--routers sbase,hash,rlr]
 *                   [--no-torch]
 */
import * as tf from "@tensorflow/tfjs-core";
import { spawnSync } from "node:child_process";
import process from "node:process";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { type BlasChoice, initBackend } from "../lib/backend/mod.ts";
import { routedBlocks } from "../lib/counting/mod.ts";
import type { TransformerLM } from "../lib/model/mod.ts";
import {
  checkMemory,
  DEFAULT_CONFIG,
  resolveConfig,
  type TrainConfig,
  trainStep,
} from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { cpuModel } from "../lib/sweep/mod.ts";
import { benchModel, matMulPath } from "./_setup.ts";

interface BenchRow {
  d_model: number;
  layers: number;
  heads: number;
  seq_len: number;
  batch_size: number;
  vocab_size: number;
  router: string;
  experts: number;
  backend: string;
  threads: number;
  tokens_per_step: number;
  step_ms: number;
  tokens_per_s: number;
  gflops: number;
  forward_flops_per_token: number;
  params_total: number;
  /** Tokens per CPU-second of this process (robust to other processes' load). */
  tokens_per_cpu_s: number;
  torch_tokens_per_s: number | null;
  torch_tokens_per_cpu_s: number | null;
  /** tokens_per_cpu_s / torch_tokens_per_cpu_s: work per core, the fairer figure on a busy machine. */
  ratio_cpu: number | null;
  torch_step_ms: number | null;
  /** The thread count of the faster PyTorch run (the one the ratio is taken against). */
  torch_threads: number | null;
  /** PyTorch tokens/s at each thread count tried. */
  torch_by_threads: Record<string, number>;
  /** The matMul path: "OpenBLAS (Haswell, 2 thread(s))" or "XNNPACK (2 thread(s))". */
  matmul: string;
  ratio: number | null;
  /** Step time relative to the dense step of the same d_model. */
  step_vs_dense: number | null;
  /** The same from CPU time. */
  cpu_step_vs_dense: number | null;
  skipped?: string;
}

const SHAPES: Record<number, { layers: number; heads: number; seqLen: number; batchSize: number }> =
  {
    64: { layers: 4, heads: 4, seqLen: 128, batchSize: 16 },
    256: { layers: 4, heads: 4, seqLen: 256, batchSize: 8 },
  };

function torchVersion(python: string): string {
  const r = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], {
    encoding: "utf8",
  });
  return r.status === 0 ? `PyTorch ${r.stdout.trim()}` : "PyTorch";
}

function findPython(): string {
  // Debian's python3-torch lives in the system interpreter; a pyenv shim may shadow it.
  for (const p of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(p, ["-c", "import torch"], { encoding: "utf8" });
    if (r.status === 0) return p;
  }
  return "";
}

/** Runs scripts/torch_peer.py on the same configuration; null when PyTorch is unavailable. */
function torchPeer(
  python: string,
  cfg: TrainConfig,
  steps: number,
  threads: number,
): { tokens_per_s: number; step_ms: number; tokens_per_cpu_s: number | null } | null {
  if (!python || !fs.existsSync("scripts/torch_peer.py")) return null;
  const args = [
    "scripts/torch_peer.py",
    "--json",
    "--router",
    String(cfg.router),
    "--experts",
    String(cfg.experts),
    "--d-model",
    String(cfg.dModel),
    "--layers",
    String(cfg.layers),
    "--heads",
    String(cfg.heads),
    "--seq-len",
    String(cfg.seqLen),
    "--batch-size",
    String(cfg.batchSize),
    "--vocab-size",
    String(cfg.vocabSize),
    "--routing-frequency",
    String(cfg.routingFrequency),
    "--steps",
    String(steps),
    "--threads",
    String(threads),
  ];
  const r = spawnSync(python, args, { encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0) {
    console.error(`torch_peer.py failed (${r.status}): ${r.stderr.slice(-400)}`);
    return null;
  }
  const line = r.stdout.trim().split("\n").pop()!;
  const o = JSON.parse(line);
  const tps = o.tokens_per_s ?? o.torch_tokens_per_s;
  const ms = o.step_ms ?? (1000 * cfg.batchSize * cfg.seqLen) / tps;
  return { tokens_per_s: tps, step_ms: ms, tokens_per_cpu_s: o.tokens_per_cpu_s ?? null };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function measure(
  cfg: TrainConfig,
  steps: number,
): { stepMs: number; cpuStepMs: number; model: TransformerLM } {
  const { model, opt, batch } = benchModel({ ...cfg, router: String(cfg.router) });
  const rng = new Rng(1);
  const step = () => trainStep(model, opt, batch(), { lr: 1e-3, gradClip: 1, rng });
  step(), step();
  // The median step: robust to another process taking a core for a moment.
  const times: number[] = [];
  const c0 = cpuMs();
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    step();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const stepMs = steps % 2 ? times[steps >> 1] : (times[steps / 2 - 1] + times[steps / 2]) / 2;
  const cpuStepMs = (cpuMs() - c0) / steps;
  opt.dispose();
  return { stepMs, cpuStepMs, model };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean" },
      threads: { type: "string" },
      blas: { type: "string" },
      "torch-threads": { type: "string" },
      steps: { type: "string" },
      d: { type: "string" },
      experts: { type: "string" },
      routers: { type: "string" },
      "no-torch": { type: "boolean" },
    },
  });
  // Two wasm threads by default: the PyTorch peer runs on two threads too.
  const threads = Number(values.threads ?? 2);
  const torchThreadsList = (values["torch-threads"] ?? "1,2").split(",").map(Number);
  const dims = (values.d ?? "64,256").split(",").map(Number);
  const expertsList = (values.experts ?? "8,64").split(",").map(Number);
  const routers = (values.routers ?? "sbase,hash,rlr").split(",");
  const info = await initBackend("wasm", {
    threads,
    blas: (values.blas ?? "auto") as BlasChoice,
    quiet: true,
  });
  const matmul = matMulPath(info);
  const python = values["no-torch"] ? "" : findPython();
  if (!values.json) {
    console.log(`CPU: ${cpuModel()}, ${navigator.hardwareConcurrency} logical cores`);
    if (info.blas?.config) console.log(`BLAS: ${info.blas.library}: ${info.blas.config}`);
    console.log(
      `tfjs ${info.name}, matMuls on ${matmul}, vs PyTorch ${
        python
          ? `CPU (${torchVersion(python)}; ${torchThreadsList.join(" and ")} threads, ` +
            `the faster taken)`
          : "unavailable"
      }`,
    );
  }
  const rows: BenchRow[] = [];
  for (const d of dims) {
    const shape = SHAPES[d] ?? { layers: 4, heads: 4, seqLen: 128, batchSize: 16 };
    const steps = Number(values.steps ?? (d >= 256 ? 3 : 5));
    const cases: [string, number][] = [["dense", 1]];
    for (const E of expertsList) for (const r of routers) cases.push([r, E]);
    let denseMs: number | null = null, denseCpuMs: number | null = null;
    for (const [router, E] of cases) {
      const cfg = resolveConfig({
        ...shape,
        dModel: d,
        router,
        experts: E,
        routingFrequency: 0.5,
        vocabSize: DEFAULT_CONFIG.vocabSize,
        backend: "wasm",
      });
      const row: BenchRow = {
        d_model: d,
        layers: cfg.layers,
        heads: cfg.heads,
        seq_len: cfg.seqLen,
        batch_size: cfg.batchSize,
        vocab_size: cfg.vocabSize,
        router,
        experts: E,
        backend: info.name,
        threads: info.threads ?? 1,
        tokens_per_step: cfg.batchSize * cfg.seqLen,
        step_ms: NaN,
        tokens_per_s: NaN,
        gflops: NaN,
        forward_flops_per_token: NaN,
        params_total: NaN,
        tokens_per_cpu_s: NaN,
        torch_tokens_per_s: null,
        torch_tokens_per_cpu_s: null,
        ratio_cpu: null,
        torch_step_ms: null,
        torch_threads: null,
        torch_by_threads: {},
        matmul,
        ratio: null,
        step_vs_dense: null,
        cpu_step_vs_dense: null,
      };
      try {
        checkMemory(cfg, router === "dense" ? 0 : routedBlocks(cfg.layers, 0.5).length, "wasm");
      } catch (e) {
        row.skipped = (e as Error).message;
        rows.push(row);
        if (!values.json) console.log(`d ${d} ${router} E=${E}: skipped (${row.skipped})`);
        continue;
      }
      const { stepMs, cpuStepMs, model } = measure(cfg, steps);
      const F = model.counts().F;
      row.params_total = model.namedVariables().reduce((s, n) => s + n.variable.size, 0);
      model.dispose();
      row.step_ms = stepMs;
      row.tokens_per_s = (1000 * row.tokens_per_step) / stepMs;
      row.tokens_per_cpu_s = (1000 * row.tokens_per_step) / cpuStepMs;
      row.forward_flops_per_token = F;
      row.gflops = (3 * F * row.tokens_per_s) / 1e9;
      if (router === "dense") denseMs = stepMs, denseCpuMs = cpuStepMs;
      row.step_vs_dense = denseMs ? stepMs / denseMs : null;
      row.cpu_step_vs_dense = denseCpuMs ? cpuStepMs / denseCpuMs : null;
      let peer: ReturnType<typeof torchPeer> = null;
      for (const t of torchThreadsList) {
        const p = torchPeer(python, cfg, steps, t);
        if (!p) continue;
        row.torch_by_threads[String(t)] = p.tokens_per_s;
        if (!peer || p.tokens_per_s > peer.tokens_per_s) peer = p, row.torch_threads = t;
      }
      if (peer) {
        row.torch_tokens_per_s = peer.tokens_per_s;
        row.torch_step_ms = peer.step_ms;
        row.ratio = row.tokens_per_s / peer.tokens_per_s;
        row.torch_tokens_per_cpu_s = peer.tokens_per_cpu_s;
        if (peer.tokens_per_cpu_s) row.ratio_cpu = row.tokens_per_cpu_s / peer.tokens_per_cpu_s;
      }
      rows.push(row);
      if (values.json) console.log(JSON.stringify(row));
      else {
        console.log(
          `d ${String(d).padStart(3)} ${router.padEnd(5)} E=${String(E).padEnd(3)} ` +
            `step ${stepMs.toFixed(0).padStart(6)} ms  ${
              row.tokens_per_s.toFixed(0).padStart(6)
            } tok/s  ` +
            `${row.gflops.toFixed(1).padStart(5)} GFLOP/s  ` +
            `${row.tokens_per_cpu_s.toFixed(0).padStart(6)} tok/cpu-s  x dense ${
              row.step_vs_dense?.toFixed(2) ?? "-"
            } (cpu ${row.cpu_step_vs_dense?.toFixed(2) ?? "-"})  torch ${
              row.torch_tokens_per_s?.toFixed(0) ?? "-"
            } tok/s (${
              Object.entries(row.torch_by_threads).map(([t, v]) => `${t}t ${v.toFixed(0)}`)
                .join(", ") || "-"
            })  ratio ${row.ratio?.toFixed(2) ?? "-"} (per cpu-s ${
              row.torch_tokens_per_cpu_s?.toFixed(0) ?? "-"
            }, ratio ${row.ratio_cpu?.toFixed(2) ?? "-"})`,
        );
      }
      tf.disposeVariables();
    }
  }
  if (values.json) {
    for (const r of rows.filter((r) => r.skipped)) {
      console.log(JSON.stringify(r));
    }
  }
}

await main();
