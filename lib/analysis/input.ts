/**
 * What the analysis fits: per technique, the routed runs plus the dense runs (as E = 1); the dense
 * runs alone for the dense power law; and, where known, the (F, B) inputs of the generalised law.
 * Built from the authors' release or from any frame with columns technique (optional), N, E, loss.
 */
import pl from "nodejs-polars";
import { utilisationInputs, type UtilisationRow } from "../laws/mod.ts";
import { finalSteps, fitData, mainSweep, type SeedPolicy, TECHNIQUES } from "../release/mod.ts";

/** Columns of one fit: N, E and the final validation loss; F and B for the generalised law. */
export interface GroupData {
  N: number[];
  E: number[];
  loss: number[];
}

export interface AnalysisInput {
  /** Per technique: its routed runs and the dense runs (E = 1). */
  techniques: Record<string, GroupData>;
  /** Dense runs only (E = 1), for the dense power law; empty when the data has none. */
  dense: { N: number[]; loss: number[] };
  /** Per technique: every run of every sweep with F (dense-equivalent FLOPs) and B = P / F. */
  generalised?: Record<string, { F: number[]; B: number[]; loss: number[] }>;
  /** Where the data came from, for reports. */
  source: string;
}

/** The name dense rows carry in a user's frame; such rows join every technique as E = 1. */
export const DENSE = "Dense";

/** Analysis input from the authors' release (the frame loadRelease returns). */
export function releaseAnalysisInput(
  df: pl.DataFrame,
  opts: { seedPolicy?: SeedPolicy; source?: string } = {},
): AnalysisInput {
  const main = mainSweep(df, { seedPolicy: opts.seedPolicy });
  const techniques: Record<string, GroupData> = {};
  for (const t of TECHNIQUES) {
    const d = fitData(main.filter(pl.col("technique").eq(pl.lit(t))));
    techniques[t] = { N: [...d.N], E: [...d.E], loss: [...d.loss] };
  }
  const dense = fitData(
    main.filter(pl.col("technique").eq(pl.lit(TECHNIQUES[0])).and(pl.col("E").eq(1))),
  );
  return {
    techniques,
    dense: { N: [...dense.N], loss: [...dense.loss] },
    generalised: releaseGeneralisedInput(df),
    source: opts.source ?? "release",
  };
}

/**
 * The generalised law's data per technique: every seed-42 final run of that router (every R, k)
 * plus every seed-42 dense run (every flop_increase), i.e. the main, routing-frequency and top-k
 * sweeps together. F and B as `utilisationInputs` defines them, with every base dense run of the
 * release (130M has seeds 1-3 only) as the FLOP reference.
 */
export function releaseGeneralisedInput(
  df: pl.DataFrame,
): Record<string, { N: number[]; E: number[]; F: number[]; B: number[]; loss: number[] }> {
  const finals = finalSteps(df);
  const reference = rowsOf(finals.filter(pl.col("router_type").eq(pl.lit(DENSE))));
  const out: Record<
    string,
    { N: number[]; E: number[]; F: number[]; B: number[]; loss: number[] }
  > = {};
  for (const t of TECHNIQUES) {
    const rows = rowsOf(
      finals.filter(
        pl.col("router_type").eq(pl.lit(t)).or(pl.col("router_type").eq(pl.lit(DENSE)))
          .and(pl.col("seed").eq(42)),
      ),
    );
    const { F, B } = utilisationInputs(rows, reference);
    out[t] = {
      N: rows.map((r) => r.N),
      E: rows.map((r) => r.E),
      F,
      B,
      loss: rows.map((r) => r.loss),
    };
  }
  return out;
}

function rowsOf(f: pl.DataFrame): (UtilisationRow & { E: number; loss: number })[] {
  const E = f.getColumn("E").toArray() as number[];
  const N = f.getColumn("N").toArray() as number[];
  const P = f.getColumn("P").toArray() as number[];
  const F = f.getColumn("F").toArray() as number[];
  const router = f.getColumn("router_type").toArray() as string[];
  const fi = f.getColumn("flop_increase").toArray() as number[];
  const loss = f.getColumn("loss").toArray() as number[];
  return N.map((_, i) => ({
    E: E[i],
    N: N[i],
    P: P[i],
    F: F[i],
    router: router[i],
    flopIncrease: fi[i],
    loss: loss[i],
  }));
}

/** Orders of magnitude from the median of its column beyond which an N or a loss is flagged. */
export const OUTLIER_DECADES = 3;

/**
 * Analysis input from a user's frame with columns N, E, loss and optionally technique. Rows whose
 * technique is "Dense" (or, without a technique column, rows with E = 1) are the dense runs and
 * join every technique as E = 1. Without a technique column everything is one group, "all".
 * Rows whose N or loss lies more than OUTLIER_DECADES orders of magnitude from the column's
 * median are named in a warning (`warn`, default console.warn) and kept.
 */
