import type pl from "nodejs-polars";
import { formatCount } from "./style.ts";

/** One run as the figure builders read it (a row of a release view, or of our own sweep). */
export interface RunRow {
  technique: string;
  router: string;
  N: number;
  E: number;
  loss: number;
  label: string;
  dense: boolean;
  [key: string]: unknown;
}

/** Throws naming the missing columns and the view that has them. */
export function requireColumns(df: pl.DataFrame, cols: string[], who: string): void {
  const missing = cols.filter((c) => !df.columns.includes(c));
  if (missing.length) {
    throw new Error(
      `${who}: the frame lacks column(s) ${missing.join(", ")}; pass a release view ` +
        `(e.g. mainSweep(df)) or a frame with columns ${cols.join(", ")}`,
    );
  }
}

/**
 * Rows of a frame with columns technique, N, E, loss (router_type, model_size_label and any `extra`
 * columns copied when present). Rows with a null/non-finite loss are dropped. A row is dense when
 * router_type is "Dense" (or, without router_type, when E = 1).
 */
export function runRows(df: pl.DataFrame, who: string, extra: string[] = []): RunRow[] {
  requireColumns(df, ["technique", "N", "E", "loss"], who);
  const recs = df.toRecords() as Record<string, unknown>[];
  const out: RunRow[] = [];
  for (const r of recs) {
    const loss = r.loss === null ? NaN : Number(r.loss);
    if (!Number.isFinite(loss)) continue;
    const N = Number(r.N), E = Number(r.E);
    const router = String(r.router_type ?? r.technique);
    const row: RunRow = {
      technique: String(r.technique),
      router,
      N,
      E,
      loss,
      label: typeof r.model_size_label === "string" ? r.model_size_label : formatCount(N),
      dense: r.router_type !== undefined ? router === "Dense" : E === 1,
    };
    for (const c of extra) row[c] = r[c];
    out.push(row);
  }
  return out;
}

/** Distinct values in first-seen order. */
export function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Groups by a key, keeping first-seen order. */
export function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const g = m.get(k);
    if (g) g.push(x);
    else m.set(k, [x]);
  }
  return m;
}
