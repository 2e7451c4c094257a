/**
 * S-BASE (Clark et al. 2022, after BASE layers, Lewis et al. 2021): in training, the router's
 * exponentiated logits are balanced by Sinkhorn iterations (to `tolerance`, the largest relative
 * deviation of an expert's share from 1/E, at most `maxIterations` iterations; no gradient) and
 * each token takes the top-k experts of the balanced matrix. At evaluation: plain top-k of the
 * logits. The expert output is scaled by the router's softmax probability of that expert, the only
 * path by which the router learns. Capacity factor 2 (the paper's).
 *
 * Options: tolerance (default 1e-3), maxIterations (default 100), temperature (default 0.1):
 * Sinkhorn runs on exp(logits / temperature). At 1 (the literal "exponentiated router logits")
 * the entropic regularisation is strong: the SOFT assignment is balanced, but tokens that share a
 * confident preference all keep it, so the top-1 loads stay uneven. Lower temperatures bring the
 * balanced matrix closer to BASE's hard balanced assignment, at a few more iterations. Measured
 * (d 32, 2 blocks, E = 8, 150 steps on the corpus, last 50 steps): temperature 1 -> busiest expert
 * 39% of tokens, 17% dropped at capacity factor 2, 3.0 iterations; 0.3 -> 29%, 4.7%, 5.6;
 * 0.1 -> 23%, 0.9%, 12.7; validation loss 6.426 / 6.440 / 6.432 (the same within noise).
 */
import * as tf from "@tensorflow/tfjs-core";
import { linear } from "../model/mod.ts";
import {
  meanEntropy,
  optNumber,
  pickChosen,
  routerMatrix,
  softmaxRows,
  topKRows,
} from "./common.ts";
import { sinkhorn } from "./sinkhorn.ts";
import type { Router, RouterFactory, RouterSpec } from "./types.ts";

export const sbase: RouterFactory = Object.assign(
  (spec: RouterSpec): Router => {
    const tol = optNumber(spec.options, "tolerance", 1e-3, "sbase", (v) => v > 0, "> 0");
    const maxIt = optNumber(
      spec.options,
      "maxIterations",
      100,
      "sbase",
      (v) => Number.isInteger(v) && v >= 1,
      "an integer >= 1",
    );
    const temperature = optNumber(spec.options, "temperature", 0.1, "sbase", (v) => v > 0, "> 0");
    const w = routerMatrix(spec.dModel, spec.experts, spec.seed);
    return {
      name: "sbase",
      variables: [w],
      route(x, _ids, ctx) {
        const [T] = x.shape;
        const E = ctx.experts;
        const logits = linear(x, w as unknown as tf.Tensor2D); // [T, E]
        const probs = tf.softmax(logits) as tf.Tensor2D; // [T, E]
        const raw = logits.dataSync() as Float32Array; // the one read-back (see lib/model/readback.ts)
        const p = softmaxRows(raw, T, E);
        let expertIndex: Int32Array;
        let iterations = 0, error = 0;
        if (ctx.training) {
          // Balanced matrix diag(u) K diag(v), K = exp(logits - row max) = p up to row scales,
          // which Sinkhorn's row scaling absorbs; the top-k of a row only needs K_te v_e.
          const K = temperature === 1 ? p : softmaxRows(raw.map((l) => l / temperature), T, E);
          const r = sinkhorn(K, T, E, tol, maxIt);
          iterations = r.iterations, error = r.error;
          const scores = new Float64Array(T * E);
          for (let t = 0; t < T; t++) {
            for (let e = 0; e < E; e++) scores[t * E + e] = K[t * E + e] * r.v[e];
          }
          expertIndex = topKRows(scores, T, E, ctx.k);
        } else expertIndex = topKRows(p, T, E, ctx.k);
        return {
          expertIndex,
          combine: pickChosen(probs, expertIndex, ctx.k), // [T, k]
          metrics: {
            entropy: meanEntropy(p, T, E),
            sinkhornIterations: iterations,
            sinkhornError: error,
          },
        };
      },
    };
  },
  { routerName: "sbase", countingLabel: "S-Base", defaultCapacityFactor: 2 },
);
