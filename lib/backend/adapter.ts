/**
 * Which WebGPU adapter Deno offers, and whether it is a GPU at all.
 *
 * Deno 2 exposes `navigator.gpu` with no flag; its wgpu picks a native API (Vulkan on Linux, or
 * OpenGL/EGL when no Vulkan driver loads; `DENO_WEBGPU_BACKEND=vulkan` forces Vulkan). On a machine
 * without a GPU driver that can still be an adapter: Mesa's llvmpipe (through Vulkan "lavapipe"
 * or through OpenGL), which runs every shader on the CPU. How a software adapter is told here:
 *
 * 1. `adapter.info.isFallbackAdapter` (Deno 2.x sets it for wgpu's CPU device type: llvmpipe by
 *    Vulkan and by OpenGL both report true), or the older `adapter.isFallbackAdapter`;
 * 2. the description (`info.description`: the driver's device name) naming a software rasteriser:
 *    llvmpipe, lavapipe, softpipe, SwiftShader, Microsoft Basic Render Driver (WARP);
 * 3. the vendor: wgpu reports the PCI vendor id as a decimal string ("4318" = 0x10de NVIDIA);
 *    0x10005 is Mesa's own id, used only by its CPU drivers (llvmpipe/lavapipe), 0x1ae0 with
 *    device 0xc0de is SwiftShader.
 *
 * Measured here (Debian 12, Mesa 22.3 lavapipe, Deno 2.9): description "llvmpipe (LLVM 15.0.6,
 * 256 bits)", vendor "65541" (0x10005, Mesa), architecture "", device "0", isFallbackAdapter true,
 * maxBufferSize 2 GiB - 1, maxStorageBufferBindingSize 128 MiB. With
 * `DENO_WEBGPU_BACKEND=vulkan` and no Vulkan driver `requestAdapter()` resolves to null.
 */
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** The limits of an adapter that bound one tensor (bytes). */
export interface GpuLimits {
  /** Largest GPUBuffer. */
  maxBufferSize: number;
  /** Largest storage-buffer binding: one tensor a shader reads or writes (wgpu caps it at 2 GiB - 1). */
  maxStorageBufferBindingSize: number;
}

export interface GpuAdapterInfo {
  /** The driver's device name, e.g. "NVIDIA H200" or "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** The vendor by name where the id is known ("nvidia", "amd", "intel", "mesa", ...), else as given. */
  vendor: string;
  /** The vendor as the adapter gave it (wgpu: the PCI vendor id in decimal, "4318"). */
  vendorId: string;
  /** GPU architecture where the driver tells it (often empty under wgpu). */
  architecture: string;
  /** Device id as given ("0" for llvmpipe). */
  device: string;
  isFallbackAdapter: boolean;
  /** True for software adapters (llvmpipe, lavapipe, SwiftShader, WARP or a fallback adapter). */
  software: boolean;
  /** Why it counts as software (empty for a hardware adapter). */
  softwareReason: string;
  limits: GpuLimits;
}

/** PCI vendor ids of GPU makers (and of software renderers). */
export const GPU_VENDORS: Record<number, string> = {
  0x10de: "nvidia",
  0x1002: "amd",
  0x1022: "amd",
  0x8086: "intel",
  0x13b5: "arm",
  0x5143: "qualcomm",
  0x106b: "apple",
  0x1010: "imgtec",
  0x1414: "microsoft",
  0x1ae0: "google",
  0x10005: "mesa",
};

