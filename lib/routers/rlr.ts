/**
 * RL-R (Clark et al. 2022): the router is a policy pi(e | x) = softmax(x W_r). In training each
 * token's expert is SAMPLED from pi (the run's routing RNG); at evaluation it is the most likely
 * expert. The expert output is not scaled by the probability; the router learns by REINFORCE:
 *
 *   reward r_t    = - (cross-entropy of token t's next-token prediction), detached
 *   baseline      = mean_batch(r) + b_t,  b_t = w_b2 . gelu(W_b1 x_t)   W_b1 [d, d/8], w_b2 [d/8, 1]:
 *                   d^2/8 + d/8 parameters, the extra RL-R parameters of the release's count; x
 *                   detached. The head learns each token's deviation from the batch mean
 *                   (about +-1 nat), not the raw reward (about -6 nats, which its zero start
 *                   would take thousands of steps to reach).
 *   advantage A_t = (r_t - mean r - b_t), normalised over the batch to mean 0, standard deviation 1
 *   loss          = policyWeight * ( -mean_t A_t log pi(e_t | x_t) - entropyWeight * mean_t H(pi_t) )
 *                   + baselineWeight * mean_t (b_t - (r_t - mean r))^2
 *
 * The baseline head is an auxiliary-only variable (Router.auxVariables): its gradient is clipped on
 * its own, so it never scales the language model's update down (before, its raw-reward regression
 * had a gradient norm of 6.5-6.8 against the model's 0.25, and the one global clip at 1 shrank
 * every model gradient ~6.5x at peak learning rate).
 *
 * Options (defaults): policyWeight 0.1, entropyWeight 0, baselineWeight 0.1, normalizeAdvantage
 * true, initStd 0.5 (of the router matrix), routerDecay false, routerLr 1 (the router matrix's
 * learning-rate multiplier), policyGradToInput false (whether the policy gradient also reaches x,
 * the token representation), balanceWeight 0 (Switch-style load-balancing loss). k must be 1 (a
 * sampled top-1 policy).
 *
 * Why these defaults (d_model 32, 2 blocks, E = 16, R = 1, 768 steps; the command in sbase.ts's
 * comment with --router rlr; dense: 4.454 / 4.443 / 4.471 / 4.494 for seeds 1-4):
 * - The earlier defaults (init std 0.02, decay, entropy 0.01, gradient into x) left the policy
 *   uniform: entropy 2.70-2.73 nats of at most ln 16 = 2.77, the sampled choice the greedy one for
 *   10-12% of tokens: random routing, 4.496 / 4.802 / 4.660 / 4.818 (seeds 1-4; 4.803 with the
 *   old shared clip). Entropy 0, no decay, a larger policy weight or no gradient into x alone did not move it.
 * - A router that starts decisive (init std 0.5: routing is at first a fixed function of x, so
 *   experts can specialise), without decay or entropy bonus pulling it back, with REINFORCE kept
 *   off x: entropy falls to 1.8-2.1, agreement 32-44%, 4.436 / 4.504 / 4.479 / 4.551 (mean 4.49,
 *   sd 0.05): level with dense within the seed spread, not better. Its loads are uneven (busiest
 *   expert 2.7-3.9x its share, 8-15% dropped); a balancing loss evened them (weight 0.01: 1.9-2.1x,
 *   2-4% dropped) but trained worse models (4.483 / 4.544; weight 0.1: 4.584 / 4.707).
 * - In the version-5 standard sweep's setting (1,465 steps, lr 2e-3) at d_model 128, E = 32 (seed 0: 4.187,
 *   dense 3.953) the policy collapses onto few experts (entropy 0.77-0.90 nats of ln 32 = 3.47,
 *   busiest expert 3.9-6.5x its share, 10-31% of choices dropped): initStd 2 gave 4.185 (31%
 *   dropped), balanceWeight 0.01 4.241 (4-6% dropped). Neither helps.
 * - In the version-6 standard sweep on the AVX2 EPYC (d_model 160, E = 32, seeds 0 / 1: 4.046 /
 *   4.122, dense 3.772) a slower policy (routerLr 0.25, the rate that helped S-BASE at large E) is
 *   worse, 4.104 / 4.179, and collapses all the same (busiest expert 3.3-12.9x its share, 10-36%
 *   of choices dropped; `deno run -A scripts/retrain_variant.ts data/ours/standard
 *   "RL-R d160L2 E32 R1 k1 seed0" --option routerLr=0.25`).
 */
import * as tf from "@tensorflow/tfjs-core";
import { gelu, linear, stopGradient } from "../nn/mod.ts";
import { Rng } from "../util/random.ts";
import {
  agreementWithTop1,
  choiceMask,
  normalMatrix,
  optBool,
  optNumber,
  topKRows,
} from "./common.ts";
import { defineRouter } from "./define.ts";
import { ROUTER_LABELS } from "./names.ts";

