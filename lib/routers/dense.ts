/**
 * Dense: no routing (E = 1); every block has one plain FFN. A router object exists only so that
 * the configuration is uniform; the model never calls it.
 */
import type { Router, RouterFactory, RouterSpec } from "./types.ts";

export const dense: RouterFactory = Object.assign(
  (spec: RouterSpec): Router => {
    if (spec.experts !== 1) {
      throw new Error(`router "dense" needs experts = 1, got ${spec.experts}`);
    }
    return {
      name: "dense",
      variables: [],
      route(_x, ids, ctx) {
        return { expertIndex: new Int32Array(ids.length * ctx.k) };
      },
    };
  },
  { routerName: "dense", countingLabel: "Dense", defaultCapacityFactor: 2 },
);