export function frameAnalysisInput(
  frame: pl.DataFrame,
  source = "frame",
  opts: { warn?: (message: string) => void } = {},
): AnalysisInput {
  for (const c of ["N", "E", "loss"]) {
    if (!frame.columns.includes(c)) {
      throw new Error(
        `${source}: missing column '${c}'. The input needs columns N (dense parameters), ` +
          `E (experts, 1 for dense), loss (final validation loss) and optionally technique; ` +
          `it has: ${frame.columns.join(", ")}`,
      );
    }
  }
  const num = (c: string): number[] => {
    const s = frame.getColumn(c);
    if (!s.isNumeric()) {
      throw new Error(`${source}: column '${c}' must be numeric, found ${s.dtype}`);
    }
    return (s.cast(pl.Float64).toArray() as (number | null)[]).map((v, i) => {
      if (v === null || !Number.isFinite(v)) {
        throw new Error(
          `${source}: column '${c}' row ${i + 1} is ${v}: every value must be a number`,
        );
      }
      return v;
    });
  };
  const N = num("N"), E = num("E"), loss = num("loss");
  for (let i = 0; i < E.length; i++) {
    if (!(Number.isInteger(E[i]) && E[i] >= 1)) {
      throw new Error(
        `${source}: row ${i + 1} has E = ${E[i]}; E (experts) must be >= 1 and a whole number ` +
          `(1 for dense runs): fix that row's E`,
      );
    }
  }
  const warn = opts.warn ?? console.warn;
  for (const [name, values] of [["N", N], ["loss", loss]] as const) {
    const { median, far } = farFromMedian(values);
    if (far.length > 0) warn(outlierWarning(source, name, values, median, far));
  }
  const tech = frame.columns.includes("technique")
    ? (frame.getColumn("technique").cast(pl.Utf8).toArray() as (string | null)[]).map((t, i) => {
      if (t === null || t === "") throw new Error(`${source}: row ${i + 1} has no technique`);
      return t;
    })
    : N.map((_, i) => (E[i] === 1 ? DENSE : "all"));
  const isDense = tech.map((t) => t.toLowerCase() === DENSE.toLowerCase());
  for (let i = 0; i < N.length; i++) {
    if (isDense[i] && E[i] !== 1) {
      throw new Error(
        `${source}: row ${i + 1} is a dense run with E = ${E[i]}; dense runs have E = 1`,
      );
    }
  }
  const names = [...new Set(tech.filter((_, i) => !isDense[i]))];
  if (names.length === 0 && !tech.includes("all")) names.push("all");
  const techniques: Record<string, GroupData> = {};
  for (const t of names) {
    const g: GroupData = { N: [], E: [], loss: [] };
    for (let i = 0; i < N.length; i++) {
      if (tech[i] === t || isDense[i]) {
        g.N.push(N[i]);
        g.E.push(E[i]);
        g.loss.push(loss[i]);
      }
    }
    techniques[t] = g;
  }
  // Dense runs: labelled dense, or E = 1 inside a technique; each (N, loss) once.
  const dense = { N: [] as number[], loss: [] as number[] };
  const seen = new Set<string>();
  for (let i = 0; i < N.length; i++) {
    if (E[i] !== 1) continue;
    const key = `${N[i]}|${loss[i]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    dense.N.push(N[i]);
    dense.loss.push(loss[i]);
  }
  return { techniques, dense, source };
}

/**
 * Indices of the values more than OUTLIER_DECADES orders of magnitude from the median, and the
 * median: most often a typo or a unit slip, which a fit in log space takes at face value.
 * Non-positive values are left to the fit's own checks.
 */
function farFromMedian(values: number[]): { median: number; far: number[] } {
  const logs = values.filter((v) => v > 0).map(Math.log10).sort((a, b) => a - b);
  if (logs.length < 3) return { median: NaN, far: [] };
  const mid = logs.length >> 1;
  const median = logs.length % 2 ? logs[mid] : (logs[mid - 1] + logs[mid]) / 2;
  const far = values.flatMap((v, i) =>
    v > 0 && Math.abs(Math.log10(v) - median) > OUTLIER_DECADES ? [i] : []
  );
  return { median: 10 ** median, far };
}

/** 3 significant digits, large and small numbers as 3e+7 or 1.3e-4. */
function short(v: number): string {
  return v >= 1e5 || v < 1e-3
    ? v.toExponential(2).replace(/\.?0+e/, "e")
    : String(+v.toPrecision(3));
}

/** "runs.csv: row 7 (N = 1e+308) lies more than 3 orders of magnitude from the median N ..." */
function outlierWarning(
  source: string,
  name: string,
  values: number[],
  median: number,
  far: number[],
): string {
  const listed = far.slice(0, 10).map((i) => `${i + 1} (${name} = ${values[i]})`).join(", ");
  const more = far.length > 10 ? ` and ${far.length - 10} more` : "";
  const one = far.length === 1;
  return `${source}: row${one ? "" : "s"} ${listed}${more} ${one ? "lies" : "lie"} more than ` +
    `${OUTLIER_DECADES} orders of magnitude from the median ${name} ` +
    `(${short(median)}); check ${one ? "it" : "them"} for a typo or a unit ` +
    `mistake: the fit uses every row as given`;
}

/** Read a user's CSV or Parquet file into a frame, with a clear error for anything else. */
export function readFitFrame(path: string): pl.DataFrame {
  let stat: Deno.FileInfo;
  try {
    stat = Deno.statSync(path);
  } catch {
    throw new Error(
      `--input ${path}: no such file. Give a CSV or Parquet file with columns N, E, loss`,
    );
  }
  if (!stat.isFile) throw new Error(`--input ${path}: not a file`);
  const lower = path.toLowerCase();
  try {
    if (lower.endsWith(".parquet") || lower.endsWith(".pq")) return pl.readParquet(path);
    if (lower.endsWith(".csv")) return pl.readCSV(path);
  } catch (e) {
    throw new Error(`--input ${path}: could not be read (${(e as Error).message.split("\n")[0]})`);
  }
  throw new Error(`--input ${path}: unknown file type; use a .csv or .parquet file`);
}
