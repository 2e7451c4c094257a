/**
 * Views of an Analysis: the JSON the CLI prints, the paper-vs-ours comparison rows (Table 3, the
 * dense fit, N_cutoff, the EPC example) and plain-text tables.
 */
import {
  eq1Law,
  type Eq1Params,
  PAPER_DENSE,
  PAPER_EPC_EXAMPLE,
  PAPER_N_CUTOFF,
  TABLE3,
} from "../laws/mod.ts";
import { evaluateFit } from "../fit/mod.ts";
import type { Analysis, Eq1Fit, HeldOutSummary, LawFit } from "./analyse.ts";
import type { AnalysisInput } from "./input.ts";

type Json = Record<string, unknown>;

function lawJson<P extends Record<string, number>>(f: LawFit<P>, extra: Json = {}): Json {
  return {
    ...f.params,
    ...extra,
    mse_log10: f.mse_log10,
    rmse_loss: f.rmse_loss,
    max_residual: f.max_residual,
    max_residual_loss: f.max_residual_loss,
    converged: f.converged,
    n: f.n,
    ...(f.ci95 ? { ci95: f.ci95 } : {}),
  };
}

/**
 * One JSON object keyed by technique name plus "Dense": each technique holds eq1, separable,
 * bilinear, generalised (when fitted), per_N, per_E, held_out and eq1_profile (the 95%
 * profile-likelihood region of E_start and E_max); "Dense" holds alpha_N, N_c, mse_log10.
 */
export function analysisJson(a: Analysis): Json {
  const out: Json = {};
  for (const [t, r] of Object.entries(a.techniques)) {
    out[t] = {
      eq1: lawJson(r.eq1, { N_cutoff: r.eq1.N_cutoff, EPC_5M_128: r.eq1.EPC_5M_128 }),
      separable: lawJson(r.separable),
      bilinear: lawJson(r.bilinear),
      ...(r.generalised ? { generalised: lawJson(r.generalised) } : {}),
      per_N: r.perN,
      per_E: r.perE,
      ...(r.heldOut ? { held_out: r.heldOut } : {}),
      // The region's extent; its grid of profile values is for figures, not the summary.
      ...(r.eq1Profile ? { eq1_profile: { ...r.eq1Profile, surface: undefined } } : {}),
    };
  }
  if (a.dense) {
    out.Dense = lawJson(a.dense, { alpha_N: a.dense.alpha_N, N_c: a.dense.N_c });
  }
  return out;
}

/**
 * One row of the side-by-side comparison with the paper (one technique, one quantity): the
 * paper's number (Table 3 for the coefficients, the paper's text for N_cutoff and the EPC
 * example), ours, and our 95% bootstrap interval (null without a bootstrap). The tables, the
 * report and the comparison figure all read these rows.
 */
export interface ComparisonRow {
  technique: string;
  quantity: string;
  paper: number | null;
  ours: number;
  low: number | null;
  high: number | null;
}

const ci = (f: { ci95?: Record<string, [number, number]> }, k: string) =>
  f.ci95?.[k] ?? [null, null];

/**
 * Eq. (1) of each technique beside the paper: the six coefficients (Table 3), N_cutoff and
 * EPC(5M, E=128) (the paper's text), eight rows per technique.
 */
export function comparisonRows(fits: Record<string, Eq1Fit>): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const [t, eq1] of Object.entries(fits)) {
    const paper = (TABLE3 as Record<string, Eq1Params | undefined>)[t];
    for (const k of eq1Law.paramNames) {
      const [low, high] = ci(eq1, k);
      rows.push({
        technique: t,
        quantity: k,
        paper: paper ? paper[k] : null,
        ours: eq1.params[k],
        low,
        high,
      });
    }
    const [nl, nh] = ci(eq1, "N_cutoff");
    rows.push({
      technique: t,
      quantity: "N_cutoff",
      paper: PAPER_N_CUTOFF[t] ?? null,
      ours: eq1.N_cutoff,
      low: nl,
      high: nh,
    });
    const [el, eh] = ci(eq1, "EPC_5M_128");
    rows.push({
      technique: t,
      quantity: "EPC(5M, E=128)",
      paper: PAPER_EPC_EXAMPLE.Nbar,
      ours: eq1.EPC_5M_128,
      low: el,
      high: eh,
    });
  }
  return rows;
}

/** Table 3, the dense fit, N_cutoff and EPC(5M, 128): the paper's numbers beside our refit. */
export function paperComparison(a: Analysis): ComparisonRow[] {
  const rows = comparisonRows(
    Object.fromEntries(Object.entries(a.techniques).map(([t, r]) => [t, r.eq1])),
  );
  if (a.dense) {
    const d = a.dense;
    const [al, ah] = ci(d, "alpha_N");
    rows.push({
      technique: "Dense",
      quantity: "alpha_N",
      paper: PAPER_DENSE.alpha_N,
      ours: d.alpha_N,
      low: al,
      high: ah,
    });
    const [cl, chi] = ci(d, "N_c");
    rows.push({
      technique: "Dense",
      quantity: "N_c",
      paper: PAPER_DENSE.N_c,
      ours: d.N_c,
      low: cl,
      high: chi,
    });
  }
  return rows;
}

