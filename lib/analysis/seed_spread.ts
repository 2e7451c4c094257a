/**
 * The seed spread of a sweep, measured in the sweep itself, and the rule every claim about our
 * runs is judged by: two configurations differ only when their mean losses are further apart than
 * twice the standard deviation of that difference, computed from the pooled seed spread.
 *
 * Pooled, and per model size: a sweep repeats a few configurations over seeds (two seeds at its
 * smallest and largest size, say). Seed noise grows with size in our sweeps (standard sweep,
 * code version 4: sd 0.004 nats at d_model 32, 0.027 at d_model 128), so one pooled figure would
 * be too strict at small sizes and too lenient at large ones. When runs carry their size, the
 * spread is pooled per size as well; a size without repeated runs takes the larger spread of the
 * nearest measured sizes below and above it (the cautious choice). A difference of cell means with
 * n_a and n_b seeds and single-run spreads sd_a and sd_b has standard deviation
 * sqrt(sd_a^2 / n_a + sd_b^2 / n_b); without sizes, sd_a = sd_b = the pooled sd.
 */

/** One run: the configuration it belongs to (its cell) and its loss. */
export interface SpreadRun {
  /** Everything that defines the configuration except the seed, e.g. "Dense|N|1". */
  cell: string;
  loss: number;
  /** The model size the cell belongs to (e.g. N); when given, the spread is also kept per size. */
  size?: number;
}

/** The seed spread pooled over the cells of one model size. */
export interface SizeSpread {
  size: number;
  sd: number;
  dof: number;
}

/** The pooled standard deviation of single runs over seeds. */
export interface SeedSpread {
  /** Pooled standard deviation of one run's loss across seeds (nats). */
  sd: number;
  /** Degrees of freedom behind it: sum over repeated cells of (seeds - 1). */
  dof: number;
  /** Configurations that had at least two seeds. */
  cells: number;
  /** Runs in those configurations. */
  runs: number;
  /** Per size, ascending (only sizes with a repeated configuration; empty without sizes). */
  bySize?: SizeSpread[];
}

/** How far apart two cell means must be to count, in standard deviations of their difference. */
export const SPREAD_MULTIPLE = 2;

/**
 * Pooled seed spread: sum over cells of the squared deviations from the cell mean, over the sum
 * of (runs - 1). Undefined when no cell has two runs (then nothing can be judged against noise).
 */
export function seedSpread(runs: SpreadRun[]): SeedSpread | undefined {
  const byCell = new Map<string, { losses: number[]; size?: number }>();
  for (const r of runs) {
    if (!Number.isFinite(r.loss)) continue;
    const c = byCell.get(r.cell) ?? { losses: [], size: r.size };
    if (c.size !== r.size) {
      throw new Error(`seedSpread: cell "${r.cell}" has runs of sizes ${c.size} and ${r.size}`);
    }
    c.losses.push(r.loss);
    byCell.set(r.cell, c);
  }
  let ss = 0, dof = 0, cells = 0, n = 0;
  const sizes = new Map<number, { ss: number; dof: number }>();
  for (const { losses: ls, size } of byCell.values()) {
    if (ls.length < 2) continue;
    const m = ls.reduce((a, b) => a + b, 0) / ls.length;
    const cellSs = ls.reduce((a, b) => a + (b - m) ** 2, 0);
    ss += cellSs;
    dof += ls.length - 1;
    cells += 1;
    n += ls.length;
    if (size !== undefined) {
      const z = sizes.get(size) ?? { ss: 0, dof: 0 };
      sizes.set(size, { ss: z.ss + cellSs, dof: z.dof + ls.length - 1 });
    }
  }
  if (dof === 0) return undefined;
  const bySize = [...sizes].sort((a, b) => a[0] - b[0])
    .map(([size, z]) => ({ size, sd: Math.sqrt(z.ss / z.dof), dof: z.dof }));
  return { sd: Math.sqrt(ss / dof), dof, cells, runs: n, ...(bySize.length ? { bySize } : {}) };
}

/**
 * The single-run seed sd that applies at `size`: the size's own when it was measured; else the
 * larger of the nearest measured sizes below and above it (one side only beyond the measured
 * range); the pooled sd when the spread has no sizes or no size is asked for.
 */
export function spreadAt(spread: SeedSpread, size?: number): number {
  const per = spread.bySize;
  if (size === undefined || !per?.length) return spread.sd;
  const own = per.find((s) => s.size === size);
  if (own) return own.sd;
  const below = per.filter((s) => s.size < size).at(-1);
  const above = per.find((s) => s.size > size);
  return Math.max(below?.sd ?? 0, above?.sd ?? 0);
}

/** The outcome of comparing two cells: "lower" means a's mean loss is lower beyond the spread. */
export type Difference = "lower" | "level" | "higher";

/** Two cells' mean losses compared against the spread (raw sign when there is no spread). */
export interface Comparison {
  /** mean(b) - mean(a): positive when a has the lower loss (a "gain" of a over b). */
  gain: number;
  /** The smallest |gain| that counts: SPREAD_MULTIPLE * sd * sqrt(1/n_a + 1/n_b); 0 without spread. */
  threshold: number;
  verdict: Difference;
}

/**
 * Compares the losses of cell a (n_a seeds) against cell b (n_b seeds); `sizes` are the cells'
 * model sizes, for a spread kept per size (spreadAt).
 */
export function compareCells(
  a: number[],
  b: number[],
  spread: SeedSpread | undefined,
  sizes: { a?: number; b?: number } = {},
): Comparison {
  if (a.length === 0 || b.length === 0) {
    throw new Error("compareCells: each cell needs at least one finite loss");
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const gain = mean(b) - mean(a);
  const threshold = spread
    ? SPREAD_MULTIPLE *
      Math.sqrt(
        spreadAt(spread, sizes.a) ** 2 / a.length + spreadAt(spread, sizes.b) ** 2 / b.length,
      )
    : 0;
  const verdict: Difference = gain > threshold ? "lower" : gain < -threshold ? "higher" : "level";
  return { gain, threshold, verdict };
}

/** The rule in words, for reports: what was measured and what counts. */
export function spreadWords(spread: SeedSpread | undefined): string {
  if (!spread) {
    return "no configuration was run with two seeds, so no seed spread was measured: " +
      "differences below are raw signs, not judged against noise";
  }
  const per = spread.bySize?.length
    ? `, per size ${
      spread.bySize.map((s) => `${s.size.toPrecision(3)}: ${s.sd.toPrecision(2)}`).join(", ")
    } (a size not repeated takes the larger sd of its measured neighbours)`
    : "";
  return `pooled seed sd ${spread.sd.toPrecision(2)} nats${per}, measured in this sweep over ` +
    `${spread.cells} configurations x 2+ seeds (${spread.runs} runs, ${spread.dof} dof); a ` +
    `difference counts when it exceeds ${SPREAD_MULTIPLE} sd of the difference ` +
    `(${SPREAD_MULTIPLE} x sqrt(sd_a^2/n_a + sd_b^2/n_b), n = seeds per configuration)`;
}
