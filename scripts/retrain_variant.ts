/**
 * Retrains runs of a shipped sweep with one change and prints each beside its committed loss: the
 * before/after measurement behind a router or preset choice, on the very models the sweep shipped.
 *   deno run -A scripts/retrain_variant.ts DIR "LABEL" [--option KEY=VALUE ...] [--set KEY=VALUE ...]
 * --option sets a router option (e.g. gate=straight, initStd=0.5); --set a training setting of the
 * run config (e.g. steps=1920, or evalCapacityFactor=2 to score the way code version 5 did; train
 * names the valid fields when one is unknown). Values are read as JSON where they parse (numbers, booleans),
 * else as strings. Labels are results.csv's `label` column. Runs are deterministic, so an
 * unchanged config reproduces its committed loss.
 */
import pl from "nodejs-polars";
import { train } from "../lib/train/mod.ts";
import { loadShippedSweep } from "../lib/sweep/mod.ts";

const usage = 'usage: scripts/retrain_variant.ts DIR "LABEL" [--option K=V ...] [--set K=V ...]';
const [dir, label, ...rest] = Deno.args;
if (!dir || !label) throw new Error(usage);
const options: Record<string, unknown> = {}, settings: Record<string, unknown> = {};
for (let i = 0; i < rest.length; i += 2) {
  const flag = rest[i], kv = rest[i + 1] ?? "";
  const eq = kv.indexOf("=");
  if ((flag !== "--option" && flag !== "--set") || eq < 1) {
    throw new Error(`bad argument "${flag} ${kv}"; ${usage}`);
  }
  const key = kv.slice(0, eq), text = kv.slice(eq + 1);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch { /* a plain string */ }
  (flag === "--option" ? options : settings)[key] = value;
}
const rows = loadShippedSweep(dir).results.filter(pl.col("label").eq(pl.lit(label))).toRecords();
if (rows.length !== 1) {
  throw new Error(`no run labelled "${label}" in ${dir}/results.csv; copy a label from there`);
}
const row = rows[0] as Record<string, unknown>;
const base = JSON.parse(String(row.config));
const config = {
  ...base,
  ...settings,
  routerOptions: { ...base.routerOptions, ...options },
};
const t0 = performance.now();
const r = await train(config, { quiet: true });
const change = JSON.stringify({ ...options, ...settings });
console.log(
  `${label} with ${change}: val_loss ${r.val_loss.toFixed(4)} (committed ` +
    `${Number(row.val_loss).toFixed(4)}), last training loss ${r.train_loss.toFixed(4)} ` +
    `(committed ${Number(row.train_loss).toFixed(4)}), ${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s`,
);
// The router's training-window metrics per routed block: how decided it is, whether training and
// evaluation choose alike, and how balanced the hard choice is.
const f3 = (x: number | undefined) => x === undefined ? "-" : x.toFixed(3);
for (const m of r.router_metrics) {
  console.log(
    `  block ${m.block}: entropy ${f3(m.entropy)} (ln E ${f3(Math.log(m.load.length))}), ` +
      `agreement ${f3(m.agreement)}, dropped ${f3(m.dropped)}, max load ${f3(m.maxLoad)}`,
  );
}
