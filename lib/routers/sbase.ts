/**
 * S-BASE (Clark et al. 2022, after BASE layers, Lewis et al. 2021): in training, the router's
 * exponentiated logits are balanced by Sinkhorn iterations (to `tolerance`, the largest relative
 * deviation of an expert's share from 1/E, at most `maxIterations` iterations; no gradient) and
 * each token takes the top-k experts of the balanced matrix. At evaluation: plain top-k of the
 * logits. The expert output is scaled by the router's softmax probability of that expert, the only
 * path by which the router learns. Capacity factor 2 (the paper's).
 *
 * Options: tolerance (default 1e-3), maxIterations (default 100), temperature (default 1):
 * Sinkhorn runs on exp(logits / temperature); 1 is the paper's "exponentiated router logits".
 * gate (default "softmax"): the chosen expert's output is scaled by the router's softmax
 * probability, with "sigmoid" by sigmoid of its logit (Megatron-LM's choice), or with "straight"
 * not at all (gate 1) while the router still gets the softmax gate's gradient. routerDecay
 * (default true): weight decay on the router matrix. initStd (default 0.02): the router matrix's
 * initial standard deviation.
 *
 * Measured (d_model 32, 2 blocks, E = 16, R = 1, 768 steps of 1024 tokens, lr 5e-3, validation
 * on 65k held-out tokens; command: `deno task train --router sbase --experts 16
 * --d-model 32 --layers 2 --heads 2 --seq-len 64 --batch-size 16 --vocab-size 1024 --lr 5e-3
 * --warmup 20 --eval-batches 64 --routing-frequency 1 --steps 768 --seed S`):
 * - temperature 1: 4.383 / 4.394 / 4.396 / 4.392 (seeds 1-4), against dense 4.454 / 4.443 /
 *   4.471 / 4.494 (mean 4.465, sd 0.022): S-BASE wins by 0.074 nats, over 3 sd.
 * - temperature 0.1 (the earlier default): 4.486 (seed 1). At 0.1 the balanced training choice was
 *   the evaluation (top-1) choice for 32% of tokens, at 1 for 41-56%: at 0.1 experts are scored
 *   on tokens they were not trained on. Temperature 1 balances the soft assignment but not the
 *   hard one: the busiest expert takes 3.4-4.4x its share and 15-20% of choices are dropped at
 *   capacity factor 2, and it still trains the better model.
 * - gate "sigmoid": 4.419 / 4.425 at E = 16 (seeds 1-2) against softmax 4.383 / 4.394; at E = 64
 *   4.408 / 4.434 against 4.384 / 4.390: softmax is 0.034 nats better at both (dense 4.454 /
 *   4.443), and with sigmoid the training choice agrees with the evaluation one for 6-27% of
 *   tokens against 31-83%. At temperature 0.1, sigmoid: 4.482 (seed 1).
 * - routerDecay false: 4.389 (seed 1): the same as with decay.
 *
 * The hard choice is unbalanced at temperature 1 (busiest expert 4.4-5.7x its share, 22-25% of
 * choices dropped at E = 16-32 in the standard sweep) because the router stays near uniform
 * (entropy 0.96-0.9997 of ln E). Whether that costs loss was measured in the standard sweep's
 * setting (1,465 steps, lr 2e-3, warmup 100, every block routed, seed 0, E = 32; S-BASE today
 * 4.3501 at d_model 32 and 3.9109 at d_model 128, dense 4.377 / 3.953):
 * - a hard choice balanced exactly (the Sinkhorn scores' (token, expert) pairs taken greedily in
 *   order, every expert capped at T/E: max load 1.00, nothing dropped): 4.3535 and 3.9224, no
 *   better, and the training choice agreed with top-1 for 25-37% of tokens instead of 69%;
 * - a decisive router (initStd 0.5): balanced loads but agreement 20-25%, 4.3718 at d_model 32;
 *   with a Switch balance loss (weight 0.01) as well, agreement 67-89% and 4.2079 at d_model 128;
 * - gates of E x probability (1 at uniform): 4.1689, and p / stopgrad(p) (1, gradient of log p):
 *   5.0181, both at d_model 128.
 * So the unbalanced hard choice does not limit S-BASE here, and the router's near-uniform scale
 * (a gate of about 1/E) is what trains best. Code version 6 confirms it: S-BASE's training loss
 * trails dense early (d_model 160, E = 4: 5.78 against 5.43 over steps 50-100 of the version-6
 * standard sweep, HASH 5.28), but gate "straight" (full-scale expert output, same router
 * gradient) is worse at the end: d_model 160 seed 0, 960 steps, 4.1625 against softmax 4.1068 at
 * E = 4 and 4.3172 against 4.0402 at E = 32 (`deno run -A scripts/retrain_variant.ts DIR
 * "S-Base d160L2 E4 R1 k1 seed0" --option gate=straight`, DIR the version-6 sweep:
 * `git archive 449e21b data/ours/standard | tar -x -C /tmp/v6`). What closes the early gap is
 * more tokens: at 1,920 steps the same E = 4 run reaches 3.7381 against dense 3.7682 (`--set
 * steps=1920`), where at 960 it was level (4.1068 / 4.1101). Rerun one with `--router-option initStd=0.5` (the
 * other variants were removed after measuring). Those measurements were made with code version 5
 * (the version-5 standard sweep's 1,465-step runs), which applied capacity at evaluation too.
 * Since version 6 evaluation drops nothing (docs/paper.md, "Capacity (ours)"). In the
 * version-6 standard sweep (960 steps) E = 8 sits below E = 4 at d_model 128 (4.159 vs 4.174)
 * but still above it at d_model 160 (4.137, seeds 4.130 / 4.145, vs 4.116), where it also trains
 * no better (last training loss 4.102 vs 4.097): that dip is not made by the evaluation.
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

export const sbase = defineRouter({
  id: "sbase",
  label: ROUTER_LABELS.sbase,
  scores: (spec) => ({
    initStd: optNumber(spec.options, "initStd", 0.02, "sbase", (v) => v > 0, "> 0"),
    decay: optBool(spec.options, "routerDecay", true),
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
    return {
      choose({ T, E, logits, hostLogits, p, probs }, ctx) {
        let expertIndex: Int32Array; // [T * k]
        let iterations = 0, error = 0;
        if (ctx.training) {
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
        } else expertIndex = topKRows(p, T, E, ctx.k);
        return {
          expertIndex,
          combine: gateOf(gate, logits, probs, expertIndex, ctx.k),
          metrics: {
            ...(ctx.training ? { agreement: agreementWithTop1(p, T, E, expertIndex, ctx.k) } : {}),
            sinkhornIterations: iterations,
            sinkhornError: error,
          },
        };
      },
    };
  },
});
