/**
 * Before and after the evaluation fix of training code version 6, on the same trained models:
 * retrains runs of a shipped sweep with `evalCapacityFactor` (capacity drops at evaluation, as
 * versions <= 5 scored) and prints each beside its committed loss (evaluation drops none). The
 * training is identical, so the difference is the evaluation alone.
 *   deno run -A scripts/eval_capacity.ts data/ours/standard 2 "S-Base d128L2 E8 R1 k1 seed0" ...
 */
import pl from "nodejs-polars";
import { train } from "../lib/train/mod.ts";
import { loadShippedSweep } from "../lib/sweep/mod.ts";

const [dir, factorText, ...labels] = Deno.args;
const factor = Number(factorText);
if (!dir || !(factor > 0) || labels.length === 0) {
  throw new Error('usage: scripts/eval_capacity.ts DIR FACTOR "LABEL" ... (labels: results.csv)');
}
const results = loadShippedSweep(dir).results;
for (const label of labels) {
  const rows = results.filter(pl.col("label").eq(pl.lit(label))).toRecords();
  if (rows.length !== 1) {
    throw new Error(`no run labelled "${label}" in ${dir}/results.csv; copy a label from there`);
  }
  const row = rows[0] as Record<string, unknown>;
  const config = { ...JSON.parse(String(row.config)), evalCapacityFactor: factor };
  const r = await train(config, { quiet: true });
  console.log(
    `${label}: evaluation without drops (committed) ${Number(row.val_loss).toFixed(4)}, ` +
      `with capacity factor ${factor} at evaluation ${r.val_loss.toFixed(4)} ` +
      `(training loss ${Number(row.train_loss).toFixed(4)} / ${r.train_loss.toFixed(4)})`,
  );
}
