/**
 * Views of the release frame: final step per run, the main sweep (dense runs as E = 1), the
 * routing-frequency sweep, the top-k sweep and training curves. Every view returns a
 * pl.DataFrame with the release columns plus `technique`, `N`, `P`, `F`, `E`, `R`, `loss`.
 */
import pl from "nodejs-polars";
import {
  ALL_COLUMNS,
  LOSS_COLUMNS,
  RELEASE_BATCH,
  RELEASE_SEQ_LEN,
  type Technique,
  TECHNIQUES,
} from "./schema.ts";

export type SeedPolicy = "seed42" | "mean-dense-seeds";
const SEED_POLICIES: readonly SeedPolicy[] = ["seed42", "mean-dense-seeds"];

function requireColumns(df: pl.DataFrame, cols: readonly string[], fn: string): void {
  const missing = cols.filter((c) => !df.columns.includes(c));
  if (missing.length > 0) {
    throw new Error(
      `${fn}: the frame lacks column(s) ${missing.join(", ")}; pass the frame that ` +
        `loadRelease() returns (or a view of it).`,
    );
  }
}

/** Throws unless `t` is one of TECHNIQUES; the message lists the valid ones. */
export function assertTechnique(t: string): asserts t is Technique {
  if (!(TECHNIQUES as readonly string[]).includes(t)) {
    throw new Error(
      `Unknown technique ${JSON.stringify(t)}; valid techniques: ${TECHNIQUES.join(", ")} ` +
        `(dense runs are added to each as E = 1).`,
    );
  }
}

/** Adds the short-name columns (and `technique` = router_type unless present). */
function derive(df: pl.DataFrame): pl.DataFrame {
  const out = df.withColumns(
    pl.col("dense_parameter_count").alias("N"),
    pl.col("total_parameter_count").alias("P"),
    pl.col("flops_per_step").alias("F"),
    pl.col("num_experts").alias("E"),
    pl.col("routing_frequency").alias("R"),
    pl.col("loss_validation").alias("loss"),
  );
  return out.columns.includes("technique")
    ? out
    : out.withColumn(pl.col("router_type").alias("technique"));
}

/**
 * One row per run (223), at its final (largest) step. Each eval-loss column holds the value at
 * the latest step where that loss is not null, as the authors' `sort_values('step')
 * .groupby('hyper_id').last()` does: in a few runs (e.g. 82, 83, 84, 140, 191) the last two
 * evaluations (steps 248,000 and 249,000) each hold part of the losses. `loss_validation` is
 * present at the final step of every run. Sorted by hyper_id.
 */
export function finalSteps(df: pl.DataFrame): pl.DataFrame {
  requireColumns(df, ALL_COLUMNS, "finalSteps");
  const base = df.select(...ALL_COLUMNS.filter((c) => df.columns.includes(c)));
  const others = base.columns.filter(
    (c) => c !== "hyper_id" && !(LOSS_COLUMNS as readonly string[]).includes(c),
  );
  const agg = base.sort(["hyper_id", "step"]).groupBy("hyper_id").agg(
    ...others.map((c) => pl.col(c).last()),
    ...LOSS_COLUMNS.map((c) => pl.col(c).dropNulls().last()),
  );
  return derive(agg.select(...base.columns).sort("hyper_id"));
}

/** The final-step frame of `df` (applies finalSteps unless `df` already has one row per run). */
function finals(df: pl.DataFrame): pl.DataFrame {
  requireColumns(df, ALL_COLUMNS, "release view");
  const ids = df.getColumn("hyper_id");
  return ids.nUnique() === ids.length && df.columns.includes("N") ? df : finalSteps(df);
}

/**
 * The paper's main sweep: R = 0.5, k = 1, flop_increase = 1, per technique, dense runs added as
 * E = 1 with `technique` set to the technique they were added to (so without `technique` the
 * dense rows appear once per technique). Seed policy:
 * - "seed42" (default, the authors'): only seed-42 runs. Dense 130M has no seed-42 run, so it is
 *   absent (5 dense rows per technique).
 * - "mean-dense-seeds": all seeds; runs sharing a cell (technique, router_type, size, E) are
 *   averaged (every loss column; hyper_id = the smallest id, seed = null). In the release the
 *   only such cell is Dense 130M (seeds 1, 2, 3); every other main-sweep cell has one run. The
 *   duplicated S-Base 25M runs lie outside this sweep (R != 0.5; see routingFrequencySweep).
 * Column `n_runs` says how many runs each row stands for. Sorted by technique, N, E.
 */
