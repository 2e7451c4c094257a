/**
 * RL-R (Clark et al. 2022): the router is a policy pi(e | x) = softmax(x W_r). In training each
 * token's expert is SAMPLED from pi (the run's routing RNG); at evaluation it is the most likely
 * expert. The expert output is not scaled by the probability; the router learns by REINFORCE:
 *
 *   reward r_t    = - (cross-entropy of token t's next-token prediction), detached
 *   baseline b_t  = w_b2 . gelu(W_b1 x_t)        W_b1 [d, d/8], w_b2 [d/8, 1]: d^2/8 + d/8
 *                   parameters, the extra RL-R parameters of the release's count; x detached
 *   advantage A_t = (r_t - b_t), normalised over the batch to mean 0, standard deviation 1
 *   loss          = policyWeight * ( -mean_t A_t log pi(e_t | x_t) - entropyWeight * mean_t H(pi_t) )
 *                   + baselineWeight * mean_t (b_t - r_t)^2
 *
 * The policy gradient also reaches x (the token representation), scaled by policyWeight.
 * Options (defaults): policyWeight 0.1, entropyWeight 0.01, baselineWeight 0.1,
 * normalizeAdvantage true. k must be 1 (a sampled top-1 policy).
 */
import * as tf from "@tensorflow/tfjs-core";
import { gelu, linear, stopGradient } from "../model/mod.ts";
import { Rng } from "../util/random.ts";
import { choiceMask, meanEntropy, optNumber, routerMatrix, softmaxRows } from "./common.ts";
import type { Router, RouterFactory, RouterSpec } from "./types.ts";

export const rlr: RouterFactory = Object.assign(
  (spec: RouterSpec): Router => {
    if (spec.k !== 1) {
      throw new Error(`router "rlr" samples one expert per token: use k = 1, got ${spec.k}`);
    }
    const o = spec.options;
    const policyWeight = optNumber(o, "policyWeight", 0.1, "rlr", (v) => v >= 0, ">= 0");
    const entropyWeight = optNumber(o, "entropyWeight", 0.01, "rlr", (v) => v >= 0, ">= 0");
    const baselineWeight = optNumber(o, "baselineWeight", 0.1, "rlr", (v) => v >= 0, ">= 0");
    const normalize = o?.normalizeAdvantage === undefined ? true : Boolean(o.normalizeAdvantage);
    const d = spec.dModel, dh = Math.max(1, Math.round(d / 8));
    const w = routerMatrix(d, spec.experts, spec.seed);
    const init = new Rng(spec.seed ^ 0x5bd1e995);
    const mk = (r: number, c: number, std: number) => {
      const a = new Float32Array(r * c);
      for (let i = 0; i < a.length; i++) a[i] = init.normal() * std;
      return tf.variable(tf.tensor2d(a, [r, c]), true);
    };
    const wb1 = mk(d, dh, 0.02), wb2 = mk(dh, 1, 0.02);
    return {
      name: "rlr",
      variables: [w, wb1, wb2],
      route(x, _ids, ctx) {
        const [T] = x.shape;
        const E = ctx.experts;
        const logits = linear(x, w as unknown as tf.Tensor2D); // [T, E]
        const logp = tf.logSoftmax(logits) as tf.Tensor2D; // [T, E]
        const p = softmaxRows(logits.dataSync() as Float32Array, T, E);
        const expertIndex = new Int32Array(T);
        for (let t = 0; t < T; t++) {
          if (ctx.training) {
            let u = ctx.rng.next(), e = 0;
            for (; e < E - 1; e++) {
              u -= p[t * E + e];
              if (u < 0) break;
            }
            expertIndex[t] = e;
          } else {
            let best = 0;
            for (let e = 1; e < E; e++) if (p[t * E + e] > p[t * E + best]) best = e;
            expertIndex[t] = best;
          }
        }
        const entropy = meanEntropy(p, T, E);
        if (!ctx.training) return { expertIndex, metrics: { entropy } };
        const chosenLogp = tf.sum(tf.mul(logp, choiceMask(expertIndex, E)), 1); // [T]
        const baseline = tf.reshape(
          linear(
            gelu(linear(stopGradient(x), wb1 as unknown as tf.Tensor2D)),
            wb2 as unknown as tf.Tensor2D,
          ),
          [T],
        ) as tf.Tensor1D; // [T]
        return {
          expertIndex,
          metrics: { entropy },
          policyLoss: (tokenLoss) => {
            const reward = tf.neg(tokenLoss); // [T], detached by the model
            let adv = tf.sub(reward, stopGradient(baseline));
            if (normalize) {
              const { mean, variance } = tf.moments(adv);
              adv = tf.div(tf.sub(adv, mean), tf.add(tf.sqrt(variance), 1e-6));
            }
            const pg = tf.neg(tf.mean(tf.mul(adv, chosenLogp)));
            const ent = tf.neg(tf.mean(tf.sum(tf.mul(tf.exp(logp), logp), 1)));
            const base = tf.mean(tf.square(tf.sub(baseline, reward)));
            return tf.add(
              tf.mul(policyWeight, tf.sub(pg, tf.mul(entropyWeight, ent))),
              tf.mul(baselineWeight, base),
            ) as tf.Scalar;
          },
        };
      },
    };
  },
  { routerName: "rlr", countingLabel: "RL-R", defaultCapacityFactor: 2 },
);
