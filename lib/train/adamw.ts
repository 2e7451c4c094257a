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
import { type AdamWKernel, adamwKernel, blasActive } from "../backend/mod.ts";
import type { NamedVariable } from "../model/mod.ts";
import { hostTensor, hostView, isHostBackend } from "../nn/mod.ts";

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** The wasm backend's heap as a WebAssembly.Memory (emscripten exports it as asm.memory). */
function wasmHeapMemory(): WebAssembly.Memory | undefined {
  if (tf.getBackend() !== "wasm") return undefined;
  const mod = (tf.backend() as unknown as { wasm?: { asm?: { memory?: WebAssembly.Memory } } })
    .wasm;
  const mem = mod?.asm?.memory;
  return mem instanceof WebAssembly.Memory ? mem : undefined;
}

export class AdamW {
  readonly vars: NamedVariable[];
  /** Updates applied so far. */
  t = 0;
  private readonly o: AdamWOptions;
  /**
   * Where the moments live and who updates them:
   * - "simd" (wasm, single-threaded build): kept float32 tensors in the wasm heap, updated with the
   *   weights by one wasm SIMD loop (lib/backend/adamw_simd.ts: 38 against 270 ms over 70M
   *   parameters);
   * - "js" (cpu, threaded wasm): plain Float32Arrays updated in one fused JS loop per variable
   *   (~10x fewer passes over memory than ~14 tfjs kernels);
   * - "device" (webgpu): tf.Variables updated by tf ops.
   */
  private readonly mode: "simd" | "js" | "device";
  private readonly simd: AdamWKernel | undefined;
  private readonly mHost: Float32Array[] = [];
  private readonly vHost: Float32Array[] = [];
  private readonly mHeap: tf.Tensor[] = [];
  private readonly vHeap: tf.Tensor[] = [];
  private readonly mDev: tf.Variable[] = [];
  private readonly vDev: tf.Variable[] = [];

  constructor(vars: NamedVariable[], opts: AdamWOptions & { host?: boolean; simd?: boolean }) {
    this.vars = vars;
    this.o = opts;
    const host = opts.host ?? isHostBackend();
    const memory = host && opts.simd !== false ? wasmHeapMemory() : undefined;
    this.simd = memory ? adamwKernel(memory) : undefined;
    this.mode = this.simd ? "simd" : host ? "js" : "device";
    for (const { variable } of vars) {
      if (this.mode === "simd") {
        this.mHeap.push(tf.keep(hostTensor(variable.shape, () => {})));
        this.vHeap.push(tf.keep(hostTensor(variable.shape, () => {})));
      } else if (this.mode === "js") {
        this.mHost.push(new Float32Array(variable.size));
        this.vHost.push(new Float32Array(variable.size));
      } else {
        this.mDev.push(tf.variable(tf.zerosLike(variable), false));
        this.vDev.push(tf.variable(tf.zerosLike(variable), false));
      }
    }
  }

  /** First and second moments of variable i (copies except in "js" mode). */
  moments(i: number): { m: Float32Array; v: Float32Array } {
    if (this.mode === "js") return { m: this.mHost[i], v: this.vHost[i] };
    if (this.mode === "simd") {
      return { m: hostView(this.mHeap[i]).slice(), v: hostView(this.vHeap[i]).slice() };
    }
    return {
      m: this.mDev[i].dataSync() as Float32Array,
      v: this.vDev[i].dataSync() as Float32Array,
    };
  }

  /** moments(i) without synchronous read-back (webgpu). */
  async momentsAsync(i: number): Promise<{ m: Float32Array; v: Float32Array }> {
    if (this.mode !== "device") return this.moments(i);
    return {
      m: await this.mDev[i].data() as Float32Array,
      v: await this.vDev[i].data() as Float32Array,
    };
  }

  setMoments(i: number, m: Float32Array, v: Float32Array): void {
    const n = this.vars[i].variable.size;
    if (m.length !== n || v.length !== n) {
      throw new Error(`moments of ${this.vars[i].name} must have ${n} entries`);
    }
    if (this.mode === "js") {
      this.mHost[i].set(m);
      this.vHost[i].set(v);
    } else if (this.mode === "simd") {
      hostView(this.mHeap[i]).set(m);
      hostView(this.vHeap[i]).set(v);
    } else {
      const shape = this.vars[i].variable.shape;
      tf.tidy(() => {
        this.mDev[i].assign(tf.tensor(m, shape));
        this.vDev[i].assign(tf.tensor(v, shape));
      });
    }
  }

