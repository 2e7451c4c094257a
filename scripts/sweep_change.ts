/**
 * Prints two shipped sweeps' per-router tables cell by cell, before and after a change of the
 * training code, as README quotes them:
 *   git archive 3aa0e9c data/ours/standard | tar -x -C /tmp/before   (the sweep as committed then)
 *   deno run -A scripts/sweep_change.ts /tmp/before/data/ours/standard data/ours/standard
 * Each sweep's seed spread is its own; the cells print mean losses only.
 */
import { changeMarkdown, gainTable, ourMainFrame } from "../lib/report/mod.ts";
import { loadShippedSweep } from "../lib/sweep/mod.ts";

const [beforeDir, afterDir] = Deno.args;
if (!beforeDir || !afterDir) {
  throw new Error("usage: scripts/sweep_change.ts BEFORE_DIR AFTER_DIR (two shipped sweeps)");
}
const dOf = new Map<number, number>();
const tableOf = (dir: string) => {
  const { results } = loadShippedSweep(dir);
  for (const r of results.toRecords() as { N: number; dModel: number }[]) dOf.set(r.N, r.dModel);
  return gainTable(ourMainFrame(results, () => {}), null);
};
const before = tableOf(beforeDir), after = tableOf(afterDir);
console.log(changeMarkdown(before, after, (N) => `d${dOf.get(N)}`));
