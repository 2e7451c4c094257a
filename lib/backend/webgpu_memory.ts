/**
 * The webgpu backend's memory check: an estimate of a training run's GPU memory from the model
 * and batch, compared with the adapter's per-buffer limits and a memory budget, so that a run that
 * cannot fit is refused before anything is built (the wasm backend's check is lib/train's
 * checkMemory). Without it `--d-model 8192 --layers 48 --experts 256 --backend webgpu` printed
 * nothing for 120 s and grew to 6 GB before it was killed.
 *
 * The estimate, measured on the software adapter (tfjs-webgpu 4.22, the bounded pool of
 * ./webgpu_pool.ts; bench/cal shapes: d_model 64-128, 2-4 layers, E 1-64, 32-2048 tokens a step,
 * V 512-2048; the peak of bytes in use, the pool's high-water mark, within 3% of the fit):
 *
 * - 28 bytes a held parameter: weights (4), AdamW's two moments (8), gradients (4) and the
 *   update's temporaries at the peak (20.5 stay in use between steps);
 * - activations: 405 bytes per token x layer x d_model (tfjs keeps every intermediate of the
 *   taped pass, ~100 floats a token-layer-d), 28.5 per attention probability (B x H x S^2 x L),
 *   28.6 per logit (tokens x V), and per routed block (48 k + 8 E) bytes per token x d_model (the
 *   device routed FFN's per-expert [T, d] scatter accumulators, lib/model: O(E) of them live
 *   until the block's pass ends);
 * - times 1.25: the pool may hold that much more than the peak in use (webgpu_pool.ts).
 *
 * The budget: `--gpu-memory GiB` when given; else the GPU's memory where the system tells it
 * (nvidia-smi for an NVIDIA adapter, amdgpu's sysfs for AMD); else, for a software adapter or a
 * GPU that says nothing, half of this machine's RAM (a software adapter's buffers live there; an
 * integrated GPU shares it). WebGPU itself reports no memory size, only per-buffer limits.
 */
import process from "node:process";
import { readdirSync, readFileSync } from "node:fs";
import { adapterLabel, type GpuAdapterInfo, type GpuLimits } from "./adapter.ts";
import { DEFAULT_POOL_SLACK } from "./webgpu_pool.ts";

/** What the estimate needs of a run (lib/train's TrainConfig has all but routedBlocks). */
export interface GpuRunShape {
  dModel: number;
  layers: number;
  heads: number;
  /** Experts per routed block (1 = dense). */
  experts: number;
  /** Routed blocks (0 for a dense model): lib/counting's routedBlocks(layers, R).length. */
  routedBlocks: number;
  k: number;
  batchSize: number;
  seqLen: number;
  vocabSize: number;
}

/** Bytes a held parameter needs at the peak of a webgpu training step (see the module comment). */
export const GPU_BYTES_PER_PARAM = 28;
/** Activation bytes per token x layer x d_model. */
export const GPU_BYTES_PER_TOKEN_LAYER_D = 405;
/** Bytes per attention probability (batch x heads x seqLen^2 x layers). */
export const GPU_BYTES_PER_ATTENTION = 28.5;
/** Bytes per logit (tokens x vocabulary). */
export const GPU_BYTES_PER_LOGIT = 28.6;
/** Share of the machine's RAM assumed for a GPU that reports no memory (and a software adapter). */
export const GPU_RAM_SHARE = 0.5;

export interface GpuMemoryEstimate {
  /** Parameters held (embeddings included; lib/train's heldParameters). */
  params: number;
  /** Parameters, moments, gradients. */
  paramBytes: number;
  activationBytes: number;
  /** (paramBytes + activationBytes) x (1 + pool slack). */
  totalBytes: number;
  /** The largest single tensor: its bytes and what it is. */
  largestTensorBytes: number;
  largestTensor: string;
}

/** Parameters held by a run (the formula of lib/train's heldParameters). */
export function gpuHeldParameters(s: GpuRunShape): number {
  const d = s.dModel;
  const dense = s.layers * (4 * d * d + 8 * d * d + 4 * d);
  const experts = s.routedBlocks * ((s.experts - 1) * 8 * d * d + d * s.experts + d * d / 4);
  return dense + experts + 2 * s.vocabSize * d + s.seqLen * d + 2 * d;
}

