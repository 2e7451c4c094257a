/**
 * The generalised law in (F, Bhat) per technique, with every run it was fitted to placed at its
 * (F, B) and labelled by sweep: the data of the compute-law figure.
 */
import type pl from "nodejs-polars";
import { generalisedLaw, type GeneralisedParams, utilisationInputs } from "../laws/mod.ts";
import { fitLaw, type FitResult } from "../fit/mod.ts";
import type { FitOpts } from "./techniques.ts";

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
 * ones included): the data of `releaseGeneralisedInput`, which `analyse` fits.
 * `finals`: finalSteps(df).
 */
export function computeLawData(finals: pl.DataFrame, opts: FitOpts = {}): ComputeLawData[] {
  const recs = finals.toRecords() as Record<string, unknown>[];
  const techs = [...new Set(recs.map((r) => String(r.router_type)))].filter((t) => t !== "Dense");
  return techs.map((t) => {
    // The same runs as releaseGeneralisedInput: seed 42 (the authors' policy), every dense run
    // (130M has seeds 1-3 only) as the FLOP reference.
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
