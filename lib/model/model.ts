/**
 * A decoder-only transformer language model with routed FFNs.
 *
 * token + learned absolute position embeddings -> L pre-LayerNorm blocks
 *   x = x + W_o attn(LN1(x) W_qkv)            causal multi-head attention, no biases
 *   x = x + FFN(LN2(x))                       dense: W2 gelu(W1 .), d_ff = 4 d, no biases
 *                                             routed: E such FFNs, top-k dispatch (moe.ts)
 * -> final LayerNorm -> unembedding W_out [d, V] (not tied to the input embedding).
 *
 * Routed blocks: block i (0-based) is routed when floor((i + 1) R) > floor(i R): every (1/R)-th
 * block ending with the last (R = 0.5 with 4 blocks -> blocks 1 and 3), floor(L R) of them; the
 * same rule as lib/counting's `routedBlocks`. Biases are left out (as in the paper's parameter
 * count N = L (4 d hk + 8 d^2 + 4 d) with absolute positions; the 4 d are the two LayerNorms).
 *
 * Initialisation (seeded): weights N(0, 0.02); the two projections into the residual stream (W_o,
 * W2) N(0, 0.02 / sqrt(2 L)); LayerNorm gains 1, offsets 0.
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  activeParameterCount,
  denseParameterCount,
  forwardFlopsPerToken,
  type ModelShape,
  routedBlocks,
  totalParameterCount,
} from "../counting/mod.ts";
import {
  crossEntropy,
  embedding,
  gelu,
  isHostBackend,
  layerNorm,
  linear,
  stopGradient,
} from "../nn/mod.ts";
import {
  isDenseRouter,
  type Router,
  type RouterFactory,
  type RouterMetrics,
  type Routing,
} from "../routers/mod.ts";
import { Rng } from "../util/random.ts";
import { causalAttention } from "./attention.ts";
import { dispatch, expertCapacity } from "./dispatch.ts";
import { routedFfn } from "./moe.ts";
import { PendingRead, ReadCache, withReadCache } from "./readback.ts";

export interface ModelConfig {
  vocabSize: number;
  seqLen: number;
  dModel: number;
  layers: number;
  heads: number;
  /** Experts per routed block; 1 = dense model. */
  experts: number;
  /** Fraction R of blocks that are routed, in (0, 1]. */
  routingFrequency: number;
  /** Experts per token. */
  k: number;
  capacityFactor: number;
  /** Capacity factor at evaluation; undefined = no limit (nothing dropped). */
  evalCapacityFactor?: number;
  /** Builds the router of each routed block (ignored when experts = 1 and the router is dense). */
  router: RouterFactory;
  routerOptions?: Record<string, unknown>;
  seed: number;
}

/** One routed layer's outcome for one forward pass. */
export interface LayerRouting {
  block: number;
  /** Fraction of assigned choices each expert received (before capacity), [E]. */
  load: number[];
  /** Fraction of assigned choices dropped for capacity (training passes only; evaluation drops none). */
  dropped: number;
  /** Slots per expert in this pass: the training capacity, or at evaluation the busiest expert's load. */
  capacity: number;
  metrics: RouterMetrics;
  /** The router's choices this pass, [T * k] (see Routing.expertIndex). */
  expertIndex: Int32Array;
}

export interface ForwardResult {
  /** Mean next-token cross-entropy (nats). */
  loss: tf.Scalar;
  /** Per-token cross-entropy [T]. */
  tokenLoss: tf.Tensor1D;
  /** loss + routers' auxiliary and policy losses: what training minimises. */
  objective: tf.Scalar;
  routing: LayerRouting[];
}

export interface ForwardOptions {
  training: boolean;
  /** The run's routing RNG (RL-R samples from it). */
  rng: Rng;
  /**
   * Router read-backs recorded by `forwardAsync` for this batch and RNG state: the routers take
   * the same decisions without reading synchronously (webgpu). Omit on wasm/cpu.
   */
  reads?: ReadCache;
}

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
  /** AdamW weight decay applies (matrices yes; LayerNorm gains/offsets no). */
  decay: boolean;
  /**
   * Trained only by a router's auxiliary loss (Router.auxVariables, e.g. RL-R's baseline head):
   * its gradient is clipped as a group of its own, so it never scales the model's update.
   */
  auxiliary?: boolean;
  /** Multiplies the learning rate of this variable (Router.lrScales; default 1). */
  lrScale?: number;
}

type Matrix = tf.Variable<tf.Rank.R2>;
type Vector = tf.Variable<tf.Rank.R1>;

