/**
 * Honest adapters (lib/backend/adapter.ts): how a software adapter is told from a GPU, the
 * one-line label that runs record, the warning for an explicit webgpu run on a software adapter,
 * `auto` passing a software adapter over, and the error when Vulkan has no driver.
 */
import { describe, expect, it } from "vitest";
import {
  adapterLabel,
  describeAdapter,
  isSoftwareAdapter,
  noAdapterMessage,
  probeGpuAdapter,
  softwareReason,
  vendorName,
} from "../lib/backend/mod.ts";

const ROOT = new URL("../", import.meta.url);

/** Runs TypeScript in a fresh Deno process at the repository root. */
async function runDeno(code: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", code],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** What Deno 2.9's requestAdapter() gave on this machine (Mesa lavapipe) and on an H200. */
const LAVAPIPE = {
  info: {
    vendor: "65541",
    architecture: "",
    device: "0",
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
    isFallbackAdapter: true,
  },
  limits: { maxBufferSize: 2 ** 31 - 1, maxStorageBufferBindingSize: 2 ** 27 },
};
const H200 = {
  info: {
    vendor: "4318",
    architecture: "",
    device: "8837",
    description: "NVIDIA H200",
    isFallbackAdapter: false,
  },
  limits: { maxBufferSize: 2 ** 40, maxStorageBufferBindingSize: 2 ** 31 - 1 },
};

describe("adapter classification", () => {
  it("names vendors from wgpu's decimal PCI ids", () => {
    expect(vendorName("4318")).toBe("nvidia");
    expect(vendorName("0x10de")).toBe("nvidia");
    expect(vendorName("4098")).toBe("amd");
    expect(vendorName("32902")).toBe("intel");
    expect(vendorName("65541")).toBe("mesa");
    expect(vendorName("12345")).toBe("vendor 0x3039");
    expect(vendorName("NVIDIA")).toBe("nvidia");
  });

  it("tells software adapters by isFallbackAdapter, description or Mesa's vendor id", () => {
    expect(softwareReason(LAVAPIPE.info)).toBe("isFallbackAdapter");
    expect(softwareReason({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" })).toBe(
      "description names llvmpipe",
    );
    expect(softwareReason({ description: "SwiftShader Device (Subzero)" })).toMatch(
      /swiftshader/i,
    );
    expect(softwareReason({ description: "Microsoft Basic Render Driver" })).toMatch(/basic/i);
    expect(softwareReason({ description: "mystery", vendor: "65541" })).toMatch(/Mesa/);
    expect(softwareReason(H200.info)).toBe("");
    expect(isSoftwareAdapter({ description: "AMD Radeon RX 7900 XTX (RADV NAVI31)" })).toBe(false);
    expect(isSoftwareAdapter({ description: "NVIDIA H200", isFallbackAdapter: true })).toBe(true);
  });

  it("describes an adapter with its vendor, limits and a one-line label", () => {
    const soft = describeAdapter(LAVAPIPE);
    expect(soft).toMatchObject({
      description: "llvmpipe (LLVM 15.0.6, 256 bits)",
      vendor: "mesa",
      vendorId: "65541",
      software: true,
      softwareReason: "isFallbackAdapter",
      limits: { maxBufferSize: 2 ** 31 - 1, maxStorageBufferBindingSize: 2 ** 27 },
    });
    expect(adapterLabel(soft)).toBe("llvmpipe (LLVM 15.0.6, 256 bits) [mesa, software]");
    const gpu = describeAdapter(H200);
    expect(gpu.software).toBe(false);
    expect(adapterLabel(gpu)).toBe("NVIDIA H200 [nvidia]");
    expect(adapterLabel({ ...gpu, architecture: "hopper" })).toBe("NVIDIA H200 [nvidia, hopper]");
  });

  it("the no-adapter error names what is missing and the packages", () => {
    const none = { loader: "", icds: [], icdOverride: "", nvidiaPresent: true };
    const msg = noAdapterMessage("requestAdapter() returned null", {
      DENO_WEBGPU_BACKEND: "vulkan",
    }, none);
    expect(msg).toMatch(/^webgpu backend unavailable: .* with DENO_WEBGPU_BACKEND=vulkan/);
    expect(msg).toMatch(/libvulkan\.so\.1 is not installed \(Debian: libvulkan1\)/);
    expect(msg).toMatch(/no Vulkan driver \(ICD\) found/);
    expect(msg).toMatch(/NVIDIA GPU is present but its Vulkan ICD \(nvidia_icd\.json\) is not/);
    expect(msg).toMatch(/NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics/);
    expect(msg).toMatch(/mesa-vulkan-drivers.*--backend wasm$/);
    expect(msg).not.toMatch(/\n/);
  });
});

describe("adapters on this machine", () => {
  it("this machine's adapter is found and classified (software here: Mesa lavapipe)", async () => {
    const a = await probeGpuAdapter();
    console.log("adapter here:", a ? JSON.stringify(a) : "none");
    if (!a) return;
    expect(a.description.length).toBeGreaterThan(0);
    expect(a.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    if (/llvmpipe|lavapipe/.test(a.description)) expect(a.software).toBe(true);
  });

  it("explicit webgpu on a software adapter works and warns once on stderr; auto takes wasm", async () => {
    const r = await runDeno(
      `import { initBackend } from "./lib/backend/mod.ts";
       const a = await initBackend("auto");
       const w1 = await initBackend("webgpu");
       const w2 = await initBackend("webgpu");
       console.log(JSON.stringify({ a, w1, w2 }));`,
    );
    expect(r.code).toBe(0);
    const { a, w1, w2 } = JSON.parse(r.stdout.trim().split("\n").pop()!);
    if (!w1.software) return; // a hardware adapter: nothing to warn about
    expect(a.name).toBe("wasm");
    expect(a.gpuSkipped).toMatch(/\[.*software\]: software adapter \(/);
    expect(w1.name).toBe("webgpu");
    expect(w1.adapter).toMatch(/\[.*software\]$/);
    expect(w1.gpu.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(w2.adapter).toBe(w1.adapter);
    const warnings = r.stderr.split("\n").filter((l) =>
      l.startsWith("warning: the webgpu backend")
    );
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toMatch(/runs on a software adapter, .*: the CPU emulates the GPU/);
  });

  it("DENO_WEBGPU_BACKEND=vulkan with no driver: webgpu fails naming the packages, auto gives wasm", async () => {
    const r = await runDeno(
      `import { initBackend } from "./lib/backend/mod.ts";
       console.log(JSON.stringify(await initBackend("auto")));
       try { await initBackend("webgpu"); console.log("NO ERROR"); }
       catch (e) { console.log("ERROR " + (e as Error).message); }`,
      { VK_ICD_FILENAMES: "/nonexistent.json", DENO_WEBGPU_BACKEND: "vulkan" },
    );
    expect(r.code).toBe(0);
    const [auto, err] = r.stdout.trim().split("\n");
    console.log(err);
    expect(JSON.parse(auto).name).toBe("wasm");
    expect(JSON.parse(auto).gpuSkipped).toBeUndefined();
    expect(err).toMatch(/^ERROR webgpu backend unavailable: .*DENO_WEBGPU_BACKEND=vulkan/);
    expect(err).toMatch(/requestAdapter\(\) returned null/);
    expect(err).toMatch(/no Vulkan driver \(ICD\) found \(VK_ICD_FILENAMES=\/nonexistent\.json\)/);
    expect(err).toMatch(/libvulkan1.*nvidia_icd\.json.*mesa-vulkan-drivers.*--backend wasm$/);
  });

  it("lib/cli/gpu_info.ts prints the adapter and exits 3 on a software adapter", async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "lib/cli/gpu_info.ts", "--json"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    if (r.adapter === null) expect(out.code).toBe(4);
    else expect(out.code).toBe(r.software ? 3 : 0);
    expect(r.auto).toBe(r.software === false ? "webgpu" : "wasm");
  });
});
