/**
 * The computations behind the figures (fits, per-group slopes, residuals, refits over training),
 * kept apart from the pure figure builders so notebooks can show the numbers as tables too.
 */
import pl from "nodejs-polars";
import {
  bilinearLaw,
  type BilinearParams,
  denseAlphaNc,
  denseLaw,
  effectiveParameterCount,
  eq1Law,
  type Eq1Params,
  generalisedLaw,
  type GeneralisedParams,
  type Law,
  nCutoff,
  PAPER_DENSE,
  powerELaw,
  powerNLaw,
  separableLaw,
  TABLE3,
  utilisationInputs,
} from "../laws/mod.ts";
import { bootstrap, evaluateFit, fitLaw, fitPerGroup, type FitResult } from "../fit/mod.ts";
import {
  finalSteps,
  fitData,
  routingFrequencySweep,
  topKSweep,
  trainingCurves,
} from "../release/mod.ts";
import { runRows } from "./rows.ts";
import type { Fits } from "./fig1.ts";

export interface FitOpts {
  restarts?: number;
  seed?: number;
}

function techniquesOf(frame: pl.DataFrame): string[] {
  return [...new Set(frame.getColumn("technique").toArray() as string[])];
}

/** Eq. (1) refit per technique on a main-sweep frame (the authors' procedure: MSE of log10 L). */
export function fitEq1PerTechnique(
  frame: pl.DataFrame,
  opts: FitOpts = {},
): Record<string, FitResult<Eq1Params>> {
  const out: Record<string, FitResult<Eq1Params>> = {};
  for (const t of techniquesOf(frame)) {
    const d = fitData(frame.filter(pl.col("technique").eq(pl.lit(t))));
    out[t] = fitLaw(eq1Law, d, { restarts: opts.restarts ?? 500, seed: opts.seed ?? 0 });
  }
  return out;
}

/** Just the parameters of per-technique fits. */
export function paramsOf(fits: Record<string, FitResult<Eq1Params>>): Fits {
  return Object.fromEntries(Object.entries(fits).map(([t, f]) => [t, f.params]));
}

/** Table 3 of the paper as Fits (3-decimal published coefficients). */
export const PAPER_FITS: Fits = { ...TABLE3 };

export interface SlopeData {
  technique: string;
  /** Per dense size: slope b(N) of log L against log E (dense run included as E = 1). */
  perN: { N: number; label: string; slope: number; n: number }[];
  /** Per expert count: slope a(E) of log L against log N. */
  perE: { E: number; slope: number; n: number }[];
  /** The bilinear law (4) fitted on all runs: b(N) = b + c log N, a(E) = a + c log E. */
  bilinear: BilinearParams;
}

/** Per-size and per-expert-count power-law slopes and the bilinear fit, for one technique. */
export function slopeData(frame: pl.DataFrame, technique: string): SlopeData {
  const sub = frame.filter(pl.col("technique").eq(pl.lit(technique)));
  if (sub.height === 0) throw new Error(`slopeData: no rows for technique ${technique}`);
  const d = fitData(sub);
  const labels = new Map(runRows(sub, "slopeData").map((r) => [r.N, r.label]));
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
    for (const r of runRows(sub, "residualData")) {
      const pred = Math.pow(10, law.predictLog10(params, { N: r.N, E: r.E }));
      out.push({
        law: name,
        technique: t,
        N: r.N,
        E: r.E,
        label: r.label,
        residual_pct: 100 * (r.loss / pred - 1),
      });
    }
  };
  for (const t of techniquesOf(frame)) {
    const sub = frame.filter(pl.col("technique").eq(pl.lit(t)));
    const d = fitData(sub);
    const dense = sub.filter(pl.col("E").eq(1));
    push(denseLaw, fitLaw(denseLaw, fitData(dense)).params, "dense power law", t, dense);
    push(separableLaw, fitLaw(separableLaw, d).params, "separable", t, sub);
    push(bilinearLaw, fitLaw(bilinearLaw, d).params, "bilinear", t, sub);
    push(
      eq1Law,
      fitLaw(eq1Law, d, { restarts: opts.restarts ?? 500, seed: opts.seed ?? 0 }).params,
      "Eq. (1) refit",
      t,
      sub,
    );
    const paper = (TABLE3 as Record<string, Eq1Params>)[t];
    if (paper) push(eq1Law, paper, "Eq. (1) Table 3", t, sub);
  }
  return out;
}

