/**
 * Routers: one interface (types.ts), one helper that defines a router (define.ts), one file per
 * technique, one id and one label per built-in router (names.ts). `ROUTERS` maps the ids to
 * factories; `resolveRouter` accepts any spelling of a built-in router's name, or a factory of
 * your own.
 */
import { dense } from "./dense.ts";
import { hash } from "./hash.ts";
import { type RouterId, routerIdOf } from "./names.ts";
import { rlr } from "./rlr.ts";
import { sbase } from "./sbase.ts";
import type { RouterFactory } from "./types.ts";

export type {
  Router,
  RouterContext,
  RouterDefinition,
  RouterFactory,
  RouterMetrics,
  RouterSpec,
  Routing,
} from "./types.ts";
export { defineRouter } from "./define.ts";
export { dense, hash, rlr, sbase };
export { isDenseRouter } from "./dense.ts";
export { hashMap } from "./hash.ts";
export { ROUTER_IDS, ROUTER_LABELS, type RouterId, routerIdOf, type RouterLabel } from "./names.ts";
export { sinkhorn, type SinkhornResult } from "./sinkhorn.ts";
export {
  choiceMask,
  type Matrix,
  meanEntropy,
  normalMatrix,
  pickChosen,
  routerMatrix,
  softmaxRows,
  topKRows,
} from "./common.ts";

/** The built-in routers by id. */
export const ROUTERS: Readonly<Record<RouterId, RouterFactory>> = { dense, sbase, hash, rlr };

/**
 * A router factory from a built-in router's name in any spelling ("sbase", "S-Base", "S-BASE") or
 * a factory of your own (made by defineRouter); a clear error otherwise.
 */
export function resolveRouter(router: string | RouterFactory): RouterFactory {
  if (typeof router === "function") {
    if (typeof router.id !== "string" || typeof router.label !== "string") {
      throw new Error(
        `router factory ${router.name || "(anonymous)"} has no id and label: build it with ` +
          `defineRouter({ id, label, create }) from lib/routers`,
      );
    }
    const builtin = routerIdOf(router.id);
    if (builtin && ROUTERS[builtin] !== router) {
      throw new Error(
        `router id "${router.id}" names the built-in router ${builtin}: give yours another id`,
      );
    }
    return router;
  }
  const id = routerIdOf(String(router));
  if (!id) {
    throw new Error(
      `unknown router "${router}": valid routers are ${Object.keys(ROUTERS).join(", ")} ` +
        `(or pass a RouterFactory)`,
    );
  }
  return ROUTERS[id];
}