interface Block {
  ln1g: Vector; // [d]
  ln1b: Vector; // [d]
  wqkv: Matrix; // [d, 3d]
  wo: Matrix; // [d, d]
  ln2g: Vector; // [d]
  ln2b: Vector; // [d]
  w1: Matrix[]; // per expert [d, 4d]
  w2: Matrix[]; // per expert [4d, d]
  router: Router | null;
  routedIndex: number;
}

/** Seed of routed layer `layer`'s router, derived from the run seed. */
export function routerSeed(seed: number, layer: number): number {
  return ((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(layer + 1, 0x85ebca6b)) >>> 0);
}

export class TransformerLM {
  readonly config: ModelConfig;
  readonly routedBlockIndices: number[];
  private readonly blocks: Block[] = [];
  private readonly tokEmb: Matrix; // [V, d]
  private readonly posEmb: Matrix; // [S, d]
  private readonly lnfG: Vector; // [d]
  private readonly lnfB: Vector; // [d]
  private readonly wOut: Matrix; // [d, V]
  private readonly named: NamedVariable[] = [];

  constructor(config: ModelConfig) {
    this.config = config;
    const { vocabSize: V, seqLen: S, dModel: d, layers: L, experts: E } = config;
    const rng = new Rng(config.seed);
    const std = 0.02, stdOut = 0.02 / Math.sqrt(2 * L);
    const mat = (name: string, r: number, c: number, s: number) =>
      this.add(name, tf.tensor2d(normalArray(rng, r * c, s), [r, c]), true);
    const vec = (name: string, n: number, v: number) =>
      this.add(name, tf.fill([n], v) as tf.Tensor1D, false);
    this.tokEmb = mat("tok_emb", V, d, std);
    this.posEmb = mat("pos_emb", S, d, std);
    const isDense = E === 1 && isDenseRouter(config.router);
    this.routedBlockIndices = isDense ? [] : routedBlocks(L, config.routingFrequency);
    for (let i = 0; i < L; i++) {
      const routedIndex = this.routedBlockIndices.indexOf(i);
      const nE = routedIndex >= 0 ? E : 1;
      const p = `block${i}.`;
      const blk: Block = {
        ln1g: vec(p + "ln1.g", d, 1),
        ln1b: vec(p + "ln1.b", d, 0),
        wqkv: mat(p + "attn.w_qkv", d, 3 * d, std),
        wo: mat(p + "attn.w_o", d, d, stdOut),
        ln2g: vec(p + "ln2.g", d, 1),
        ln2b: vec(p + "ln2.b", d, 0),
        w1: [],
        w2: [],
        router: null,
        routedIndex,
      };
      for (let e = 0; e < nE; e++) {
        const q = nE > 1 || routedIndex >= 0 ? `${p}ffn.e${e}.` : `${p}ffn.`;
        blk.w1.push(mat(q + "w1", d, 4 * d, std));
        blk.w2.push(mat(q + "w2", 4 * d, d, stdOut));
      }
      if (routedIndex >= 0) {
        blk.router = config.router({
          dModel: d,
          experts: E,
          k: config.k,
          vocabSize: V,
          layer: routedIndex,
          seed: routerSeed(config.seed, routedIndex),
          options: config.routerOptions,
        });
        const aux = new Set(blk.router.auxVariables ?? []);
        blk.router.variables.forEach((v, j) =>
          this.named.push({
            name: `${p}router.${j}`,
            variable: v,
            decay: v.rank >= 2 && !(blk.router!.noDecay ?? []).includes(v),
            auxiliary: aux.has(v),
            lrScale: blk.router!.lrScales?.get(v) ?? 1,
          })
        );
      }
      this.blocks.push(blk);
    }
    this.lnfG = vec("ln_f.g", d, 1);
    this.lnfB = vec("ln_f.b", d, 0);
    this.wOut = mat("w_out", d, V, std);
  }

  private add<R extends tf.Rank>(name: string, init: tf.Tensor<R>, decay: boolean): tf.Variable<R> {
    const v = tf.variable(init, true);
    init.dispose();
    this.named.push({ name, variable: v, decay });
    return v;
  }

  /** Every trainable variable with a stable name (checkpoint keys), in a fixed order. */
  namedVariables(): NamedVariable[] {
    return this.named;
  }