export interface ComparisonRow {
  technique: string;
  fit: Eq1Params;
  N_cutoff: number;
  /** Bootstrap percentile intervals per parameter and for N_cutoff, EPC_5M_128. */
  intervals: Record<string, [number, number]>;
  paper?: Eq1Params;
  resamples: number;
  rmse_loss: number;
}

/** Eq. (1) per technique with bootstrap intervals, beside Table 3. */
export function compareTechniques(
  frame: pl.DataFrame,
  opts: FitOpts & { resamples?: number; bootRestarts?: number; level?: number } = {},
): ComparisonRow[] {
  return techniquesOf(frame).map((t) => {
    const d = fitData(frame.filter(pl.col("technique").eq(pl.lit(t))));
    const b = bootstrap(eq1Law, d, {
      resamples: opts.resamples ?? 200,
      restarts: opts.bootRestarts ?? 20,
      seed: opts.seed ?? 0,
      level: opts.level ?? 0.95,
    });
    return {
      technique: t,
      fit: b.fit.params,
      N_cutoff: nCutoff(b.fit.params),
      intervals: b.intervals,
      paper: (TABLE3 as Record<string, Eq1Params>)[t],
      resamples: b.resamples,
      rmse_loss: b.fit.rmse_loss,
    };
  });
}

/** Comparison rows as a table: ours [interval] beside the paper, one row per technique x quantity. */
export function comparisonTable(rows: ComparisonRow[]): pl.DataFrame {
  const recs: Record<string, unknown>[] = [];
  for (const r of rows) {
    const q: [string, number, number | undefined][] = [
      ...(["a", "b", "c", "d", "E_start", "E_max"] as const).map((k) =>
        [k, r.fit[k], r.paper?.[k]] as [string, number, number | undefined]
      ),
      ["N_cutoff", r.N_cutoff, r.paper ? nCutoff(r.paper) : undefined],
    ];
    for (const [name, ours, paper] of q) {
      const iv = r.intervals[name];
      recs.push({
        technique: r.technique,
        quantity: name,
        ours: sig(ours),
        lo: iv ? sig(iv[0]) : null,
        hi: iv ? sig(iv[1]) : null,
        table3: paper === undefined ? null : sig(paper),
        table3_inside: paper === undefined || !iv ? null : paper >= iv[0] && paper <= iv[1],
      });
    }
  }
  return pl.DataFrame(recs);
}

function sig(x: number): number {
  return Number(x.toPrecision(4));
}

export interface TrainingFitRow {
  technique: string;
  step: number;
  tokens: number;
  n: number;
  E_start: number;
  E_max: number;
  N_cutoff: number;
  a: number;
  b: number;
  c: number;
  d: number;
  rmse_loss: number;
}

/**
 * Eq. (1) refitted at every evaluation step of the main sweep's runs (same runs as the final fit,
 * each at that step), per technique. `mainFrame` selects the runs (by hyper_id); `df` is the full
 * release. Steps where fewer than `minCoverage` of the runs have a loss are skipped.
 */
