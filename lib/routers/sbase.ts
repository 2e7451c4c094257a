/**
 * S-BASE (Clark et al. 2022, after BASE layers, Lewis et al. 2021): in training, the router's
 * exponentiated logits are balanced by Sinkhorn iterations (to `tolerance`, the largest relative
 * deviation of an expert's share from 1/E, at most `maxIterations` iterations; no gradient) and
 * each token takes the top-k experts of the balanced matrix. At evaluation: plain top-k of the
 * logits (with `balanceBias`, of the logits plus the bias). The expert output is scaled by the
 * router's softmax probability of that expert, the only path by which the router learns.
 * Capacity factor 2 (the paper's).
 *
 * Options (defaults):
 * - tolerance (1e-3), maxIterations (100); temperature (1): Sinkhorn runs on
 *   exp(logits / temperature), 1 being the paper's "exponentiated router logits".
 * - gate ("softmax"): the chosen expert's output is scaled by the router's softmax probability;
 *   "sigmoid": by sigmoid of its logit (Megatron-LM's choice); "straight": gate 1 forward with
 *   the softmax gate's gradient.
 * - initStd (0.02): the router matrix's initial std; or initStdPerExpert: initStd = that x E.
 *   routerDecay (true): weight decay on it; routerLr (1): its learning-rate multiplier, or
 *   routerLrTimesE: routerLr = min(1, that / E), full rate up to that many experts (the two
 *   exclude each other).
 * - balanceBias (false): a per-expert bias b [E] learns the centred log of Sinkhorn's column
 *   scales (its own regression loss, learning rate x biasLr, default 10; no gradient reaches the
 *   model), and evaluation routes by top-k of logits / temperature + b: the choice training's
 *   balancing would make on average, without looking at the rest of the batch. Training is
 *   unchanged, bit for bit (test/routers.test.ts).
 * - evalBalanced (false): a diagnostic: evaluate with training's batch-balanced choice (it looks
 *   at the whole evaluation batch, later positions included, so it is not a causal model).
 *
 * What each option did to the loss, with the commands that measure it: docs/routers.md. In short:
 * at d_model 128-160 and E >= 16 the default router stays near uniform, the balanced training
 * choice and the top-1 evaluation choice agree for only 45-63% of tokens, and S-BASE's loss rises
 * from E = 4 to E = 16-32; a wider initialisation at large E (initStdPerExpert 0.005), the
 * balancing bias and a slower router at large E (routerLrTimesE 8) make it fall (d_model 160, two
 * seeds: 3.735 / 3.687 / 3.686 at E = 4 / 16 / 32, against 3.735 / 3.780 / 3.788).
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  agreementWithTop1,
  optBool,
  optChoice,
  optNumber,
  pickChosen,
  softmaxRows,
  topKRows,
} from "./common.ts";
import { stopGradient } from "../nn/mod.ts";
import { defineRouter } from "./define.ts";
import { ROUTER_LABELS } from "./names.ts";
import { sinkhorn } from "./sinkhorn.ts";

/**
 * [T, k] gate of the chosen experts: the softmax probability, sigmoid of the logit, or "straight":
 * 1 in the forward pass with the softmax probability's gradient (p + stopGradient(1 - p)), so the
 * expert output keeps its full scale while the router learns as with the softmax gate.
 */
function gateOf(
  gate: "softmax" | "sigmoid" | "straight",
  logits: tf.Tensor2D, // [T, E]
  probs: () => tf.Tensor2D, // [T, E]
  expertIndex: Int32Array, // [T * k]
  k: number,
): tf.Tensor2D {
  if (gate === "sigmoid") return pickChosen(tf.sigmoid(logits) as tf.Tensor2D, expertIndex, k);
  const p = pickChosen(probs(), expertIndex, k);
  return gate === "straight" ? tf.add(p, stopGradient(tf.sub(1, p))) as tf.Tensor2D : p;
}

/** scale x logits + b, row by row: logits [T * E], b [E]. */
function biased(
  logits: Float32Array,
  scale: number,
  b: ArrayLike<number>,
  T: number,
  E: number,
): Float64Array {
  const out = new Float64Array(T * E);
  for (let t = 0; t < T; t++) {
    for (let e = 0; e < E; e++) out[t * E + e] = scale * logits[t * E + e] + b[e];
  }
  return out;
}

/**
 * A positive setting given either plainly (`plain`, default `fallback`) or as a rule in E (`perE`,
 * turned into the setting by `fromPerE`); both at once is refused. Used for the router matrix's
 * initial std (initStd, or initStdPerExpert x E) and its learning-rate multiplier (routerLr, or
 * min(1, routerLrTimesE / E)).
 */
