/**
 * The batched expert path (lib/model/moe_batched.ts) on webgpu (here Mesa's software adapter):
 * the same values and gradients as the per-expert device path on a tiny routed FFN with dropped
 * choices and an empty expert, and the same losses over a few training steps of a tiny model
 * (two-pass routing included). test/model.test.ts checks the same on cpu and wasm.
 */
import { afterAll, describe, expect, it } from "vitest";
import { initBackend } from "../lib/backend/mod.ts";
import { setExpertPath, TransformerLM } from "../lib/model/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { AdamW, trainStepAsync } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";
import { disposeCase, ffnCase, ffnRun, gradNames, relDiff } from "./_experts.ts";

afterAll(async () => {
  await initBackend("cpu");
});

describe("batched experts on webgpu", () => {
  it(
    "equal the per-expert device path: values and gradients, k = 1 and 2, with and without combine weights",
    async () => {
      await initBackend("webgpu");
      for (const [k, withCombine] of [[1, true], [2, true], [1, false]] as const) {
        const x = ffnCase({ T: 24, d: 8, E: 4, k, withCombine });
        try {
          expect(x.disp.dropped).toBeGreaterThan(0);
          const a = await ffnRun(x, "batched"), b = await ffnRun(x, "per-expert");
          expect(relDiff(a.y, b.y), `k=${k} value`).toBeLessThan(1e-5);
          const names = gradNames(x);
          a.grads.forEach((g, i) =>
            expect(relDiff(g, b.grads[i]), `k=${k} d${names[i]}`).toBeLessThan(1e-5)
          );
          // the empty expert's weight gradients are exactly zero
          const off = withCombine ? 2 : 1;
          for (const i of [off + x.E - 1, off + 2 * x.E - 1]) {
            expect(a.grads[i].every((v) => v === 0), names[i]).toBe(true);
          }
        } finally {
          disposeCase(x);
        }
      }
    },
    120_000,
  );

  it("train a tiny model to the same losses as the per-expert path (3 steps, S-BASE)", async () => {
    await initBackend("webgpu");
    const losses = async (batched: boolean) => {
      const model = new TransformerLM({
        vocabSize: 300,
        seqLen: 16,
        dModel: 16,
        layers: 2,
        heads: 2,
        experts: 4,
        routingFrequency: 1,
        k: 1,
        capacityFactor: 1,
        router: resolveRouter("sbase"),
        seed: 5,
      });
      const opt = new AdamW(model.namedVariables(), {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0.1,
      });
      const data = new Rng(2), rng = new Rng(3), out: number[] = [];
      setExpertPath(batched ? "batched" : "per-expert");
      try {
        for (let s = 0; s < 3; s++) {
          const batch = Int32Array.from({ length: 2 * 17 }, () => data.int(300));
          out.push((await trainStepAsync(model, opt, batch, { lr: 1e-2, gradClip: 1, rng })).loss);
        }
      } finally {
        setExpertPath(undefined);
        opt.dispose();
        model.dispose();
      }
      return out;
    };
    const a = await losses(true), b = await losses(false);
    a.forEach((l, i) => expect(Math.abs(l - b[i]), `step ${i}`).toBeLessThan(1e-4));
  }, 120_000);
});
