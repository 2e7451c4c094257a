/**
 * Tables (nodejs-polars frames) for the notebooks: the release at a glance, the comparison with
 * the paper, the dense power law, fit quality and the Effective Parameter Count.
 */
import pl from "nodejs-polars";
import {
  denseAlphaNc,
  denseLaw,
  effectiveParameterCount,
  eq1Law,
  nCutoff,
  PAPER_DENSE,
  TABLE3,
} from "../laws/mod.ts";
import { evaluateFit, fitLaw } from "../fit/mod.ts";
import { finalSteps, fitData, routingFrequencySweep, topKSweep } from "../release/mod.ts";
import type { ComparisonRow } from "./summary.ts";
import { type Fits, techniqueRows, techniquesOf } from "./techniques.ts";

function sig(x: number): number {
  return Number(x.toPrecision(4));
}

/**
 * Comparison rows as a table (4 significant digits): ours, our interval [lo, hi], its span hi / lo
 * (for positive quantities), the paper's value and whether it lies inside our interval (null
 * without an interval or a paper value).
 */
export function comparisonTable(rows: ComparisonRow[]): pl.DataFrame {
  return pl.DataFrame(rows.map((r) => {
    const iv = r.low !== null && r.high !== null;
    return {
      technique: r.technique,
      quantity: r.quantity,
      ours: sig(r.ours),
      lo: iv ? sig(r.low!) : null,
      hi: iv ? sig(r.high!) : null,
      span: iv && r.low! > 0 ? sig(r.high! / r.low!) : null,
      paper: r.paper === null ? null : sig(r.paper),
      paper_inside: r.paper === null || !iv ? null : r.paper >= r.low! && r.paper <= r.high!,
    };
  }));
}

/** One row per sweep x router: runs, sizes, expert counts, R and k values (the release at a glance). */
export function releaseOverview(df: pl.DataFrame): pl.DataFrame {
  const f = finalSteps(df);
  const parts: [string, pl.DataFrame][] = [
    [
      "main (R=0.5, k=1)",
      f.filter(
        pl.col("routing_frequency").eq(0.5).and(pl.col("k").eq(1)).and(
          pl.col("flop_increase").eq(1),
        ),
      ),
    ],
    ["routing frequency", routingFrequencySweep(df)],
    [
      "top-k / FLOP-matched dense",
      topKSweep(df).filter(pl.col("k").gt(1).or(pl.col("flop_increase").gt(1))),
    ],
  ];
  const recs: Record<string, unknown>[] = [];
  for (const [sweep, p] of parts) {
    const rows = p.toRecords() as Record<string, unknown>[];
    for (const router of [...new Set(rows.map((r) => String(r.router_type)))].sort()) {
      const g = rows.filter((r) => r.router_type === router);
      const uniq = (k: string) => [...new Set(g.map((r) => Number(r[k])))].sort((a, b) => a - b);
      const labels = [
        ...new Set(
          g.map((r) => ({ N: Number(r.N), l: String(r.model_size_label) })).sort((a, b) =>
            a.N - b.N
          ).map((x) => x.l),
        ),
      ];
      recs.push({
        sweep,
        router,
        runs: g.length,
        sizes: labels.join(" "),
        experts: uniq("E").join(" "),
        R: uniq("R").map((v) => +v.toFixed(3)).join(" "),
        k: uniq("k").join(" "),
      });
    }
  }
  return pl.DataFrame(recs);
}

/** The dense power law L = (N_c / N)^alpha_N refitted on the dense runs, beside the paper's. */
export function denseFitTable(mainFrame: pl.DataFrame): pl.DataFrame {
  const dense = mainFrame.filter(pl.col("router_type").eq(pl.lit("Dense")));
  const ids = new Set<number>();
  const keep = (dense.toRecords() as Record<string, unknown>[]).map((r, i) => {
    const id = Number(r.hyper_id);
    const first = !ids.has(id);
    ids.add(id);
    return first ? i : -1;
  }).filter((i) => i >= 0);
  const d = fitData(dense);
  const sub = {
    N: keep.map((i) => d.N[i]),
    E: keep.map((i) => d.E[i]),
    loss: keep.map((i) => d.loss[i]),
  };
  const f = fitLaw(denseLaw, sub);
  const ours = denseAlphaNc(f.params);
  return pl.DataFrame([
    {
      quantity: "alpha_N",
      ours: sig(ours.alpha_N),
      paper: PAPER_DENSE.alpha_N,
      kaplan_2020: 0.076,
    },
    { quantity: "N_c", ours: sig(ours.N_c), paper: PAPER_DENSE.N_c, kaplan_2020: 8.8e13 },
    { quantity: "dense runs", ours: sub.loss.length, paper: null, kaplan_2020: null },
    { quantity: "rmse (nats)", ours: sig(f.rmse_loss), paper: null, kaplan_2020: null },
  ]);
}

/** Goodness of fit of our refit against Table 3's rounded coefficients, per technique. */
export function fitQualityTable(mainFrame: pl.DataFrame, fits: Fits): pl.DataFrame {
  const recs: Record<string, unknown>[] = [];
  for (const t of techniquesOf(mainFrame)) {
    const d = fitData(techniqueRows(mainFrame, t));
    for (const [name, p] of [["our refit", fits[t]], ["Table 3", (TABLE3 as Fits)[t]]] as const) {
      if (!p) continue;
      const e = evaluateFit(eq1Law, p, d);
      recs.push({
        technique: t,
        coefficients: name,
        runs: d.loss.length,
        rmse_nats: sig(e.rmse_loss),
        max_abs_error_nats: sig(e.max_residual_loss),
        mse_log10: sig(e.mse_log10),
      });
    }
  }
  return pl.DataFrame(recs);
}

/** Effective Parameter Count and N_cutoff per technique for given fits (and the paper's example). */
export function epcTable(
  fits: Fits,
  examples: { N: number; E: number }[] = [{ N: 5e6, E: 128 }],
): pl.DataFrame {
  const recs: Record<string, unknown>[] = [];
  for (const [t, p] of Object.entries(fits)) {
    for (const x of examples) {
      recs.push({
        technique: t,
        N: x.N,
        E: x.E,
        EPC: sig(effectiveParameterCount(p, x.N, x.E)),
        EPC_over_N: sig(effectiveParameterCount(p, x.N, x.E) / x.N),
        N_cutoff: sig(nCutoff(p)),
      });
    }
  }
  return pl.DataFrame(recs);
}
