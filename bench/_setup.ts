/**
 * The model, optimiser and random batches every training benchmark builds: a TransformerLM with
 * half of its blocks routed (R = 0.5, top-1, the router's default capacity factor), AdamW with the
 * training defaults, and uniform random token batches (throughput does not depend on the text).
 */
import type { BackendInfo } from "../lib/backend/mod.ts";
import { TransformerLM } from "../lib/model/mod.ts";
import { resolveRouter } from "../lib/routers/mod.ts";
import { AdamW } from "../lib/train/mod.ts";
import { Rng } from "../lib/util/random.ts";

export interface BenchShape {
  vocabSize: number;
  seqLen: number;
  batchSize: number;
  dModel: number;
  layers: number;
  heads: number;
  router: string;
  experts: number;
}

export function benchModel(s: BenchShape, dataSeed = 2): {
  model: TransformerLM;
  opt: AdamW;
  /** A new batch of batchSize x (seqLen + 1) token ids. */
  batch: () => Int32Array;
} {
  const factory = resolveRouter(s.router);
  const model = new TransformerLM({
    vocabSize: s.vocabSize,
    seqLen: s.seqLen,
    dModel: s.dModel,
    layers: s.layers,
    heads: s.heads,
    experts: s.experts,
    routingFrequency: 0.5,
    k: 1,
    capacityFactor: factory.defaultCapacityFactor,
    router: factory,
    seed: 1,
  });
  const opt = new AdamW(model.namedVariables(), {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
  });
  const data = new Rng(dataSeed);
  const n = s.batchSize * (s.seqLen + 1);
  return { model, opt, batch: () => Int32Array.from({ length: n }, () => data.int(s.vocabSize)) };
}

/** The wasm backend's matMul path, for the benchmarks' headers: "OpenBLAS (Haswell, 2 thread(s))". */
export function matMulPath(info: BackendInfo): string {
  return info.blas?.name === "openblas"
    ? `OpenBLAS (${info.blas.core}, ${info.blas.threads} thread(s))`
    : `XNNPACK (${info.threads ?? 1} thread(s))`;
}
