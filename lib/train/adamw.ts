/**
 * AdamW (Loshchilov & Hutter 2019) over named tf.Variables, written out here because
 * tf.train.adam misassigns its state when some variables get no gradient (experts with no tokens)
 * and needs ~10x parameter memory at peak. A missing gradient counts as zero (the moments decay
 * and weight decay still applies), so every variable's state advances identically every step.
 *
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p = p - lr ( (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) + wd p )   (wd only if decay)
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NamedVariable } from "../model/mod.ts";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export class AdamW {
  readonly vars: NamedVariable[];
  readonly m: tf.Variable[];
  readonly v: tf.Variable[];
  /** Updates applied so far. */
  t = 0;
  private readonly o: AdamWOptions;

  constructor(vars: NamedVariable[], opts: AdamWOptions) {
    this.vars = vars;
    this.o = opts;
    this.m = vars.map(({ variable }) => tf.variable(tf.zerosLike(variable), false));
    this.v = vars.map(({ variable }) => tf.variable(tf.zerosLike(variable), false));
  }

  /**
   * One update. grads: keyed by variable.name (tf.variableGrads' map), each scaled by `gradScale`
   * (gradient clipping) before use. Disposes nothing it does not own.
   */
  apply(grads: Record<string, tf.Tensor>, lr: number, gradScale = 1): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.o;
    const c1 = 1 / (1 - Math.pow(b1, this.t)), c2 = 1 / (1 - Math.pow(b2, this.t));
    this.vars.forEach(({ variable: p, decay }, i) => {
      tf.tidy(() => {
        const raw = grads[p.name];
        const g = raw ? (gradScale === 1 ? raw : tf.mul(raw, gradScale)) : tf.zerosLike(p);
        const m = tf.add(tf.mul(this.m[i], b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(this.v[i], b2), tf.mul(tf.square(g), 1 - b2));
        let upd = tf.div(tf.mul(m, c1), tf.add(tf.sqrt(tf.mul(v, c2)), eps));
        if (decay && weightDecay > 0) upd = tf.add(upd, tf.mul(p, weightDecay));
        this.m[i].assign(m);
        this.v[i].assign(v);
        p.assign(tf.sub(p, tf.mul(upd, lr)));
      });
    });
  }

  dispose(): void {
    for (const x of [...this.m, ...this.v]) x.dispose();
  }
}

/** Learning rate at update `step` (1-based): linear warmup to lr, then cosine to lr x minRatio. */
export function learningRate(
  step: number,
  c: { lr: number; warmupSteps: number; steps: number; lrMinRatio: number },
): number {
  if (c.warmupSteps > 0 && step <= c.warmupSteps) return (c.lr * step) / c.warmupSteps;
  const span = Math.max(1, c.steps - c.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - c.warmupSteps) / span));
  const min = c.lr * c.lrMinRatio;
  return min + 0.5 * (c.lr - min) * (1 + Math.cos(Math.PI * progress));
}
