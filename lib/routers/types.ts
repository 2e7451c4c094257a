/**
 * The router interface (in the spirit of flaxformer's routers): a router sees the token
 * representations entering a routed FFN and the token ids, and decides which expert(s) each token
 * goes to and with what weight. The model does the dispatch, capacity and combination.
 *
 * Define one with `defineRouter` (define.ts): an id, a label, a default capacity factor and a
 * `create` that builds the router of one routed layer. Most routers score tokens with a learned
 * [d, E] matrix: give `scores` and `create` returns only `choose(scores, ctx)`, the choice of
 * experts. The shared base then owns the router matrix, the logits x W [T, E], their softmax, the
 * one read-back of the logits to the host and the entropy metric (flaxformer's routers share a
 * base class in the same way). A router without such scores (HASH) returns `route` instead.
 * A router's differentiable outputs (`combine`, `auxLoss`, `policyLoss`) are ordinary tfjs
 * expressions of the scores, `x` and the router's own variables: the model computes the
 * gradients. Use `linear` from lib/nn for x [T, d] times a weight (tfjs's own matMul gradient is
 * very slow on wasm).
 *
 * Reading tensor values. A router usually decides on the host: the scored base reads the logits
 * with `dataSync()` (a router with `route` of its own does the same) and the router picks experts
 * in JS. On wasm and cpu that read is synchronous and `route` runs
 * once per routed layer and pass. On webgpu, which cannot read synchronously under Deno, the
 * model replays the reads (lib/model/readback.ts): in an untaped pre-pass it patches
 * `tf.Tensor.prototype.dataSync` for the duration of each `route` call, so that a read of values
 * not yet known throws an internal `PendingRead`; the model awaits the values, rewinds
 * `ctx.rng` and calls `route` again, until it returns. The taped pass then calls `route` once
 * more with the same inputs, and each `dataSync()` returns the recorded values in order. So a
 * router must
 * - read values only through `dataSync()` (or what calls it, such as `arraySync()`), never
 *   `data()`, and not catch what it throws;
 * - read the same tensors in the same order whenever it is given the same x, tokenIds and ctx,
 *   and draw randomness only from `ctx.rng`;
 * - keep no state that a repeated `route` call would change (count nothing, cache nothing across
 *   calls): on webgpu `route` runs several times per layer and step.
 * Routers written this way need nothing else to run on webgpu (test/webgpu.test.ts).
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../util/random.ts";

export interface RouterContext {
  /** True in training steps, false in evaluation (e.g. S-BASE: plain top-1; RL-R: greedy). */
  training: boolean;
  experts: number;
  /** Experts per token (top-k). */
  k: number;
  /** Index of this routed layer among the routed layers (0-based). */
  layer: number;
  /** The run's routing RNG (seeded, checkpointed): use it for every random choice. */
  rng: Rng;
}

export interface RouterMetrics {
  /** Mean entropy (nats) of the router's distribution over experts per token, if it has one. */
  entropy?: number;
  /** Sinkhorn iterations used (S-BASE). */
  sinkhornIterations?: number;
  [name: string]: number | undefined;
}

export interface Routing {
  /**
   * Expert of each token's j-th choice, [T * k] row-major (token t, choice j at t * k + j);
   * -1 = this choice goes nowhere.
   */
  expertIndex: Int32Array;
  /**
   * Weight of each choice's expert output, [T, k], differentiable (S-BASE: router probability).
   * Omit for weight 1 (HASH, RL-R).
   */
  combine?: tf.Tensor2D;
  /** Extra training loss (load balancing, ...), added to the objective. */
  auxLoss?: tf.Scalar;
  /**
   * Training loss that needs each token's own cross-entropy (RL-R's REINFORCE). Called after the
   * forward pass with tokenLoss [T] (nats, detached: no gradient flows into it).
   */
  policyLoss?: (tokenLoss: tf.Tensor1D) => tf.Scalar;
  metrics?: RouterMetrics;
}

/** The router of one routed layer. */
export interface Router {
  /** Trainable variables (optimised with the model; empty for HASH). */
  readonly variables: tf.Variable[];
  /**
   * Those of `variables` that only an auxiliary loss trains (no language-model gradient reaches
   * them, e.g. RL-R's reward baseline): their gradients are clipped as a group of their own.
   */
  readonly auxVariables?: tf.Variable[];
  /** Those of `variables` exempt from weight decay (by default every matrix decays). */
  readonly noDecay?: tf.Variable[];
  /** Learning-rate multipliers of some of `variables` (the others: 1). */
  readonly lrScales?: ReadonlyMap<tf.Variable, number>;
  /**
   * x [T, d]: the (layer-normed) token representations entering the FFN; tokenIds [T]: the input
   * token ids at those positions. See the module comment on reading values (webgpu).
   */
  route(x: tf.Tensor2D, tokenIds: Int32Array, ctx: RouterContext): Routing;
  /** Free the variables. */
  dispose?(): void;
}