export function mainSweep(
  df: pl.DataFrame,
  opts: { technique?: Technique; seedPolicy?: SeedPolicy } = {},
): pl.DataFrame {
  const policy = opts.seedPolicy ?? "seed42";
  if (!SEED_POLICIES.includes(policy)) {
    throw new Error(
      `Unknown seed policy ${JSON.stringify(policy)}; valid: ${SEED_POLICIES.join(", ")}.`,
    );
  }
  if (opts.technique !== undefined) assertTechnique(opts.technique);
  const techs = opts.technique !== undefined ? [opts.technique] : [...TECHNIQUES];
  let base = finals(df).filter(
    pl.col("routing_frequency").eq(0.5).and(pl.col("k").eq(1)).and(
      pl.col("flop_increase").eq(1),
    ),
  );
  if (policy === "seed42") base = base.filter(pl.col("seed").eq(42));
  const parts = techs.map((t) =>
    base.filter(pl.col("router_type").eq(pl.lit(t)).or(pl.col("router_type").eq(pl.lit("Dense"))))
      .withColumn(pl.lit(t).alias("technique"))
  );
  let out = pl.concat(parts, { how: "vertical" });
  const cols = out.columns;
  const keys = ["technique", "router_type", "model_size_label", "num_experts"];
  if (policy === "mean-dense-seeds") {
    out = out.groupBy(keys).agg(
      pl.col("hyper_id").min(),
      pl.col("seed").first(),
      pl.col("hyper_id").count().cast(pl.Int32).alias("n_runs"),
      ...LOSS_COLUMNS.map((c) => pl.col(c).mean()),
      ...cols.filter((c) =>
        !keys.includes(c) && c !== "hyper_id" && c !== "seed" &&
        !(LOSS_COLUMNS as readonly string[]).includes(c)
      ).map((c) => pl.col(c).first()),
    ).withColumn(
      pl.when(pl.col("n_runs").gt(1)).then(pl.lit(null).cast(pl.Int32)).otherwise(
        pl.col("seed"),
      ).alias("seed"),
    ).select(...cols, "n_runs");
  } else {
    out = out.withColumn(pl.lit(1).cast(pl.Int32).alias("n_runs"));
  }
  // Recompute `loss` from the (possibly averaged) loss_validation; dense rows are E = 1 already.
  out = out.withColumns(pl.col("loss_validation").alias("loss"), pl.col("num_experts").alias("E"));
  const order = pl.DataFrame({ technique: techs, _t: techs.map((_, i) => i) });
  return out.join(order, { on: "technique" }).sort(["_t", "N", "E"]).drop("_t");
}

/**
 * The routing-frequency sweep: every cell (router_type, size, E) with a run at R != 0.5 (k = 1,
 * flop_increase = 1, seed 42), with all its runs at every R, R = 0.5 included. In the release:
 * S-Base and Hash at 25M (R = 1, 0.5, 0.25, 0.125) and 370M (R = 1, 0.5, 0.25, 1/12), E in
 * {8, 64, 256}. Runs with identical settings (four S-Base 25M cells have two) are kept as
 * separate rows. `includeDense` adds the seed-42 dense runs of the sweep's sizes, once per
 * technique, as E = 1. Sorted by technique, N, E, R.
 */
export function routingFrequencySweep(
  df: pl.DataFrame,
  opts: { includeDense?: boolean } = {},
): pl.DataFrame {
  const f = finals(df).filter(
    pl.col("k").eq(1).and(pl.col("flop_increase").eq(1)).and(pl.col("seed").eq(42)),
  );
  const keys = ["router_type", "model_size_label", "num_experts"];
  const cells = f.filter(
    pl.col("routing_frequency").neq(0.5).and(pl.col("router_type").neq(pl.lit("Dense"))),
  ).select(...keys).unique();
  let out = f.join(cells, { on: keys });
  if (opts.includeDense) {
    const sizes = out.select("model_size_label").unique();
    const techs = out.getColumn("router_type").unique().toArray() as string[];
    const dense = f.filter(pl.col("router_type").eq(pl.lit("Dense"))).join(sizes, {
      on: "model_size_label",
    });
    out = pl.concat([
      out,
      ...techs.map((t) => dense.withColumn(pl.lit(t).alias("technique"))),
    ], { how: "vertical" });
  }
  return out.sort(["technique", "N", "E", "R", "hyper_id"]);
}

