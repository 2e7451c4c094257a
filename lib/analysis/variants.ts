/**
 * The law variants on a main-sweep frame, per technique: per-size and per-expert-count power-law
 * slopes with the bilinear law's prediction of them, and every variant's residuals.
 */
import pl from "nodejs-polars";
import {
  bilinearLaw,
  type BilinearParams,
  denseLaw,
  eq1Law,
  type Eq1Params,
  type Law,
  powerELaw,
  powerNLaw,
  separableLaw,
  TABLE3,
} from "../laws/mod.ts";
import { fitLaw, fitPerGroup } from "../fit/mod.ts";
import { fitData } from "../release/mod.ts";
import { formatCount } from "../util/format.ts";
import { type FitOpts, techniqueRows, techniquesOf } from "./techniques.ts";

export interface SlopeData {
  technique: string;
  /** Per dense size: slope b(N) of log L against log E (dense run included as E = 1). */
  perN: { N: number; label: string; slope: number; n: number }[];
  /** Per expert count: slope a(E) of log L against log N. */
  perE: { E: number; slope: number; n: number }[];
  /** The bilinear law (4) fitted on all runs: b(N) = b + c log N, a(E) = a + c log E. */
  bilinear: BilinearParams;
}

/** Each row's size label: model_size_label where the frame has it, else "15M"-style from N. */
function sizeLabels(frame: pl.DataFrame, N: number[]): string[] {
  const col = frame.columns.includes("model_size_label")
    ? frame.getColumn("model_size_label").toArray() as unknown[]
    : [];
  return N.map((n, i) => (typeof col[i] === "string" ? col[i] as string : formatCount(n)));
}

/** Per-size and per-expert-count power-law slopes and the bilinear fit, for one technique. */
export function slopeData(frame: pl.DataFrame, technique: string): SlopeData {
  const sub = techniqueRows(frame, technique);
  if (sub.height === 0) throw new Error(`slopeData: no rows for technique ${technique}`);
  const d = fitData(sub);
  const labels = new Map(sizeLabels(sub, d.N).map((l, i) => [d.N[i], l]));
  const perN = fitPerGroup(powerELaw, d, "N").filter((g) => g.fit).map((g) => ({
    N: g.value,
    label: labels.get(g.value) ?? String(g.value),
    slope: g.fit!.params.b,
    n: g.n,
  }));
  const perE = fitPerGroup(powerNLaw, d, "E").filter((g) => g.fit && g.n >= 3).map((g) => ({
    E: g.value,
    slope: g.fit!.params.a,
    n: g.n,
  }));
  return { technique, perN, perE, bilinear: fitLaw(bilinearLaw, d).params };
}

export interface ResidualRow {
  law: string;
  technique: string;
  N: number;
  E: number;
  label: string;
  /** 100 * (observed / predicted - 1). */
  residual_pct: number;
}

/**
 * Residuals of every law variant on every run of a main-sweep frame: the dense power law (dense
 * runs), the separable and bilinear laws, Eq. (1) refitted, and Eq. (1) with Table 3's published
 * coefficients (when the technique has a Table 3 row).
 */
export function residualData(frame: pl.DataFrame, opts: FitOpts = {}): ResidualRow[] {
  const out: ResidualRow[] = [];
  const push = <P extends Record<string, number>>(
    law: Law<P>,
    params: P,
    name: string,
    t: string,
    sub: pl.DataFrame,
  ) => {
    const d = fitData(sub);
    const labels = sizeLabels(sub, d.N);
    d.N.forEach((N, i) => {
      const E = d.E[i];
      const pred = Math.pow(10, law.predictLog10(params, { N, E }));
      out.push({
        law: name,
        technique: t,
        N,
        E,
        label: labels[i],
        residual_pct: 100 * (d.loss[i] / pred - 1),
      });
    });
  };
  for (const t of techniquesOf(frame)) {
    const sub = techniqueRows(frame, t);
    const d = fitData(sub);
    const dense = sub.filter(pl.col("E").eq(1));
    push(denseLaw, fitLaw(denseLaw, fitData(dense)).params, "dense power law", t, dense);
    push(separableLaw, fitLaw(separableLaw, d).params, "separable", t, sub);
    push(bilinearLaw, fitLaw(bilinearLaw, d).params, "bilinear", t, sub);
    push(
      eq1Law,
      fitLaw(eq1Law, d, {
        restarts: opts.restarts ?? 500,
        seed: opts.seed ?? 0,
        minStart: opts.eq1MinEStart ?? 0,
      }).params,
      "Eq. (1) refit",
      t,
      sub,
    );
    const paper = (TABLE3 as Record<string, Eq1Params>)[t];
    if (paper) push(eq1Law, paper, "Eq. (1) Table 3", t, sub);
  }
  return out;
}