export interface RouterSpec {
  dModel: number;
  experts: number;
  k: number;
  vocabSize: number;
  /** Index of the routed layer (0-based). */
  layer: number;
  /** Seed for this router's initialisation / hash map (derived from the run seed and layer). */
  seed: number;
  /** Router-specific options (from TrainConfig.routerOptions). */
  options?: Record<string, unknown>;
}

/** How the shared base scores tokens for a router defined with `scores`. */
export interface ScoreOptions {
  /** Standard deviation of the router matrix's N(0, std) initialisation (default 0.02). */
  initStd?: number;
  /** Weight decay on the router matrix (default true). */
  decay?: boolean;
  /** Multiplier of the router matrix's learning rate (default 1). */
  lrScale?: number;
  /** Compute the logits from x with its gradient stopped (default false: gradient reaches x). */
  detachInput?: boolean;
}

/** What the shared base hands a scored router's `choose`: one routed layer's scores. */
export interface RouterScores {
  /** x [T, d]: the token representations entering the FFN; tokenIds [T]. */
  x: tf.Tensor2D;
  tokenIds: Int32Array;
  /** Tokens T and experts E. */
  T: number;
  E: number;
  /** The router matrix W [d, E] (trainable). */
  weight: tf.Variable<tf.Rank.R2>;
  /** logits = x W [T, E], differentiable. */
  logits: tf.Tensor2D;
  /** softmax(logits) [T, E], differentiable (made on first use). */
  probs(): tf.Tensor2D;
  /** The logits on the host [T * E] (row-major), read back once per route. */
  hostLogits: Float32Array;
  /** softmax(logits) on the host [T * E], float64. */
  p: Float64Array;
  /** Mean entropy (nats) of the rows of p. */
  entropy: number;
}

/** What a scored router's `create` returns: its choice of experts, given the scores. */
export interface ScoredRouter {
  /** Variables of its own beyond the router matrix (e.g. RL-R's baseline head). */
  readonly variables?: tf.Variable[];
  /** As Router.auxVariables (each must also be in `variables`). */
  readonly auxVariables?: tf.Variable[];
  /** As Router.noDecay, for its own variables. */
  readonly noDecay?: tf.Variable[];
  /** As Router.lrScales, for its own variables. */
  readonly lrScales?: ReadonlyMap<tf.Variable, number>;
  /** The routing of one layer from its scores; metrics.entropy defaults to scores.entropy. */
  choose(scores: RouterScores, ctx: RouterContext): Routing;
  dispose?(): void;
}

/** What `defineRouter` takes. */
export interface RouterDefinition {
  /**
   * Canonical id: what code compares, `TrainResult.router` for a factory, the key of checkpoints
   * (e.g. "sbase", "switch"). The built-in ids (dense, sbase, hash, rlr) are taken.
   */
  id: string;
  /**
   * Label in tables and figures, and lib/counting's router name (default: the id). The built-in
   * routers' labels are ROUTER_LABELS (names.ts): "Dense", "S-Base", "Hash", "RL-R".
   */
  label?: string;
  /** Expert capacity factor unless the config sets one (default 2, the paper's). */
  defaultCapacityFactor?: number;
  /** Builds the router of one routed layer (called once per routed layer). */
  create(spec: RouterSpec): Router;
}

/** What `defineRouter` takes for a router that scores tokens with a learned [d, E] matrix. */
export interface ScoredRouterDefinition extends Omit<RouterDefinition, "create"> {
  /** How the base scores tokens (or a function of the layer's spec, e.g. to read options). */
  scores: ScoreOptions | ((spec: RouterSpec) => ScoreOptions);
  /** Builds the choice of one routed layer (called once per routed layer). */
  create(spec: RouterSpec): ScoredRouter;
}

/** Builds one router per routed layer; made by `defineRouter`. */
export interface RouterFactory {
  (spec: RouterSpec): Router;
  readonly id: string;
  readonly label: string;
  readonly defaultCapacityFactor: number;
}
