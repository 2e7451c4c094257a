/**
 * defineRouter: the one way to make a RouterFactory, for the built-in routers and yours alike.
 * A router that scores tokens with a learned matrix writes only its choice of experts:
 *
 *   export const top1 = defineRouter({
 *     id: "top1",
 *     label: "Top-1",
 *     scores: { initStd: 0.02 },
 *     create: () => ({
 *       choose(s, ctx) { // s.probs() [T, E], s.p its host copy
 *         const expertIndex = topKRows(s.p, s.T, s.E, ctx.k); // [T * k]
 *         return { expertIndex, combine: pickChosen(s.probs(), expertIndex, ctx.k) };
 *       },
 *     }),
 *   });
 *
 * Any other router gives `create` that returns `{ variables, route(x, tokenIds, ctx) }` (HASH).
 */
import * as tf from "@tensorflow/tfjs-core";
import { linear, stopGradient } from "../nn/mod.ts";
import { meanEntropy, routerMatrix, softmaxRows } from "./common.ts";
import type {
  Router,
  RouterDefinition,
  RouterFactory,
  RouterScores,
  RouterSpec,
  ScoredRouter,
  ScoredRouterDefinition,
  ScoreOptions,
} from "./types.ts";

export function defineRouter(def: RouterDefinition | ScoredRouterDefinition): RouterFactory {
  const { id } = def;
  const create = "scores" in def ? scoredCreate(def) : def.create;
  if (typeof id !== "string" || id.trim() === "" || id !== id.trim()) {
    throw new Error(
      `defineRouter: id ${JSON.stringify(id)} must be a non-empty name without surrounding spaces`,
    );
  }
  if (typeof create !== "function") {
    throw new Error(`defineRouter "${id}": create(spec) must be a function returning a Router`);
  }
  const label = def.label ?? id;
  const defaultCapacityFactor = def.defaultCapacityFactor ?? 2;
  if (!(defaultCapacityFactor > 0) || !Number.isFinite(defaultCapacityFactor)) {
    throw new Error(
      `defineRouter "${id}": defaultCapacityFactor = ${defaultCapacityFactor}; it must be > 0`,
    );
  }
  const factory = (spec: RouterSpec): Router => {
    const router = create(spec);
    if (typeof router?.route !== "function" || !Array.isArray(router.variables)) {
      throw new Error(
        `router "${id}": create(spec) must return { variables, route(x, tokenIds, ctx) }`,
      );
    }
    return router;
  };
  return Object.freeze(Object.assign(factory, { id, label, defaultCapacityFactor }));
}

/** The shared base of scored routers: owns W [d, E], the logits, their read-back and entropy. */
function scoredCreate(def: ScoredRouterDefinition): (spec: RouterSpec) => Router {
  const { id, scores, create } = def;
  if (typeof create !== "function") {
    throw new Error(`defineRouter "${id}": create(spec) must be a function returning { choose }`);
  }
  return (spec) => {
    const opts: ScoreOptions = typeof scores === "function" ? scores(spec) : scores;
    const initStd = opts.initStd ?? 0.02;
    if (!(initStd > 0) || !Number.isFinite(initStd)) {
      throw new Error(`router "${id}": scores.initStd = ${initStd}; it must be > 0`);
    }
    const chooser: ScoredRouter = create(spec);
    if (typeof chooser?.choose !== "function") {
      throw new Error(
        `router "${id}": with scores, create(spec) must return { choose(scores, ctx) }`,
      );
    }
    const weight = routerMatrix(spec.dModel, spec.experts, spec.seed, initStd); // [d, E]
    const own = chooser.variables ?? [];
    return {
      variables: [weight, ...own],
      ...(chooser.auxVariables ? { auxVariables: chooser.auxVariables } : {}),
      noDecay: [...(opts.decay === false ? [weight] : []), ...(chooser.noDecay ?? [])],
      lrScales: new Map<tf.Variable, number>([
        ...(opts.lrScale !== undefined && opts.lrScale !== 1
          ? [[weight as tf.Variable, opts.lrScale] as const]
          : []),
        ...(chooser.lrScales ?? []),
      ]),
      route(x, tokenIds, ctx) {
        const [T] = x.shape;
        const E = ctx.experts;
        const logits = linear(opts.detachInput ? stopGradient(x) : x, weight); // [T, E]
        const hostLogits = logits.dataSync() as Float32Array; // the one read-back (types.ts)
        const p = softmaxRows(hostLogits, T, E); // [T * E]
        let probs: tf.Tensor2D | undefined;
        const s: RouterScores = {
          x,
          tokenIds,
          T,
          E,
          weight,
          logits,
          probs: () => (probs ??= tf.softmax(logits) as tf.Tensor2D),
          hostLogits,
          p,
          entropy: meanEntropy(p, T, E),
        };
        const r = chooser.choose(s, ctx);
        return { ...r, metrics: { entropy: s.entropy, ...r.metrics } };
      },
      ...(chooser.dispose ? { dispose: () => chooser.dispose!() } : {}),
    };
  };
}