  /** The counting functions' view of this model. */
  shape(): ModelShape {
    const c = this.config;
    return {
      dModel: c.dModel,
      blocks: c.layers,
      heads: c.heads,
      kqvSize: c.dModel / c.heads,
      experts: c.experts,
      routingFrequency: c.routingFrequency,
      k: c.k,
      router: c.router.label,
      vocabSize: c.vocabSize,
      seqLen: c.seqLen,
      positional: "absolute",
    };
  }

  /** N, P (embeddings excluded) and forward FLOPs per token F, via lib/counting. */
  counts(): { N: number; P: number; A: number; F: number } {
    const s = this.shape();
    return {
      N: denseParameterCount(s),
      P: totalParameterCount(s),
      A: activeParameterCount(s),
      F: forwardFlopsPerToken(s),
    };
  }

  /** Parameters actually held, split into embeddings (token, position, unembedding) and the rest. */
  parameterCounts(): { embedding: number; nonEmbedding: number } {
    let emb = 0, rest = 0;
    for (const { name, variable } of this.named) {
      if (name === "tok_emb" || name === "pos_emb" || name === "w_out") emb += variable.size;
      else rest += variable.size;
    }
    return { embedding: emb, nonEmbedding: rest };
  }

  /**
   * batch: Int32Array [B * (S + 1)] row-major windows (inputs = first S, targets = last S).
   * Returns tensors owned by the caller (run inside tf.tidy / tf.variableGrads).
   */
  forward(batch: Int32Array, opts: ForwardOptions): ForwardResult {
    const s = this.forwardSteps(batch, opts, false).next();
    if (!s.done) {
      s.value.dispose();
      throw new Error(
        "a router read tensor values synchronously, which this backend cannot do: on webgpu run " +
          "forwardAsync (or trainStepAsync / evaluateAsync) first and pass its `reads`",
      );
    }
    return s.value!;
  }

  /**
   * The forward pass on any backend, outside a gradient tape: the routers' read-backs are awaited
   * (see readback.ts). `use` receives the outputs before they are freed (e.g. to await a loss);
   * `reads` replays the routers' decisions in a taped `forward` of the same batch: restore
   * opts.rng to its state before this call first (this call advances it as a single pass would).
   * `routingOnly`: stop after the last routed block (value undefined).
   */
  async forwardAsync<T = undefined>(
    batch: Int32Array,
    opts: { training: boolean; rng: Rng; routingOnly?: boolean },
    use?: (out: ForwardResult) => T | Promise<T>,
  ): Promise<{ reads: ReadCache; value: T | undefined }> {
    const reads = new ReadCache();
    let value: T | undefined;
    // One engine scope across the awaits (tf.tidy cannot span them): tensors made elsewhere while
    // this pass awaits would be freed with it, so run nothing else on tfjs meanwhile.
    tf.engine().startScope();
    try {
      const gen = this.forwardSteps(batch, { ...opts, reads }, opts.routingOnly ?? false);
      for (;;) {
        const s = gen.next();
        if (s.done) {
          if (s.value && use) value = await use(s.value);
          break;
        }
        try {
          reads.values.push(await s.value.data() as Float32Array);
        } finally {
          s.value.dispose();
        }
      }
    } finally {
      tf.engine().endScope();
    }
    reads.pos = 0;
    reads.filling = false;
    return { reads, value };
  }

