/**
 * Routers: one interface (types.ts), one file per technique. `ROUTERS` maps the CLI names to
 * factories; `resolveRouter` accepts a name or a user-defined factory.
 */
import { dense } from "./dense.ts";
import { hash } from "./hash.ts";
import { rlr } from "./rlr.ts";
import { sbase } from "./sbase.ts";
import type { RouterFactory } from "./types.ts";

export type {
  Router,
  RouterContext,
  RouterFactory,
  RouterMetrics,
  RouterSpec,
  Routing,
} from "./types.ts";
export { dense, hash, rlr, sbase };
export { hashMap } from "./hash.ts";
export { sinkhorn, type SinkhornResult } from "./sinkhorn.ts";
export {
  choiceMask,
  meanEntropy,
  pickChosen,
  routerMatrix,
  softmaxRows,
  topKRows,
} from "./common.ts";

export const ROUTERS: Record<string, RouterFactory> = { dense, sbase, hash, rlr };

/** A router factory from a name (dense, sbase, hash, rlr) or a factory; clear error otherwise. */
export function resolveRouter(router: string | RouterFactory): RouterFactory {
  if (typeof router === "function") return router;
  const f = ROUTERS[String(router).toLowerCase().replace(/[-_ ]/g, "")];
  if (!f) {
    throw new Error(
      `unknown router "${router}": valid routers are ${Object.keys(ROUTERS).join(", ")} ` +
        `(or pass a RouterFactory)`,
    );
  }
  return f;
}