function plainOrPerE(
  options: Record<string, unknown> | undefined,
  plain: string,
  fallback: number,
  perE: string,
  fromPerE: (v: number) => number,
  rule: string,
): number {
  const v = optNumber(options, perE, 0, "sbase", (x) => x > 0, "> 0");
  if (v && options?.[plain] !== undefined) {
    throw new Error(
      `sbase options ${plain} and ${perE} both given: give one (${rule} sets ${plain})`,
    );
  }
  return v ? fromPerE(v) : optNumber(options, plain, fallback, "sbase", (x) => x > 0, "> 0");
}

export const sbase = defineRouter({
  id: "sbase",
  label: ROUTER_LABELS.sbase,
  scores: (spec) => ({
    initStd: plainOrPerE(
      spec.options,
      "initStd",
      0.02,
      "initStdPerExpert",
      (v) => v * spec.experts,
      "initStdPerExpert x E",
    ),
    decay: optBool(spec.options, "routerDecay", true),
    lrScale: plainOrPerE(
      spec.options,
      "routerLr",
      1,
      "routerLrTimesE",
      (v) => Math.min(1, v / spec.experts),
      "min(1, routerLrTimesE / E)",
    ),
  }),
  create(spec) {
    const tol = optNumber(spec.options, "tolerance", 1e-3, "sbase", (v) => v > 0, "> 0");
    const maxIt = optNumber(
      spec.options,
      "maxIterations",
      100,
      "sbase",
      (v) => Number.isInteger(v) && v >= 1,
      "an integer >= 1",
    );
    const temperature = optNumber(spec.options, "temperature", 1, "sbase", (v) => v > 0, "> 0");
    const gate = optChoice(
      spec.options,
      "gate",
      ["softmax", "sigmoid", "straight"],
      "softmax",
      "sbase",
    );
    const evalBalanced = optBool(spec.options, "evalBalanced", false);
    // The balancing bias b [E]: a running estimate of Sinkhorn's log column scales (centred),
    // trained only by its own regression loss; evaluation routes by top-1 of logits + b.
    const useBias = optBool(spec.options, "balanceBias", false);
    const biasLr = optNumber(spec.options, "biasLr", 10, "sbase", (v) => v > 0, "> 0");
    const bias = useBias ? tf.variable(tf.zeros([spec.experts]), true) : undefined;
    return {
      ...(bias
        ? { variables: [bias], auxVariables: [bias], lrScales: new Map([[bias, biasLr]]) }
        : {}),
      ...(bias ? { dispose: () => bias.dispose() } : {}),
      choose({ T, E, logits, hostLogits, p, probs }, ctx) {
        let expertIndex: Int32Array = new Int32Array(0); // [T * k]
        let iterations = 0, error = 0;
        let auxLoss: tf.Scalar | undefined;
        const b = bias ? bias.dataSync() : undefined; // [E]
        if (ctx.training || evalBalanced) {
          // Balanced matrix diag(u) K diag(v), K = exp(logits - row max) = p up to row scales,
          // which Sinkhorn's row scaling absorbs; the top-k of a row only needs K_te v_e.
          const K = temperature === 1
            ? p
            : softmaxRows(hostLogits.map((l) => l / temperature), T, E);
          const r = sinkhorn(K, T, E, tol, maxIt);
          iterations = r.iterations, error = r.error;
          const scores = new Float64Array(T * E);
          for (let t = 0; t < T; t++) {
            for (let e = 0; e < E; e++) scores[t * E + e] = K[t * E + e] * r.v[e];
          }
          expertIndex = topKRows(scores, T, E, ctx.k);
          if (bias && ctx.training) {
            let mean = 0;
            for (let e = 0; e < E; e++) mean += Math.log(r.v[e]) / E;
            const target = tf.tensor1d(Array.from(r.v, (x) => Math.log(x) - mean)); // [E]
            auxLoss = tf.mean(tf.square(tf.sub(bias, target)));
          }
        }
        // The evaluation choice: top-k of logits / temperature + b (of p without the bias).
        const evalScores = b ? biased(hostLogits, 1 / temperature, b, T, E) : p;
        if (!(ctx.training || evalBalanced)) expertIndex = topKRows(evalScores, T, E, ctx.k);
        return {
          expertIndex,
          combine: gateOf(gate, logits, probs, expertIndex, ctx.k),
          ...(auxLoss ? { auxLoss } : {}),
          metrics: {
            ...(ctx.training
              ? { agreement: agreementWithTop1(evalScores, T, E, expertIndex, ctx.k) }
              : {}),
            sinkhornIterations: iterations,
            sinkhornError: error,
          },
        };
      },
    };
  },
});
