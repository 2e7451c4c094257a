/**
 * From sweep results to fit data: diverged runs are dropped with a warning.
 */
import pl from "nodejs-polars";

/** Fit data in the shape of lib/release's fitData (one entry per run). */
export interface SweepFitData {
  N: number[];
  E: number[];
  loss: number[];
  F: number[];
  P: number[];
  run_id: string[];
}

/**
 * Rows with status "done" and a finite val_loss. Every dropped row is named in one warning
 * (`warn` defaults to console.warn).
 */
export function doneRuns(
  df: pl.DataFrame,
  warn: (msg: string) => void = console.warn,
): pl.DataFrame {
  if (df.height === 0) return df;
  for (const col of ["run_id", "status", "val_loss"]) {
    if (!df.columns.includes(col)) {
      throw new Error(`Results frame lacks column "${col}": load it with loadSweepResults(dir)`);
    }
  }
  const ok = df.filter(pl.col("status").eq(pl.lit("done")).and(pl.col("val_loss").isFinite()));
  if (ok.height < df.height) {
    const bad = df.filter(
      pl.col("status").eq(pl.lit("done")).and(pl.col("val_loss").isFinite()).not(),
    );
    const rows = bad.select("run_id", "status", ...(bad.columns.includes("label") ? ["label"] : []))
      .toRecords();
    warn(
      `Leaving ${bad.height} of ${df.height} runs out of the fit (diverged or no finite ` +
        `val_loss): ${rows.map((r) => `${r.run_id} (${r.label ?? r.status})`).join(", ")}`,
    );
  }
  return ok;
}

/**
 * Fit data for one routed technique: its runs plus the dense runs (E = 1, router "Dense") as
 * E = 1, diverged runs dropped with a warning. Without `router`, all done runs.
 */
export function fitFrame(
  df: pl.DataFrame,
  opts: { router?: string; includeDense?: boolean; warn?: (msg: string) => void } = {},
): SweepFitData {
  let rows = doneRuns(df, opts.warn);
  if (opts.router !== undefined && rows.height > 0) {
    const routers = new Set(rows.getColumn("router").toArray() as string[]);
    if (!routers.has(opts.router)) {
      throw new Error(
        `No done runs with router "${opts.router}" in the results; routers present: ${
          [...routers].join(", ")
        }`,
      );
    }
    let keep = pl.col("router").eq(pl.lit(opts.router));
    if (opts.includeDense ?? true) keep = keep.or(pl.col("E").eq(pl.lit(1)));
    rows = rows.filter(keep);
  }
  const col = (name: string) =>
    rows.height === 0 ? [] : (rows.getColumn(name).toArray() as unknown[]).map(Number);
  return {
    N: col("N"),
    E: col("E"),
    loss: col("val_loss"),
    F: col("F"),
    P: col("P"),
    run_id: rows.height === 0 ? [] : rows.getColumn("run_id").toArray() as string[],
  };
}

/**
 * Our runs as a main-sweep frame, the shape lib/release's mainSweep gives and lib/figures and
 * lib/analysis read: one row per routed run with `technique` = its router, plus every dense run
 * once per technique present (E = 1, router_type "Dense"); columns technique, router_type, N, P, F,
 * E, R, k, loss (= val_loss), model_size_label, run_id, seed. Only R = 1, k = 1 runs by default
 * (the paper's main sweep); diverged runs are dropped with a warning.
 */
export function sweepMainFrame(
  df: pl.DataFrame,
  opts: { R?: number; k?: number; warn?: (msg: string) => void } = {},
): pl.DataFrame {
  const ok = doneRuns(df, opts.warn);
  if (ok.height === 0) {
    throw new Error("No finished (non-diverged) runs in the results: run the sweep first");
  }
  const R = opts.R ?? 1, k = opts.k ?? 1;
  const rows = ok.toRecords() as Record<string, unknown>[];
  const dense = rows.filter((r) => Number(r.E) === 1);
  const routed = rows.filter((r) => Number(r.E) > 1 && Number(r.R) === R && Number(r.k) === k);
  const techniques = [...new Set(routed.map((r) => String(r.router)))];
  const out: Record<string, unknown>[] = [];
  const row = (r: Record<string, unknown>, technique: string) => ({
    technique,
    router_type: Number(r.E) === 1 ? "Dense" : String(r.router),
    N: Number(r.N),
    P: Number(r.P),
    F: Number(r.F),
    E: Number(r.E),
    R: Number(r.R),
    k: Number(r.k),
    loss: Number(r.val_loss),
    model_size_label: `d${r.dModel}L${r.layers}`,
    run_id: String(r.run_id),
    seed: Number(r.seed),
  });
  for (const t of techniques) {
    for (const r of dense) out.push(row(r, t));
    for (const r of routed.filter((r) => r.router === t)) out.push(row(r, t));
  }
  if (techniques.length === 0) { for (const r of dense) out.push(row(r, "Dense")); }
  return pl.readRecords(out).sort(["technique", "N", "E"]);
}