export const rlr = defineRouter({
  id: "rlr",
  label: ROUTER_LABELS.rlr,
  scores: (spec) => ({
    initStd: optNumber(spec.options, "initStd", 0.5, "rlr", (v) => v > 0, "> 0"),
    decay: optBool(spec.options, "routerDecay", false),
    lrScale: optNumber(spec.options, "routerLr", 1, "rlr", (v) => v > 0, "> 0"),
    // Whether REINFORCE's gradient also reaches the token representation x (not only W_r).
    detachInput: !optBool(spec.options, "policyGradToInput", false),
  }),
  create(spec) {
    if (spec.k !== 1) {
      throw new Error(`router "rlr" samples one expert per token: use k = 1, got ${spec.k}`);
    }
    const o = spec.options;
    const policyWeight = optNumber(o, "policyWeight", 0.1, "rlr", (v) => v >= 0, ">= 0");
    const entropyWeight = optNumber(o, "entropyWeight", 0, "rlr", (v) => v >= 0, ">= 0");
    const baselineWeight = optNumber(o, "baselineWeight", 0.1, "rlr", (v) => v >= 0, ">= 0");
    const normalize = optBool(o, "normalizeAdvantage", true);
    const balanceWeight = optNumber(o, "balanceWeight", 0, "rlr", (v) => v >= 0, ">= 0");
    const d = spec.dModel, dh = Math.max(1, Math.round(d / 8));
    // The baseline head W_b1 [d, d/8], w_b2 [d/8, 1], drawn in that order from their own stream.
    const init = new Rng(spec.seed ^ 0x5bd1e995);
    const wb1 = normalMatrix(d, dh, init, 0.02), wb2 = normalMatrix(dh, 1, init, 0.02);
    return {
      variables: [wb1, wb2],
      auxVariables: [wb1, wb2],
      choose({ x, T, E, logits, p }, ctx) {
        const logp = tf.logSoftmax(logits) as tf.Tensor2D; // [T, E]
        // Evaluation: the most likely expert (ties: the lower index).
        if (!ctx.training) return { expertIndex: topKRows(p, T, E, 1) };
        const expertIndex = new Int32Array(T); // [T], sampled from pi
        for (let t = 0; t < T; t++) {
          let u = ctx.rng.next(), e = 0;
          for (; e < E - 1; e++) {
            u -= p[t * E + e];
            if (u < 0) break;
          }
          expertIndex[t] = e;
        }
        // Switch Transformer's load-balancing loss: E * sum_e f_e * mean_t pi(e | x_t), f_e the
        // fraction of tokens sent to e (constant); smallest when both are uniform.
        let auxLoss: tf.Scalar | undefined;
        if (balanceWeight > 0) {
          const f = new Float32Array(E);
          for (let t = 0; t < T; t++) f[expertIndex[t]] += 1 / T;
          const meanP = tf.mean(tf.exp(logp), 0); // [E]
          auxLoss = tf.mul(balanceWeight * E, tf.sum(tf.mul(meanP, tf.tensor1d(f)))) as tf.Scalar;
        }
        const agreement = agreementWithTop1(p, T, E, expertIndex);
        const chosenLogp = tf.sum(tf.mul(logp, choiceMask(expertIndex, E)), 1); // [T]
        // b_t = w_b2 . gelu(W_b1 x_t), x detached: [T, d] -> [T, d/8] -> [T, 1] -> [T]
        const baseline = tf.reshape(
          linear(gelu(linear(stopGradient(x), wb1)), wb2),
          [T],
        ) as tf.Tensor1D;
        return {
          expertIndex,
          metrics: { agreement },
          ...(auxLoss ? { auxLoss } : {}),
          policyLoss: (tokenLoss) => {
            const reward = tf.neg(tokenLoss); // [T], detached by the model
            const centred = tf.sub(reward, tf.mean(reward)); // [T]
            let adv = tf.sub(centred, stopGradient(baseline));
            if (normalize) {
              const { mean, variance } = tf.moments(adv);
              adv = tf.div(tf.sub(adv, mean), tf.add(tf.sqrt(variance), 1e-6));
            }
            const pg = tf.neg(tf.mean(tf.mul(adv, chosenLogp)));
            const ent = tf.neg(tf.mean(tf.sum(tf.mul(tf.exp(logp), logp), 1)));
            const base = tf.mean(tf.square(tf.sub(baseline, centred)));
            return tf.add(
              tf.mul(policyWeight, tf.sub(pg, tf.mul(entropyWeight, ent))),
              tf.mul(baselineWeight, base),
            ) as tf.Scalar;
          },
        };
      },
    };
  },
});
