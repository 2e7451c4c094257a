/**
 * The built-in routers' names: one canonical id each (what code compares and `--router` lists)
 * and one label each (ROUTER_LABELS). The labels are the names of the authors' release
 * (router_type), of lib/counting, of sweep specs and of the run configs they store: "S-Base",
 * "RL-R", "Hash", "Dense". The paper's prose writes S-BASE and HASH; the figures draw their legend
 * names from these labels (lib/figures/style.ts).
 *
 * Every spelling a user may pass resolves to an id by `routerIdOf`: case, "-", "_" and spaces are
 * ignored, so "S-Base", "S-BASE", "s_base" and "sbase" all name sbase.
 */

export const ROUTER_IDS = ["dense", "sbase", "hash", "rlr"] as const;

/** A built-in router's canonical id. */
export type RouterId = typeof ROUTER_IDS[number];

/** Each built-in router's label (see the module comment). */
export const ROUTER_LABELS = {
  dense: "Dense",
  sbase: "S-Base",
  hash: "Hash",
  rlr: "RL-R",
} as const satisfies Record<RouterId, string>;

/** A built-in router's label. */
export type RouterLabel = typeof ROUTER_LABELS[RouterId];

/** The built-in router a name stands for (any spelling, see the module comment), or undefined. */
export function routerIdOf(name: string): RouterId | undefined {
  const key = name.toLowerCase().replace(/[-_ ]/g, "");
  return (ROUTER_IDS as readonly string[]).includes(key) ? key as RouterId : undefined;
}
