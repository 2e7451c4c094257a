/**
 * Dense: no routing (E = 1); every block has one plain FFN. A router object exists only so that
 * the configuration is uniform; the model never calls it.
 */
import { defineRouter } from "./define.ts";
import { ROUTER_LABELS } from "./names.ts";

export const dense = defineRouter({
  id: "dense",
  label: ROUTER_LABELS.dense,
  create(spec) {
    if (spec.experts !== 1) {
      throw new Error(`router "dense" needs experts = 1, got ${spec.experts}`);
    }
    return {
      variables: [],
      route(_x, ids, ctx) {
        return { expertIndex: new Int32Array(ids.length * ctx.k) };
      },
    };
  },
});

/** Whether a factory is the dense (unrouted) model's: decided by its id, never by a label. */
export function isDenseRouter(factory: { id: string }): boolean {
  return factory.id === dense.id;
}