/** Vendor id → name ("4318" or "0x10de" → "nvidia"); a name or an unknown id is returned as given. */
export function vendorName(vendor: string): string {
  const v = vendor.trim();
  const id = /^\d+$/.test(v) ? Number(v) : /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : NaN;
  if (Number.isFinite(id)) return GPU_VENDORS[id] ?? `vendor 0x${id.toString(16)}`;
  return v.toLowerCase();
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b|software/i;

/** Why adapter info describes a software (CPU) implementation, or "" when it does not. */
export function softwareReason(
  info: { description?: string; device?: string; vendor?: string; isFallbackAdapter?: boolean },
): string {
  if (info.isFallbackAdapter === true) return "isFallbackAdapter";
  const name = `${info.description ?? ""} ${info.device ?? ""}`;
  const m = SOFTWARE.exec(name);
  if (m) return `description names ${m[0]}`;
  if (info.vendor !== undefined && vendorName(info.vendor) === "mesa") {
    return "vendor 0x10005 (Mesa's CPU drivers)";
  }
  return "";
}

/** Whether adapter info describes a software (CPU) implementation. */
export function isSoftwareAdapter(
  info: { description?: string; device?: string; vendor?: string; isFallbackAdapter?: boolean },
): boolean {
  return softwareReason(info) !== "";
}

/**
 * One line naming an adapter: "NVIDIA H200 [nvidia]", "llvmpipe (LLVM 15.0.6, 256 bits) [mesa,
 * software]". Used in run metrics (backend_info.adapter), sweep results and the report.
 */
export function adapterLabel(a: GpuAdapterInfo): string {
  const tags = [a.vendor, a.architecture, a.software ? "software" : ""].filter((t) => t !== "");
  return `${a.description}${tags.length ? ` [${tags.join(", ")}]` : ""}`;
}

interface RawAdapter {
  info?: {
    description?: string;
    vendor?: string;
    architecture?: string;
    device?: string;
    isFallbackAdapter?: boolean;
  };
  isFallbackAdapter?: boolean;
  limits?: { maxBufferSize?: number; maxStorageBufferBindingSize?: number };
}

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<RawAdapter | null>;
}

/** GpuAdapterInfo from what `requestAdapter()` resolved to (exported for tests). */
export function describeAdapter(adapter: RawAdapter): GpuAdapterInfo {
  const info = adapter.info ?? {};
  const isFallbackAdapter = info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
  const vendorId = info.vendor ?? "";
  const reason = softwareReason({ ...info, isFallbackAdapter });
  return {
    description: info.description || info.device || "unknown adapter",
    vendor: vendorId ? vendorName(vendorId) : "",
    vendorId,
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    isFallbackAdapter,
    software: reason !== "",
    softwareReason: reason,
    limits: {
      maxBufferSize: adapter.limits?.maxBufferSize ?? 256 * 1024 ** 2,
      maxStorageBufferBindingSize: adapter.limits?.maxStorageBufferBindingSize ?? 128 * 1024 ** 2,
    },
  };
}

/**
 * Vulkan's Wayland probe prints "error: XDG_RUNTIME_DIR is invalid or not set" on headless
 * machines; a private empty runtime dir silences it and changes nothing else.
 */
export function quietVulkan(): void {
  if (!process.env.XDG_RUNTIME_DIR) {
    process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), "xdg-runtime-"));
  }
}

let adapterProbe: Promise<GpuAdapterInfo | undefined> | undefined;
let probeFailure = "";

