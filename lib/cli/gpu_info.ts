/**
 * `deno run -A lib/cli/gpu_info.ts [--json] [--init]`: which WebGPU adapter this machine offers,
 * whether it is a GPU or a software (CPU) adapter, its limits, what of Vulkan is installed, what
 * `--backend auto` would pick, and the GPU memory budget of the webgpu memory check.
 *
 * With --init it also starts tfjs's webgpu backend on the adapter (the device's own limits) and
 * runs one matMul. Exit code 0 with a hardware adapter, 3 with only a software adapter, 4 with
 * none: scripts/gpu-check.sh uses it.
 */
import { parseArgs } from "node:util";
import process from "node:process";
import {
  adapterLabel,
  formatBytes,
  gpuProbeFailure,
  noAdapterMessage,
  probeGpuAdapter,
  resolveGpuMemoryBudget,
  vulkanFacts,
} from "../backend/mod.ts";

export interface GpuInfoReport {
  adapter: string | null;
  software: boolean | null;
  softwareReason: string;
  vendor: string;
  vendorId: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean | null;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number } | null;
  /** What `--backend auto` picks here. */
  auto: "webgpu" | "wasm";
  /** The budget the webgpu memory check would use, in GiB, and its source. */
  budgetGiB: number | null;
  budgetSource: string;
  denoWebgpuBackend: string;
  vulkanLoader: string;
  vulkanIcds: string[];
  nvidiaPresent: boolean;
  /** Why there is no adapter (null when there is one). */
  error: string | null;
  /** --init: the backend started and a matMul ran, with its time (ms). */
  init?: { ok: boolean; ms: number; error?: string };
}

export async function gpuInfo(init = false): Promise<GpuInfoReport> {
  const a = await probeGpuAdapter();
  const facts = vulkanFacts();
  const budget = a ? await resolveGpuMemoryBudget(a) : undefined;
  const report: GpuInfoReport = {
    adapter: a ? adapterLabel(a) : null,
    software: a ? a.software : null,
    softwareReason: a?.softwareReason ?? "",
    vendor: a?.vendor ?? "",
    vendorId: a?.vendorId ?? "",
    architecture: a?.architecture ?? "",
    description: a?.description ?? "",
    isFallbackAdapter: a ? a.isFallbackAdapter : null,
    limits: a ? a.limits : null,
    auto: a && !a.software ? "webgpu" : "wasm",
    budgetGiB: budget ? budget.bytes / 1024 ** 3 : null,
    budgetSource: budget?.source ?? "",
    denoWebgpuBackend: process.env.DENO_WEBGPU_BACKEND ?? "",
    vulkanLoader: facts.loader,
    vulkanIcds: facts.icds,
    nvidiaPresent: facts.nvidiaPresent,
    error: a ? null : noAdapterMessage(gpuProbeFailure()),
  };
  if (init && a) {
    const t0 = performance.now();
    try {
      const tf = await import("@tensorflow/tfjs-core");
      const { initBackend } = await import("../backend/mod.ts");
      const info = await initBackend("webgpu");
      const x = tf.randomNormal([256, 256], 0, 1, "float32", 1);
      const y = tf.matMul(x, x);
      await y.data();
      tf.dispose([x, y]);
      if (info.gpu) report.limits = info.gpu.limits;
      report.init = { ok: true, ms: performance.now() - t0 };
    } catch (e) {
      report.init = { ok: false, ms: performance.now() - t0, error: (e as Error).message };
    }
  }
  return report;
}

function text(r: GpuInfoReport): string {
  const lines = [
    `adapter:        ${r.adapter ?? "none"}`,
    ...(r.adapter
      ? [
        `  vendor:       ${r.vendor} (id ${r.vendorId || "?"})`,
        `  architecture: ${r.architecture || "(not reported)"}`,
        `  software:     ${r.software}${r.software ? ` (${r.softwareReason})` : ""}`,
        `  limits:       maxBufferSize ${formatBytes(r.limits!.maxBufferSize)}, ` +
        `maxStorageBufferBindingSize ${formatBytes(r.limits!.maxStorageBufferBindingSize)}`,
        `  memory check: budget ${formatBytes(r.budgetGiB! * 1024 ** 3)} (${r.budgetSource})`,
      ]
      : [`  ${r.error}`]),
    `--backend auto: ${r.auto}`,
    `vulkan loader:  ${r.vulkanLoader || "not installed (libvulkan1)"}`,
    `vulkan drivers: ${r.vulkanIcds.join(", ") || "none"}`,
    `nvidia device:  ${r.nvidiaPresent ? "present" : "absent"}`,
    ...(r.denoWebgpuBackend ? [`DENO_WEBGPU_BACKEND=${r.denoWebgpuBackend}`] : []),
    ...(r.init
      ? [
        r.init.ok
          ? `webgpu backend: started, a 256^2 matMul ran (${r.init.ms.toFixed(0)} ms)`
          : `webgpu backend: FAILED: ${r.init.error}`,
      ]
      : []),
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { json: { type: "boolean" }, init: { type: "boolean" } },
  });
  const r = await gpuInfo(values.init === true);
  console.log(values.json ? JSON.stringify(r) : text(r));
  Deno.exit(r.init && !r.init.ok ? 5 : !r.adapter ? 4 : r.software ? 3 : 0);
}