  /**
   * One update. grads: keyed by variable.name (tf.variableGrads' map), each scaled by `gradScale`
   * (gradient clipping) before use, or by `auxScale` for auxiliary-only variables
   * (NamedVariable.auxiliary). Disposes nothing it does not own.
   *
   * On host backends the weights are written in place when OpenBLAS runs the matMuls; with XNNPACK
   * they go into a new heap tensor, because tfjs-wasm caches packed matMul weights by tensor id and
   * an in-place write would leave a stale packed copy. OpenBLAS keeps no such cache.
   */
  apply(
    grads: Record<string, tf.Tensor>,
    lrBase: number,
    mainScale = 1,
    auxScale = mainScale,
  ): void {
    this.t++;
    const { beta1: b1, beta2: b2, eps, weightDecay } = this.o;
    const c1 = 1 / (1 - Math.pow(b1, this.t)), c2 = 1 / (1 - Math.pow(b2, this.t));
    const inPlace = blasActive();
    this.vars.forEach(({ variable: p, decay, auxiliary, lrScale }, i) => {
      const lr = lrBase * (lrScale ?? 1);
      const raw = grads[p.name];
      const gradScale = auxiliary ? auxScale : mainScale;
      const wd = decay ? weightDecay : 0;
      if (this.mode === "device") {
        tf.tidy(() => {
          const g = raw ? (gradScale === 1 ? raw : tf.mul(raw, gradScale)) : tf.zerosLike(p);
          const m = tf.add(tf.mul(this.mDev[i], b1), tf.mul(g, 1 - b1));
          const v = tf.add(tf.mul(this.vDev[i], b2), tf.mul(tf.square(g), 1 - b2));
          let upd = tf.div(tf.mul(m, c1), tf.add(tf.sqrt(tf.mul(v, c2)), eps));
          if (wd > 0) upd = tf.add(upd, tf.mul(p, wd));
          this.mDev[i].assign(m);
          this.vDev[i].assign(v);
          p.assign(tf.sub(p, tf.mul(upd, lr)));
        });
        return;
      }
      // Elements from `from` to the end of w, old, g, m, v, in float64 arithmetic (JS mode, and
      // the last n mod 4 elements in SIMD mode).
      const jsUpdate = (
        w: Float32Array,
        old: Float32Array,
        g: Float32Array | null,
        m: Float32Array,
        v: Float32Array,
        from: number,
      ) => {
        for (let j = from; j < w.length; j++) {
          const gj = g ? g[j] * gradScale : 0;
          const mj = (m[j] = b1 * m[j] + (1 - b1) * gj);
          const vj = (v[j] = b2 * v[j] + (1 - b2) * gj * gj);
          const pj = old[j];
          w[j] = pj - lr * ((mj * c1) / (Math.sqrt(vj * c2) + eps) + wd * pj);
        }
      };
      const update = (w: Float32Array) => {
        const old = hostView(p), g = raw ? hostView(raw) : null;
        if (this.mode === "js") return jsUpdate(w, old, g, this.mHost[i], this.vHost[i], 0);
        const m = hostView(this.mHeap[i]), v = hostView(this.vHeap[i]);
        const n4 = w.length & ~3;
        // A missing gradient is zero: m stands in for it with scale 0 (m is finite).
        this.simd!(
          w.byteOffset,
          old.byteOffset,
          (g ?? m).byteOffset,
          m.byteOffset,
          v.byteOffset,
          n4,
          {
            gradScale: g ? gradScale : 0,
            b1,
            b2,
            lr,
            c1,
            c2,
            eps,
            wd,
          },
        );
        jsUpdate(w, old, g, m, v, n4);
      };
      if (inPlace) update(hostView(p));
      else tf.tidy(() => p.assign(hostTensor(p.shape, update)));
    });
  }

  dispose(): void {
    for (const x of [...this.mDev, ...this.vDev, ...this.mHeap, ...this.vHeap]) x.dispose();
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