/** The WebGPU adapter tfjs would get (high-performance), or undefined when there is none. */
export function probeGpuAdapter(timeoutMs = 10_000): Promise<GpuAdapterInfo | undefined> {
  adapterProbe ??= (async () => {
    const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
    if (!gpu) {
      probeFailure = "this runtime has no navigator.gpu";
      return undefined;
    }
    quietVulkan();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    try {
      const adapter = await Promise.race([
        gpu.requestAdapter({ powerPreference: "high-performance" }),
        timeout,
      ]);
      if (adapter === "timeout") {
        probeFailure = `requestAdapter() did not answer within ${timeoutMs / 1000} s`;
        return undefined;
      }
      if (!adapter) {
        probeFailure = "requestAdapter() returned null";
        return undefined;
      }
      return describeAdapter(adapter);
    } catch (e) {
      probeFailure = `requestAdapter() failed: ${(e as Error).message}`;
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  })();
  return adapterProbe;
}

/** Why the last probe found no adapter ("" when it found one or has not run). */
export function gpuProbeFailure(): string {
  return probeFailure;
}

const LIB_DIRS = [
  "/usr/lib/x86_64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib64",
  "/usr/lib",
  "/usr/local/lib",
];
const ICD_DIRS = [
  "/etc/vulkan/icd.d",
  "/usr/share/vulkan/icd.d",
  "/usr/local/share/vulkan/icd.d",
];

/** What this machine has of Vulkan: the loader library and the driver manifests (ICDs). */
export interface VulkanFacts {
  /** Path of libvulkan.so.1, or "" when no library directory holds it. */
  loader: string;
  /** Driver manifests the loader would read (file names), from VK_ICD_FILENAMES/VK_DRIVER_FILES or the ICD folders. */
  icds: string[];
  /** The environment variable that overrides the ICD folders, when one is set. */
  icdOverride: string;
  /** An NVIDIA kernel driver device node (/dev/nvidia0) or nvidia-smi is present. */
  nvidiaPresent: boolean;
}

export function vulkanFacts(env: Record<string, string | undefined> = process.env): VulkanFacts {
  const ld = (env.LD_LIBRARY_PATH ?? "").split(":").filter((d) => d !== "");
  const loader =
    [...ld, ...LIB_DIRS].map((d) => join(d, "libvulkan.so.1")).find((p) => existsSync(p)) ?? "";
  const overrideName = env.VK_DRIVER_FILES
    ? "VK_DRIVER_FILES"
    : env.VK_ICD_FILENAMES
    ? "VK_ICD_FILENAMES"
    : "";
  let icds: string[];
  if (overrideName) {
    icds = env[overrideName]!.split(":").filter((p) => p !== "" && existsSync(p));
  } else {
    icds = ICD_DIRS.flatMap((d) => {
      try {
        return readdirSync(d).filter((f) => f.endsWith(".json"));
      } catch {
        return [];
      }
    });
  }
  const nvidiaPresent = existsSync("/dev/nvidia0") ||
    (env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(join(d, "nvidia-smi")));
  return {
    loader,
    icds,
    icdOverride: overrideName ? `${overrideName}=${env[overrideName]}` : "",
    nvidiaPresent,
  };
}

/**
 * The error for "no WebGPU adapter": what was probed, what of Vulkan is installed, and what to
 * install (one line).
 */
export function noAdapterMessage(
  failure: string,
  env: Record<string, string | undefined> = process.env,
  facts: VulkanFacts = vulkanFacts(env),
): string {
  const forced = env.DENO_WEBGPU_BACKEND
    ? ` with DENO_WEBGPU_BACKEND=${env.DENO_WEBGPU_BACKEND}`
    : "";
  const loader = facts.loader
    ? `the Vulkan loader is ${facts.loader}`
    : "the Vulkan loader libvulkan.so.1 is not installed (Debian: libvulkan1)";
  const icds = facts.icds.length
    ? `Vulkan drivers (ICDs) found: ${facts.icds.join(", ")}`
    : `no Vulkan driver (ICD) found${facts.icdOverride ? ` (${facts.icdOverride})` : ""}`;
  const nvidia = facts.nvidiaPresent && !facts.icds.some((f) => /nvidia/i.test(f))
    ? "; an NVIDIA GPU is present but its Vulkan ICD (nvidia_icd.json) is not: install the " +
      "NVIDIA driver's Vulkan/GL libraries, or in a container set NVIDIA_DRIVER_CAPABILITIES to " +
      "include graphics (deploy/gpu/)"
    : "";
  return `webgpu backend unavailable: navigator.gpu offers no adapter here${forced} ` +
    `(${failure || "no adapter"}); ${loader}; ${icds}${nvidia}. For an NVIDIA GPU install ` +
    `libvulkan1, libegl1 and libxext6 with the NVIDIA driver's Vulkan ICD (nvidia_icd.json; ` +
    `containers: NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics); to test the GPU path on ` +
    `the CPU install Mesa's software Vulkan (Debian: apt-get install libvulkan1 ` +
    `mesa-vulkan-drivers); check with vulkaninfo --summary (vulkan-tools); or use --backend wasm`;
}

let warned = false;

/**
 * Warns once per process on stderr that webgpu runs on a software adapter (an explicit
 * `--backend webgpu` there works, for testing). Returns whether it printed.
 */
export function warnSoftwareOnce(a: GpuAdapterInfo): boolean {
  if (warned || !a.software) return false;
  warned = true;
  const facts = vulkanFacts();
  const nvidia = facts.nvidiaPresent
    ? " An NVIDIA GPU is present but WebGPU does not see it: its Vulkan ICD (nvidia_icd.json) " +
      "is missing (in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics; see " +
      "deploy/gpu/)."
    : "";
  console.error(
    `warning: the webgpu backend runs on a software adapter, ${adapterLabel(a)} ` +
      `(${a.softwareReason}): the CPU emulates the GPU, slower than --backend wasm; good for ` +
      `checking the GPU path only.${nvidia}`,
  );
  return true;
}
