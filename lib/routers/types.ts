/**
 * The router interface (in the spirit of flaxformer's routers): a router sees the token
 * representations entering a routed FFN and the token ids, and decides which expert(s) each token
 * goes to and with what weight. The model does the dispatch, capacity and combination.
 *
 * A router's differentiable outputs (`combine`, `auxLoss`, `policyLoss`) are ordinary tfjs
 * expressions of `x` and the router's own variables: the model computes the gradients. Use
 * `linear` from lib/model for x [T, d] times a weight (tfjs's own matMul gradient is very slow on
 * wasm).
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

export interface Router {
  readonly name: string;
  /** Trainable variables (optimised with the model; empty for HASH). */
  readonly variables: tf.Variable[];
  /**
   * Those of `variables` that only an auxiliary loss trains (no language-model gradient reaches
   * them, e.g. RL-R's reward baseline): their gradients are clipped as a group of their own.
   */
  readonly auxVariables?: tf.Variable[];
  /** Those of `variables` exempt from weight decay (by default every matrix decays). */
  readonly noDecay?: tf.Variable[];
  /**
   * x [T, d]: the (layer-normed) token representations entering the FFN; tokenIds [T]: the input
   * token ids at those positions.
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

/** Builds one router per routed layer. */
export interface RouterFactory {
  (spec: RouterSpec): Router;
  /** Name used in results (default: the router's `name`). */
  routerName?: string;
  /** The counting functions' router label ("S-Base", "RL-R", "Hash", "Dense", or any). */
  countingLabel?: string;
  /** Default capacity factor for this router (else TrainConfig.capacityFactor, default 2). */
  defaultCapacityFactor?: number;
}