/** The estimate of a run's GPU memory on the webgpu backend. */
export function estimateGpuMemory(s: GpuRunShape): GpuMemoryEstimate {
  const d = s.dModel, T = s.batchSize * s.seqLen;
  const params = gpuHeldParameters(s);
  const paramBytes = params * GPU_BYTES_PER_PARAM;
  const activationBytes = GPU_BYTES_PER_TOKEN_LAYER_D * T * s.layers * d +
    GPU_BYTES_PER_ATTENTION * s.batchSize * s.heads * s.seqLen * s.seqLen * s.layers +
    GPU_BYTES_PER_LOGIT * T * s.vocabSize +
    (s.experts > 1 ? s.routedBlocks * (48 * s.k + 8 * s.experts) * T * d : 0);
  const tensors: [string, number][] = [
    [`the logits [${T} x ${s.vocabSize}]`, T * s.vocabSize],
    [
      `the attention scores [${s.batchSize} x ${s.heads} x ${s.seqLen} x ${s.seqLen}]`,
      s.batchSize * s.heads * s.seqLen * s.seqLen,
    ],
    [`the FFN hidden layer [${T} x ${4 * d}]`, T * 4 * d],
    [`the embedding [${s.vocabSize} x ${d}]`, s.vocabSize * d],
    [`an FFN weight [${d} x ${4 * d}]`, 4 * d * d],
  ];
  const [largestTensor, elems] = tensors.reduce((a, b) => (b[1] > a[1] ? b : a));
  return {
    params,
    paramBytes,
    activationBytes,
    totalBytes: (paramBytes + activationBytes) * (1 + DEFAULT_POOL_SLACK),
    largestTensorBytes: elems * 4,
    largestTensor,
  };
}

/** How much GPU memory a run may plan to use, and where that figure came from. */
export interface GpuMemoryBudget {
  bytes: number;
  /** e.g. "--gpu-memory 40", "nvidia-smi: 143771 MiB", "half of this machine's 23.4 GiB RAM". */
  source: string;
}

const GIB = 1024 ** 3;
/** Bytes for a message: "128 MiB", "1.5 GiB", "92000 GiB". */
export function formatBytes(bytes: number): string {
  if (bytes < GIB) return `${(bytes / 1024 ** 2).toFixed(bytes < 10 * 1024 ** 2 ? 1 : 0)} MiB`;
  return `${(bytes / GIB).toFixed(bytes >= 100 * GIB ? 0 : 1)} GiB`;
}
const gib = formatBytes;
/** A parameter count: "70.3M", "38.7B", "3.3T". */
const count = (n: number) =>
  n >= 1e12
    ? `${(n / 1e12).toFixed(1)}T`
    : n >= 1e9
    ? `${(n / 1e9).toFixed(1)}B`
    : `${(n / 1e6).toFixed(1)}M`;

/** The smallest total memory nvidia-smi reports over the visible GPUs, in bytes (or undefined). */
async function nvidiaSmiBytes(): Promise<number | undefined> {
  try {
    const out = await new Deno.Command("nvidia-smi", {
      args: ["--query-gpu=memory.total", "--format=csv,noheader,nounits"],
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(4_000),
    }).output();
    if (!out.success) return undefined;
    const mib = new TextDecoder().decode(out.stdout).split("\n").map((l) => Number(l.trim()))
      .filter((x) => Number.isFinite(x) && x > 0);
    return mib.length ? Math.min(...mib) * 1024 ** 2 : undefined;
  } catch {
    return undefined;
  }
}

