/**
 * Human-readable progress and summaries: a one-line progress text for the CLI, a live display for
 * notebooks, and the merge summary of a sweep folder.
 */
import pl from "nodejs-polars";
import type { SweepProgress } from "./engine.ts";
import { expandSpec, validateSpec } from "./spec.ts";
import { loadSweepResults } from "./store.ts";
import { runIdOf, TRAINING_CODE_VERSION } from "../identity/mod.ts";
import { formatDuration } from "../util/duration.ts";

export { formatDuration };

/** "runs 3/24 done (1 skipped, 0 diverged) | S-Base d32L2 E4 step 40/188 | 1m05s, ETA 6m10s" */
export function formatProgress(p: SweepProgress): string {
  const parts = [
    `runs ${p.done}/${p.total} done (${p.skipped} skipped, ${p.diverged} diverged` +
    `${p.failed ? `, ${p.failed} FAILED` : ""}${
      p.busyElsewhere ? `, ${p.busyElsewhere} elsewhere` : ""
    })`,
  ];
  if (p.current && p.event !== "end") {
    parts.push(
      p.current.steps
        ? `${p.current.label} step ${p.current.step}/${p.current.steps}`
        : `${p.current.label} starting`,
    );
  }
  parts.push(`${formatDuration(p.elapsedS)}, ETA ${formatDuration(p.etaS)}`);
  return parts.join(" | ");
}

/**
 * A progress callback for Jupyter (Deno kernel): one output updated in place. Outside a kernel it
 * prints throttled lines instead.
 */
export function notebookProgress(opts: { everyS?: number } = {}): (p: SweepProgress) => void {
  const displayId = `sweep-progress-${crypto.randomUUID()}`;
  const jupyter = (Deno as unknown as {
    jupyter?: { display(b: Record<string, unknown>, o: Record<string, unknown>): Promise<void> };
  }).jupyter;
  let last = 0;
  let first = true;
  return (p) => {
    const now = performance.now();
    if (p.event === "step" && now - last < (opts.everyS ?? 1) * 1000) return;
    last = now;
    const text = formatProgress(p);
    if (!jupyter) {
      console.log(text);
      return;
    }
    const pct = p.total ? (100 * p.done) / p.total : 100;
    const html = `<div style="font-family:monospace"><progress value="${pct}" max="100" ` +
      `style="width:20em"></progress> ${
        text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
      }</div>`;
    void jupyter.display({ "text/plain": text, "text/html": html }, {
      raw: true,
      display_id: displayId,
      update: !first,
    });
    first = false;
  };
}

/**
 * Summary of a sweep folder (all shards): runs per status and router, and which runs of the specs
 * recorded in DIR/specs have no result yet.
 */
export function summarizeSweep(dirs: string | string[]): { text: string; results: pl.DataFrame } {
  const list = Array.isArray(dirs) ? dirs : [dirs];
  const lines: string[] = [];
  const { current: results, other } = byCodeVersion(loadSweepResults(list));
  if (other > 0) {
    lines.push(
      `${other} run(s) trained by other training code (their run_id is not the hash of their ` +
        `config under code version ${TRAINING_CODE_VERSION}) left out: rerun the spec to retrain ` +
        `them with this code`,
    );
  }
  const have = new Set<string>(
    results.height ? results.getColumn("run_id").toArray() as string[] : [],
  );
  for (const dir of list) {
    let entries: Deno.DirEntry[] = [];
    try {
      entries = [...Deno.readDirSync(`${dir}/specs`)].filter((e) => e.name.endsWith(".json"));
    } catch { /* no spec records */ }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const spec = validateSpec(
        JSON.parse(Deno.readTextFileSync(`${dir}/specs/${e.name}`)),
        e.name,
      );
      const runs = expandSpec(spec);
      const missing = runs.filter((r) => !have.has(r.runId));
      lines.push(
        `spec ${spec.name}: ${runs.length - missing.length}/${runs.length} runs have results` +
          (missing.length
            ? `; missing: ${missing.slice(0, 8).map((r) => `${r.label} (${r.runId})`).join(", ")}${
              missing.length > 8 ? ", ..." : ""
            }`
            : ""),
      );
    }
  }
  if (results.height === 0) {
    lines.push(`no finished runs under ${list.join(", ")}`);
    return { text: lines.join("\n"), results };
  }
  const byStatus = results.groupBy("status").agg(pl.col("run_id").count().alias("runs"))
    .sort("status");
  lines.push(
    `${results.height} runs: ` +
      byStatus.toRecords().map((r) => `${r.runs} ${r.status}`).join(", "),
  );
  const table = results
    .groupBy(["router", "E"])
    .agg(
      pl.col("run_id").count().alias("runs"),
      pl.col("status").eq(pl.lit("diverged")).sum().alias("diverged"),
      pl.col("val_loss").min().alias("best_val_loss"),
      pl.col("N").min().alias("N_min"),
      pl.col("N").max().alias("N_max"),
    )
    .sort(["router", "E"]);
  lines.push(table.toString());
  return { text: lines.join("\n"), results };
}

/**
 * Splits results into those of this checkout's training code (run_id = the hash of the config
 * under TRAINING_CODE_VERSION) and a count of the others, which a summary must not pool with them.
 */
function byCodeVersion(results: pl.DataFrame): { current: pl.DataFrame; other: number } {
  if (results.height === 0 || !results.columns.includes("config")) {
    return { current: results, other: 0 };
  }
  const ids = results.getColumn("run_id").toArray() as string[];
  const configs = results.getColumn("config").toArray() as string[];
  const keep = ids.map((id, i) => runIdOf(JSON.parse(configs[i])) === id);
  const current = results.filter(pl.Series("keep", keep));
  return { current, other: results.height - current.height };
}

/**
 * The routers' behaviour per (router, E), averaged over runs and routed blocks: train/eval
 * routing agreement, policy entropy (and its share of the uniform ln E), busiest expert's load
 * relative to a balanced one, dropped-token fraction. `router`: loadRouterMetrics(dir) or a
 * shipped sweep's router frame; `results`: the runs' results (for router and E).
 */
export function routerBehaviour(results: pl.DataFrame, router: pl.DataFrame): pl.DataFrame {
  if (router.height === 0) return pl.DataFrame({});
  const cols = ["agreement", "entropy", "maxLoad", "dropped"].filter((c) =>
    router.columns.includes(c)
  );
  return router
    .join(results.select("run_id", "router", "E"), { on: "run_id" })
    .groupBy(["router", "E"])
    .agg(
      pl.col("run_id").nUnique().alias("runs"),
      ...cols.map((c) => pl.col(c).mean()),
    )
    .withColumns(
      ...(cols.includes("entropy")
        ? [pl.col("entropy").div(pl.col("E").cast(pl.Float64).log()).alias("entropy_share")]
        : []),
    )
    .sort(["router", "E"]);
}