  /**
   * The forward pass as a generator: yields a tensor whose values a router needs (pass 1 on
   * backends without synchronous read-back; the caller stores them in opts.reads and resumes),
   * returns the outputs (null when `routingOnly` stops it after the last routed block).
   */
  private *forwardSteps(
    batch: Int32Array,
    opts: ForwardOptions,
    routingOnly: boolean,
  ): Generator<tf.Tensor, ForwardResult | null, void> {
    if (routingOnly && this.routedBlockIndices.length === 0) return null;
    const { seqLen: S, heads, k } = this.config;
    const W = S + 1;
    if (batch.length % W !== 0) {
      throw new Error(`batch of ${batch.length} tokens is not a whole number of windows of ${W}`);
    }
    const B = batch.length / W, T = B * S;
    const ids = new Int32Array(T), targets = new Int32Array(T), pos = new Int32Array(T);
    for (let b = 0; b < B; b++) {
      for (let s = 0; s < S; s++) {
        ids[b * S + s] = batch[b * W + s];
        targets[b * S + s] = batch[b * W + s + 1];
        pos[b * S + s] = s;
      }
    }
    // x [T, d]
    let x = tf.add(
      embedding(this.tokEmb, ids),
      embedding(this.posEmb, pos),
    ) as tf.Tensor2D;
    const routing: LayerRouting[] = [];
    const policy: ((tl: tf.Tensor1D) => tf.Scalar)[] = [];
    let aux: tf.Scalar | null = null;
    for (let i = 0; i < this.blocks.length; i++) {
      const blk = this.blocks[i];
      const a = layerNorm(x, blk.ln1g, blk.ln1b); // [T, d]
      const qkv = linear(a, blk.wqkv); // [T, 3d]
      const ctx = causalAttention(qkv, S, heads); // [T, d]
      x = tf.add(x, linear(ctx, blk.wo)); // [T, d]
      const f = layerNorm(x, blk.ln2g, blk.ln2b); // [T, d]
      if (!blk.router) {
        x = tf.add(x, linear(gelu(linear(f, blk.w1[0])), blk.w2[0])); // [T, d]
        continue;
      }
      const E = blk.w1.length;
      const router = blk.router;
      const rc = { training: opts.training, experts: E, k, layer: blk.routedIndex, rng: opts.rng };
      let r: Routing;
      if (!opts.reads) {
        try {
          r = router.route(f, ids, rc);
        } catch (e) {
          if (isHostBackend()) throw e;
          throw new Error(
            `router "${this.config.router.id}" failed on the ${tf.getBackend()} backend, which cannot read ` +
              `tensors synchronously: run the pass through forwardAsync and pass its reads ` +
              `(${(e as Error).message})`,
          );
        }
      } else {
        const reads = opts.reads;
        for (;;) {
          // A router call that needs values not yet read is retried once they are, from the
          // same RNG state and the same position in the reads.
          const mark = reads.pos, rngState = opts.rng.getState();
          try {
            r = withReadCache(reads, () => router.route(f, ids, rc));
            break;
          } catch (e) {
            if (!(e instanceof PendingRead)) throw e;
            reads.pos = mark;
            opts.rng.setState(rngState);
            yield e.tensor;
          }
        }
      }
      // Capacity limits training steps only. Evaluation drops no choice: each expert takes all it is
      // asked for. The evaluation choice (top-1 of the router, greedy for RL-R) is not balanced, and
      // with the training capacity its drops decided results: S-BASE d_model 128 E 8 scored 3.993
      // against 3.943 with capacity factor 8 (E 4: 3.936). See docs/paper.md, "Capacity".
      const evalCf = this.config.evalCapacityFactor;
      const cap = opts.training
        ? expertCapacity(T, E, k, this.config.capacityFactor)
        : evalCf !== undefined
        ? expertCapacity(T, E, k, evalCf)
        : busiestExpertLoad(r.expertIndex, E);
      const disp = dispatch(r.expertIndex, T, k, E, cap);
      const y = routedFfn(
        f,
        r.combine ?? null,
        blk.w1,
        blk.w2,
        disp,
        k,
      ); // [T, d]
      x = tf.add(x, y);
      if (r.auxLoss) aux = aux ? tf.add(aux, r.auxLoss) : r.auxLoss;
      if (r.policyLoss) policy.push(r.policyLoss);
      const tot = Math.max(1, disp.assigned);
      routing.push({
        block: i,
        load: Array.from(disp.requested, (n) => n / tot),
        dropped: disp.dropped / tot,
        capacity: cap,
        metrics: r.metrics ?? {},
        expertIndex: r.expertIndex,
      });
      if (routingOnly && i === this.routedBlockIndices[this.routedBlockIndices.length - 1]) {
        return null;
      }
    }
    if (routingOnly) return null;
    const hf = layerNorm(x, this.lnfG, this.lnfB); // [T, d]
    const logits = linear(hf, this.wOut); // [T, V]
    const tokenLoss = crossEntropy(logits, targets); // [T]
    const loss = tf.mean(tokenLoss) as tf.Scalar;
    let objective = aux ? tf.add(loss, aux) as tf.Scalar : loss;
    if (policy.length) {
      const detached = stopGradient(tokenLoss);
      for (const p of policy) objective = tf.add(objective, p(detached)) as tf.Scalar;
    }
    return { loss, tokenLoss, objective, routing };
  }

  dispose(): void {
    // Router variables are in `named` too.
    for (const { variable } of this.named) variable.dispose();
  }
}

/** Most choices any one expert received, at least 1: a capacity under which nothing is dropped. */
function busiestExpertLoad(expertIndex: Int32Array, experts: number): number {
  const counts = new Int32Array(experts);
  for (const e of expertIndex) if (e >= 0) counts[e]++;
  return Math.max(1, ...counts);
}

function normalArray(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}