/** The smallest VRAM amdgpu reports in sysfs, in bytes (or undefined). */
function amdgpuBytes(): number | undefined {
  try {
    const sizes = readdirSync("/sys/class/drm").filter((c) => /^card\d+$/.test(c)).map((c) => {
      try {
        return Number(readFileSync(`/sys/class/drm/${c}/device/mem_info_vram_total`, "utf8"));
      } catch {
        return NaN;
      }
    }).filter((x) => Number.isFinite(x) && x > 0);
    return sizes.length ? Math.min(...sizes) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The budget of a run on `adapter`: `gpuMemoryGiB` (the user's --gpu-memory) when given, else the
 * GPU's memory as nvidia-smi (NVIDIA) or sysfs (AMD) report it, else GPU_RAM_SHARE of this
 * machine's RAM (`systemMemoryBytes` overrides it, for tests).
 */
export async function resolveGpuMemoryBudget(
  adapter: { vendor: string; software: boolean },
  opts: { gpuMemoryGiB?: number; systemMemoryBytes?: number } = {},
): Promise<GpuMemoryBudget> {
  const given = opts.gpuMemoryGiB;
  if (given !== undefined) {
    if (!(given > 0) || !Number.isFinite(given)) {
      throw new Error(`--gpu-memory must be a number of GiB > 0, got ${given}`);
    }
    return { bytes: given * GIB, source: `--gpu-memory ${given}` };
  }
  if (!adapter.software && adapter.vendor === "nvidia") {
    const b = await nvidiaSmiBytes();
    if (b) return { bytes: b, source: `nvidia-smi: ${(b / 1024 ** 2).toFixed(0)} MiB` };
  }
  if (!adapter.software && adapter.vendor === "amd") {
    const b = amdgpuBytes();
    if (b) return { bytes: b, source: `amdgpu: ${gib(b)} of VRAM` };
  }
  const ram = opts.systemMemoryBytes ?? Deno.systemMemoryInfo().total;
  return {
    bytes: ram * GPU_RAM_SHARE,
    source: adapter.software
      ? `a software adapter keeps its buffers in RAM: half of this machine's ${gib(ram)}`
      : `the GPU reports no memory size: assumed half of this machine's ${gib(ram)} RAM`,
  };
}

/** The largest integer in [lo, hi] for which ok() holds (ok monotone, true at lo), or lo - 1. */
function largest(lo: number, hi: number, ok: (x: number) => boolean): number {
  if (!ok(lo)) return lo - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Throws when a run will not fit the webgpu adapter: a tensor larger than the adapter's
 * maxBufferSize or maxStorageBufferBindingSize, or an estimate over the budget. The message gives
 * the numbers and the sizes that do fit (experts, batch size, d_model). Pure: no GPU needed.
 */
export function checkGpuMemory(
  s: GpuRunShape,
  adapter: { label: string; limits: GpuLimits },
  budget: GpuMemoryBudget,
): GpuMemoryEstimate {
  const est = estimateGpuMemory(s);
  const { maxBufferSize, maxStorageBufferBindingSize } = adapter.limits;
  const limit = Math.min(maxBufferSize, maxStorageBufferBindingSize);
  const fits = (x: GpuRunShape) => {
    const e = estimateGpuMemory(x);
    return e.largestTensorBytes <= limit && e.totalBytes <= budget.bytes;
  };
  const head = `Invalid training config: the model is too large for the webgpu backend on ` +
    `${adapter.label}`;
  const alternatives = (): string => {
    const out: string[] = [];
    if (s.experts > 1 && s.routedBlocks > 0) {
      const E = largest(1, s.experts - 1, (e) => fits({ ...s, experts: e }));
      if (E >= 2) out.push(`experts <= ${E}`);
      else if (E === 1) out.push(`a dense model (experts = 1)`);
    }
    const B = largest(1, s.batchSize - 1, (b) => fits({ ...s, batchSize: b }));
    if (B >= 1) out.push(`batch size <= ${B}`);
    const step = s.heads;
    const D = largest(
      1,
      Math.floor((s.dModel - 1) / step),
      (m) => fits({ ...s, dModel: m * step }),
    );
    if (D >= 1) out.push(`d_model <= ${D * step}`);
    return out.length
      ? `; it fits with ${out.join(", or ")} (each with the rest unchanged)`
      : `; nothing near this shape fits: even 1 expert, batch 1 and d_model ${s.heads} do not`;
  };
  const problems: string[] = [];
  if (est.totalBytes > budget.bytes) {
    problems.push(
      `${count(est.params)} parameters need about ${gib(est.totalBytes)} in ` +
        `training (~${GPU_BYTES_PER_PARAM} bytes a parameter, ${gib(est.paramBytes)}, plus ` +
        `${gib(est.activationBytes)} of activations at ${s.batchSize} x ${s.seqLen} tokens, ` +
        `plus ${DEFAULT_POOL_SLACK * 100}% for the buffer pool), over the budget of ` +
        `${gib(budget.bytes)} (${budget.source}; --gpu-memory GiB sets it)`,
    );
  }
  if (est.largestTensorBytes > limit) {
    const which = maxStorageBufferBindingSize <= maxBufferSize
      ? `maxStorageBufferBindingSize (${gib(maxStorageBufferBindingSize)})`
      : `maxBufferSize (${gib(maxBufferSize)})`;
    problems.push(
      `its largest tensor, ${est.largestTensor}, needs ${gib(est.largestTensorBytes)}, over ` +
        `the adapter's ${which}, the most one shader may bind`,
    );
  }
  if (problems.length) throw new Error(`${head}: ${problems.join("; and ")}${alternatives()}`);
  return est;
}

/** `--gpu-memory` from the environment (ROUTING_GPU_MEMORY_GIB), for runs started by a sweep. */
export function gpuMemoryFromEnv(): number | undefined {
  const v = process.env.ROUTING_GPU_MEMORY_GIB;
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new Error(`ROUTING_GPU_MEMORY_GIB must be a number of GiB > 0, got ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * The memory check of a run about to train on `info`'s backend (initBackend's result): nothing
 * unless it is webgpu; else the budget (`gpuMemoryGiB`, else ROUTING_GPU_MEMORY_GIB, else what
 * resolveGpuMemoryBudget finds) and checkGpuMemory, which throws when the run cannot fit.
 */
export async function checkWebgpuMemory(
  s: GpuRunShape,
  info: { name: string; adapter?: string; gpu?: GpuAdapterInfo },
  opts: { gpuMemoryGiB?: number; systemMemoryBytes?: number } = {},
): Promise<GpuMemoryEstimate | undefined> {
  if (info.name !== "webgpu" || !info.gpu) return undefined;
  const budget = await resolveGpuMemoryBudget(info.gpu, {
    gpuMemoryGiB: opts.gpuMemoryGiB ?? gpuMemoryFromEnv(),
    systemMemoryBytes: opts.systemMemoryBytes,
  });
  const label = info.adapter ?? adapterLabel(info.gpu);
  return checkGpuMemory(s, { label, limits: info.gpu.limits }, budget);
}