/**
 * The top-k sweep: every cell (router_type, size, E, R) with a run at k > 1, with all its k
 * values (k = 1 included); plus the FLOP-matched dense baselines: every dense run with
 * flop_increase > 1 and the flop_increase = 1 dense run of the same size. In the release: S-Base,
 * 25M and 370M, E in {8, 64, 256}, k in {1, 2, 4} (18 runs); dense 25M and 370M with
 * flop_increase 1, 2, 4 and 55M with 1, 4 (8 runs). Dense rows get the technique of the routed
 * rows (one copy per technique with k > 1 runs; S-Base only in the release). Seed 42 only.
 */
export function topKSweep(df: pl.DataFrame): pl.DataFrame {
  const f = finals(df).filter(pl.col("seed").eq(42));
  const routed = f.filter(pl.col("router_type").neq(pl.lit("Dense")));
  const keys = ["router_type", "model_size_label", "num_experts", "routing_frequency"];
  const cells = routed.filter(pl.col("k").gt(1)).select(...keys).unique();
  const r = routed.filter(pl.col("flop_increase").eq(1)).join(cells, { on: keys });
  const dense = f.filter(pl.col("router_type").eq(pl.lit("Dense")));
  const sizes = dense.filter(pl.col("flop_increase").gt(1)).select("model_size_label").unique();
  const d = dense.filter(pl.col("routing_frequency").eq(0.5)).join(sizes, {
    on: "model_size_label",
  });
  const techs = r.getColumn("router_type").unique().toArray() as string[];
  return pl.concat([r, ...techs.map((t) => d.withColumn(pl.lit(t).alias("technique")))], {
    how: "vertical",
  }).sort(["technique", "router_type", "N", "E", "k", "flop_increase"]);
}

/**
 * Every evaluation of every run (5,799 rows), sorted by hyper_id then step, with the derived
 * columns and `tokens` = step x 256 x 2048 (training tokens seen). Loss cells may be null.
 */
export function trainingCurves(df: pl.DataFrame): pl.DataFrame {
  requireColumns(df, ALL_COLUMNS, "trainingCurves");
  return derive(df.select(...ALL_COLUMNS)).withColumn(
    pl.col("step").cast(pl.Float64).mul(RELEASE_BATCH * RELEASE_SEQ_LEN).alias("tokens"),
  ).sort(["hyper_id", "step"]);
}

/**
 * One sweep's rows as plain arrays, N, E and loss always: a lib/fit FitData as it is, with the
 * other columns kept for grouping and figures.
 */
export interface ReleaseFitData {
  N: number[];
  E: number[];
  loss: number[];
  F?: number[];
  P?: number[];
  R?: number[];
  technique?: string[];
  hyper_id?: number[];
}

/**
 * Plain arrays for the fitters. Needs columns N, E, loss (F, P, R, technique, hyper_id copied
 * when present). Throws if any N, E or loss is missing, not finite or not positive.
 */
export function fitData(frame: pl.DataFrame): ReleaseFitData {
  requireColumns(frame, ["N", "E", "loss"], "fitData");
  const num = (c: string): number[] => {
    const v = frame.getColumn(c).toArray() as (number | bigint | null)[];
    return v.map((x, i) => {
      const n = x === null ? NaN : Number(x);
      if (!Number.isFinite(n) || n <= 0) {
        throw new Error(
          `fitData: row ${i} has ${c} = ${x}; every ${c} must be a positive number (filter the ` +
            `frame, e.g. drop rows with a null loss, before fitting).`,
        );
      }
      return n;
    });
  };
  const out: ReleaseFitData = { N: num("N"), E: num("E"), loss: num("loss") };
  if (frame.columns.includes("F")) out.F = num("F");
  if (frame.columns.includes("P")) out.P = num("P");
  if (frame.columns.includes("R")) out.R = num("R");
  if (frame.columns.includes("technique")) {
    out.technique = frame.getColumn("technique").toArray() as string[];
  }
  if (frame.columns.includes("hyper_id")) {
    out.hyper_id = (frame.getColumn("hyper_id").toArray() as number[]).map(Number);
  }
  return out;
}