/** MSE (log10) of the published Table 3 coefficients on each technique's data, beside ours. */
export function table3Mse(
  a: Analysis,
  input: AnalysisInput,
): { technique: string; paper_mse_log10: number; ours_mse_log10: number }[] {
  const out = [];
  for (const [t, r] of Object.entries(a.techniques)) {
    const paper = (TABLE3 as Record<string, Eq1Params | undefined>)[t];
    if (!paper) continue;
    const g = input.techniques[t];
    const ev = evaluateFit(eq1Law, paper, { N: g.N, E: g.E, loss: g.loss });
    out.push({ technique: t, paper_mse_log10: ev.mse_log10, ours_mse_log10: r.eq1.mse_log10 });
  }
  return out;
}

/** Format a number compactly: 3 significant digits, engineering-style for large/small values. */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return "-";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const ax = Math.abs(x);
  if (ax !== 0 && (ax >= 1e5 || ax < 1e-3)) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toString();
}

/** One law's fit in a table cell: MSE of log10 L / RMSE in nats / largest |residual| in nats. */
/** A held-out check as one table cell: RMSE / largest error (loss units) / mean relative error. */
export function heldOutCell(h: HeldOutSummary): string {
  return `${fmt(h.rmse_loss)} / ${fmt(h.max_abs_error)} / ${fmt(100 * h.mean_abs_rel_error, 2)}%`;
}

export function goodnessCell(
  f:
    | { mse_log10: number; rmse_loss: number; max_residual_loss: number; converged: boolean }
    | undefined,
): string {
  return f
    ? `${fmt(f.mse_log10)} / ${fmt(f.rmse_loss)} / ${fmt(f.max_residual_loss)}${
      f.converged ? "" : " (not converged)"
    }`
    : "-";
}

/** A plain-text table with aligned columns. */
export function textTable(header: string[], rows: string[][]): string {
  const w = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j]?.length ?? 0)));
  const line = (r: string[]) =>
    r.map((c, j) => (j === 0 ? c.padEnd(w[j]) : c.padStart(w[j]))).join("  ");
  return [line(header), w.map((n) => "-".repeat(n)).join("  "), ...rows.map(line)].join("\n");
}

const interval = (lo: number | null, hi: number | null) =>
  lo === null || hi === null ? "" : `[${fmt(lo)}, ${fmt(hi)}]`;

/** The readable report `deno task fit` prints. */
export function analysisText(a: Analysis, input: AnalysisInput): string {
  const parts: string[] = [];
  parts.push(
    `Scaling-law fits on ${a.source}: ${a.options.restarts} restarts, ` +
      `${a.options.bootstrap} bootstrap resamples (${a.options.bootstrapRestarts} restarts each), ` +
      `objective ${a.options.loss} of log10 L, seed ${a.options.seed}` +
      (a.options.eq1MinEStart > 0
        ? `; Eq. (1) with E_start >= ${a.options.eq1MinEStart} imposed.`
        : "."),
  );
  const cmp = paperComparison(a);
  parts.push(
    "\nEq. (1) and derived quantities: the paper beside our refit (95% bootstrap interval)\n" +
      textTable(
        ["technique", "quantity", "paper", "ours", "95% interval"],
        cmp.map((
          r,
        ) => [r.technique, r.quantity, fmtPaper(r.paper), fmt(r.ours, 4), interval(r.low, r.high)]),
      ),
  );
  const t3 = table3Mse(a, input);
  if (t3.length > 0) {
    parts.push(
      "\nMSE of log10 L: published Table 3 coefficients vs our refit, same data\n" +
        textTable(
          ["technique", "Table 3", "ours"],
          t3.map((r) => [r.technique, fmt(r.paper_mse_log10), fmt(r.ours_mse_log10)]),
        ),
    );
  }
  const laws = ["eq1", "separable", "bilinear", "generalised"] as const;
  parts.push(
    "\nGoodness of fit per law: MSE of log10 L / RMSE in nats / largest |residual| in nats\n" +
      textTable(
        ["technique", "n", ...laws],
        Object.entries(a.techniques).map(([t, r]) => [
          t,
          String(r.n),
          ...laws.map((k) => goodnessCell(r[k])),
        ]),
      ),
  );
  const withHeld = Object.entries(a.techniques).filter(([, r]) => r.heldOut);
  if (withHeld.length > 0) {
    parts.push(
      `\nHeld out: fit on N <= ${fmt(a.options.heldOutMaxN)}, predict the larger runs ` +
        "(RMSE / largest error in nats, mean |relative error|)\n" +
        textTable(
          ["technique", "n test", "eq1", "separable", "bilinear"],
          withHeld.map(([t, r]) => [
            t,
            String(r.heldOut!.eq1.nTest),
            ...(["eq1", "separable", "bilinear"] as const).map((k) => heldOutCell(r.heldOut![k])),
          ]),
        ),
    );
  }
  if (a.dense) {
    parts.push(
      `\nDense power law L = (N_c / N)^alpha_N: alpha_N ${fmt(a.dense.alpha_N, 4)}, ` +
        `N_c ${fmt(a.dense.N_c)}, MSE(log10) ${fmt(a.dense.mse_log10)} on ${a.dense.n} runs ` +
        `(paper: alpha_N ${PAPER_DENSE.alpha_N}, N_c ${fmt(PAPER_DENSE.N_c)})`,
    );
  }
  return parts.join("\n");
}

/** The paper's numbers as printed (3 decimals), large counts in exponent form. */
function fmtPaper(x: number | null): string {
  return x !== null && Math.abs(x) < 1e5 ? String(x) : fmt(x);
}
