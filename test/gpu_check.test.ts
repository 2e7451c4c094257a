/**
 * scripts/gpu-check.sh on this machine's software adapter, shrunk through its knobs (tiny models,
 * a tiny sweep spec for the slice, a 110 s deadline): it refuses a software adapter without
 * --allow-software, and with it writes every check under OUTDIR and a summary, in time.
 */
import { describe, expect, it } from "vitest";
import { probeGpuAdapter } from "../lib/backend/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const TINY = {
  GPU_CHECK_TOTAL_S: "110",
  GPU_CHECK_SLICE_S: "25",
  GPU_CHECK_MEASURE_S: "4",
  GPU_CHECK_DMODELS: "16 32",
  GPU_CHECK_LAYERS: "2",
  GPU_CHECK_HEADS: "2",
  GPU_CHECK_EXPERTS: "8",
  GPU_CHECK_BATCH: "2",
  GPU_CHECK_SEQ: "16",
  GPU_CHECK_VOCAB: "512",
  GPU_CHECK_STEPS: "2",
};

async function gpuCheck(out: string, args: string[], env: Record<string, string>) {
  const t0 = performance.now();
  const r = await new Deno.Command("bash", {
    args: [`${ROOT}scripts/gpu-check.sh`, out, ...args],
    cwd: ROOT,
    env: { ...env, GPU_CHECK_DENO: Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(240_000),
  }).output();
  const dec = new TextDecoder();
  return {
    code: r.code,
    out: dec.decode(r.stdout) + dec.decode(r.stderr),
    wallS: (performance.now() - t0) / 1000,
  };
}

describe("scripts/gpu-check.sh", async () => {
  const adapter = await probeGpuAdapter();
  const software = adapter?.software === true;

  it.skipIf(!software)("refuses a software adapter without --allow-software", async () => {
    const out = Deno.makeTempDirSync({ prefix: "gpu-check-refuse-" });
    const r = await gpuCheck(out, [], TINY);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/REFUSED: the only WebGPU adapter is a software one/);
    expect(Deno.readTextFileSync(`${out}/gpu-check.log`)).toMatch(/REFUSED/);
    expect([...Deno.readDirSync(`${out}/throughput`)]).toEqual([]);
  });

  it.skipIf(!adapter)(
    "with --allow-software: every check, a summary, within the deadline",
    async () => {
      const out = Deno.makeTempDirSync({ prefix: "gpu-check-" });
      const spec = `${out}/tiny-spec.json`;
      Deno.writeTextFileSync(
        spec,
        JSON.stringify({
          name: "gpu-check-tiny",
          routers: ["S-Base"],
          sizes: [{ dModel: 16, layers: 2, heads: 2 }],
          experts: [1, 4],
          budget: { steps: 3 },
          train: {
            batchSize: 2,
            seqLen: 16,
            vocabSize: 2048,
            backend: "webgpu",
            evalEvery: 0,
            evalBatches: 1,
            warmupSteps: 1,
          },
          checkpointEvery: 2,
        }),
      );
      const r = await gpuCheck(out, ["--allow-software"], { ...TINY, GPU_CHECK_SLICE_SPEC: spec });
      console.log(`gpu-check: exit ${r.code} in ${r.wallS.toFixed(1)} s\n${r.out}`);
      expect(r.code).toBe(0);
      expect(r.wallS).toBeLessThan(120);
      const summary = Deno.readTextFileSync(`${out}/summary.txt`);
      expect(summary).toMatch(/^adapter: .*\[.*\]/);
      if (software) expect(summary).toMatch(/\(SOFTWARE\)/);
      expect(summary).toMatch(/parity webgpu vs wasm .*: OK/);
      for (const m of ["d16 x 2, E = 1", "d16 x 2, E = 8", "d32 x 2, E = 1", "d32 x 2, E = 8"]) {
        expect(summary).toMatch(new RegExp(`${m}\\s+\\d+\\s+\\d+\\s+-`)); // webgpu, wasm, no torch
      }
      expect(summary).toMatch(/gpu preset slice \(\d+ s\): 2 run\(s\) finished/);
      const phases = Deno.readTextFileSync(`${out}/phases.jsonl`).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      expect(phases.at(-1)).toMatchObject({ phase: "total", status: "ok" });
      expect(phases.at(-1).seconds).toBeLessThanOrEqual(110);
      const adapterJson = JSON.parse(Deno.readTextFileSync(`${out}/adapter.json`));
      expect(adapterJson.init.ok).toBe(true);
      // The slice's runs went into a resumable sweep folder and named their adapter.
      const ends = Deno.readTextFileSync(`${out}/slice-progress.jsonl`).trim().split("\n")
        .map((l) => JSON.parse(l)).filter((p) => p.event === "end");
      expect(ends.length).toBe(2);
      expect(ends[0].adapter).toBe(adapterJson.adapter);
      expect([...Deno.readDirSync(`${out}/sweep/runs`)].length).toBe(2);
    },
  );
});