export function lawsOverTraining(
  df: pl.DataFrame,
  mainFrame: pl.DataFrame,
  opts: FitOpts & { minStep?: number; minCoverage?: number } = {},
): TrainingFitRow[] {
  const curves = trainingCurves(df);
  const out: TrainingFitRow[] = [];
  for (const t of techniquesOf(mainFrame)) {
    const ids = mainFrame.filter(pl.col("technique").eq(pl.lit(t))).select("hyper_id");
    const c = curves.join(ids, { on: "hyper_id" }).filter(
      pl.col("loss").isNotNull().and(pl.col("step").gtEq(opts.minStep ?? 20000)),
    );
    const steps = [...new Set(c.getColumn("step").toArray() as number[])].sort((a, b) => a - b);
    let warm: Eq1Params | undefined;
    for (const s of steps) {
      const at = c.filter(pl.col("step").eq(s));
      if (at.height < (opts.minCoverage ?? 0.9) * ids.height) continue;
      const f = fitLaw(eq1Law, fitData(at), {
        restarts: opts.restarts ?? 100,
        seed: opts.seed ?? 0,
        warmStarts: warm ? [warm] : undefined,
      });
      warm = f.params;
      out.push({
        technique: t,
        step: s,
        tokens: Number(at.getColumn("tokens").get(0)),
        n: at.height,
        ...f.params,
        N_cutoff: nCutoff(f.params),
        rmse_loss: f.rmse_loss,
      });
    }
  }
  return out;
}

export interface ComputeLawData {
  technique: string;
  fit: FitResult<GeneralisedParams>;
  points: {
    F: number;
    B: number;
    loss: number;
    predicted: number;
    sweep: "dense" | "main" | "routing frequency" | "top-k";
    label: string;
    router: string;
  }[];
}

/**
 * The generalised law in (F, Bhat) fitted per technique on every seed-42 final-step run of that
 * technique (main, routing-frequency and top-k sweeps) plus the seed-42 dense runs (FLOP-matched
 * ones included): the data of lib/analysis's `releaseGeneralisedInput`.
 * `finals`: finalSteps(df).
 */
export function computeLawData(finals: pl.DataFrame, opts: FitOpts = {}): ComputeLawData[] {
  const recs = finals.toRecords() as Record<string, unknown>[];
  const techs = [...new Set(recs.map((r) => String(r.router_type)))].filter((t) => t !== "Dense");
  return techs.map((t) => {
    // The same runs as lib/analysis's generalised fit: seed 42 (the authors' policy), every dense
    // run (130M has seeds 1-3 only) as the FLOP reference.
    const rows = recs.filter((r) =>
      (r.router_type === t || r.router_type === "Dense") && Number(r.seed) === 42
    );
    const util = (r: Record<string, unknown>) => ({
      N: Number(r.N),
      P: Number(r.P),
      F: Number(r.F),
      router: String(r.router_type),
      flopIncrease: Number(r.flop_increase),
    });
    const { F, B } = utilisationInputs(
      rows.map(util),
      recs.filter((r) => r.router_type === "Dense").map(util),
    );
    const loss = rows.map((r) => Number(r.loss));
    const fit = fitLaw(generalisedLaw, { F, B, loss }, {
      restarts: opts.restarts ?? 500,
      seed: opts.seed ?? 0,
    });
    const points = rows.map((r, i) => ({
      F: F[i],
      B: B[i],
      loss: loss[i],
      predicted: Math.pow(10, generalisedLaw.predictLog10(fit.params, { F: F[i], B: B[i] })),
      sweep: r.router_type === "Dense"
        ? "dense" as const
        : Number(r.k) > 1
        ? "top-k" as const
        : Number(r.R) !== 0.5
        ? "routing frequency" as const
        : "main" as const,
      label: `${r.model_size_label} E=${r.E} R=${+Number(r.R).toFixed(3)} k=${r.k}` +
        (Number(r.flop_increase) > 1 ? ` x${r.flop_increase} FLOPs` : ""),
      router: String(r.router_type),
    }));
    return { technique: t, fit, points };
  });
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
    const d = fitData(mainFrame.filter(pl.col("technique").eq(pl.lit(t))));
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
