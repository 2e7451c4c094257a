/**
 * defineRouter: the one way to make a RouterFactory, for the built-in routers and yours alike.
 *
 *   export const top1 = defineRouter({
 *     id: "top1",
 *     label: "Top-1",
 *     create(spec) {
 *       const w = routerMatrix(spec.dModel, spec.experts, spec.seed); // [d, E]
 *       return {
 *         variables: [w],
 *         route(x, _ids, ctx) {
 *           const probs = tf.softmax(linear(x, w)) as tf.Tensor2D; // [T, E]
 *           const expertIndex = topKRows(probs.dataSync(), x.shape[0], ctx.experts, ctx.k);
 *           return { expertIndex, combine: pickChosen(probs, expertIndex, ctx.k) };
 *         },
 *       };
 *     },
 *   });
 */
import type { Router, RouterDefinition, RouterFactory, RouterSpec } from "./types.ts";

export function defineRouter(def: RouterDefinition): RouterFactory {
  const { id, create } = def;
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
