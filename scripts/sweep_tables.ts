/**
 * Prints a sweep's per-router table (Markdown) and the claims the kit draws from it, as README
 * quotes them:
 *   deno run -A scripts/sweep_tables.ts data/ours/standard      (a shipped sweep, with its
 *     supplements; add --base-only for the shipped sweep alone)
 *   deno run -A scripts/sweep_tables.ts out/reproduce/sweep quick (a sweep folder and its preset)
 *   deno run -A scripts/sweep_tables.ts data/ours/standard --with PROBE_DIR
 *     (a shipped sweep whose runs of the routers in the second shipped sweep are replaced by
 *     those: a probe of router options judged against the first sweep's dense runs and spread)
 */
import pl from "nodejs-polars";
import {
  analyse,
  analysisText,
  frameAnalysisInput,
  OUR_RUNS_EQ1_MIN_E_START,
} from "../lib/analysis/mod.ts";
import {
  checkClaims,
  claimsText,
  frameSeedSpread,
  gainMarkdown,
  gainTable,
  heldOutMaxNOf,
  ourMainFrame,
} from "../lib/report/mod.ts";
import { expandSpec, loadShippedSweep, loadSweepResults, preset } from "../lib/sweep/mod.ts";

const baseOnly = Deno.args.includes("--base-only");
const [dir, second, probeDir] = Deno.args.filter((a) => a !== "--base-only");
if (!dir || (second === "--with" && !probeDir)) {
  throw new Error("usage: scripts/sweep_tables.ts DIR [PRESET | --with PROBE_DIR] [--base-only]");
}
let results: pl.DataFrame;
if (second && second !== "--with") {
  const ids = expandSpec(preset(second)).map((r) => r.runId);
  results = loadSweepResults(dir).filter(pl.col("run_id").isIn(ids));
} else results = loadShippedSweep(dir, console.warn, { supplements: !baseOnly }).results;
if (second === "--with") {
  const probe = loadShippedSweep(probeDir).results.filter(pl.col("E").cast(pl.Float64).gt(1));
  const routers = [...new Set(probe.getColumn("router").toArray() as string[])];
  const kept = results.filter(pl.col("router").isIn(routers).not());
  results = pl.concat([kept, probe.select(...kept.columns)], { how: "vertical" });
  console.log(
    `${routers.join(", ")} runs from ${probeDir} (${probe.height}), the rest from ${dir}`,
  );
}
const frame = ourMainFrame(results, () => {});
const dOf = new Map<number, number>();
for (const r of results.toRecords() as { N: number; dModel: number }[]) dOf.set(r.N, r.dModel);
const spread = frameSeedSpread(frame);
console.log(`${results.height} runs\n`);
console.log(gainMarkdown(gainTable(frame, spread ?? null), (N) => `d${dOf.get(N)}`));
const Ns = [...new Set(frame.getColumn("N").toArray() as number[])].sort((a, b) => a - b);
const analysis = analyse(frameAnalysisInput(frame, dir), {
  restarts: 500,
  bootstrap: 60,
  bootstrapRestarts: 20,
  seed: 0,
  heldOutMaxN: heldOutMaxNOf(Ns),
  eq1MinEStart: OUR_RUNS_EQ1_MIN_E_START,
});
console.log("\n" + claimsText(checkClaims(frame, analysis)));
if (Deno.env.get("SWEEP_TABLES_FITS")) {
  console.log("\n" + analysisText(analysis, frameAnalysisInput(frame, dir)));
}
