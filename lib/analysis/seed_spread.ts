/**
 * The seed spread of a sweep, measured in the sweep itself, and the rule every claim about our
 * runs is judged by: two configurations differ only when their mean losses are further apart than
 * twice the standard deviation of that difference, computed from the pooled seed spread.
 *
 * Why pooled: a sweep repeats a few configurations over seeds (two seeds at its smallest and
 * largest size, say); the spread of single runs is taken to be the same everywhere, estimated from
 * every configuration that has more than one seed. A difference of cell means with n_a and n_b
 * seeds then has standard deviation sd * sqrt(1/n_a + 1/n_b).
 */

/** One run: the configuration it belongs to (its cell) and its loss. */
export interface SpreadRun {
  /** Everything that defines the configuration except the seed, e.g. "Dense|N|1". */
  cell: string;
  loss: number;
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
}

/** How far apart two cell means must be to count, in standard deviations of their difference. */
export const SPREAD_MULTIPLE = 2;

/**
 * Pooled seed spread: sum over cells of the squared deviations from the cell mean, over the sum
 * of (runs - 1). Undefined when no cell has two runs (then nothing can be judged against noise).
 */
export function seedSpread(runs: SpreadRun[]): SeedSpread | undefined {
  const byCell = new Map<string, number[]>();
  for (const r of runs) {
    if (!Number.isFinite(r.loss)) continue;
    byCell.set(r.cell, [...(byCell.get(r.cell) ?? []), r.loss]);
  }
  let ss = 0, dof = 0, cells = 0, n = 0;
  for (const ls of byCell.values()) {
    if (ls.length < 2) continue;
    const m = ls.reduce((a, b) => a + b, 0) / ls.length;
    ss += ls.reduce((a, b) => a + (b - m) ** 2, 0);
    dof += ls.length - 1;
    cells += 1;
    n += ls.length;
  }
  return dof === 0 ? undefined : { sd: Math.sqrt(ss / dof), dof, cells, runs: n };
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

/** Compares the losses of cell a (n_a seeds) against cell b (n_b seeds). */
export function compareCells(
  a: number[],
  b: number[],
  spread: SeedSpread | undefined,
): Comparison {
  if (a.length === 0 || b.length === 0) {
    throw new Error("compareCells: each cell needs at least one finite loss");
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const gain = mean(b) - mean(a);
  const threshold = spread
    ? SPREAD_MULTIPLE * spread.sd * Math.sqrt(1 / a.length + 1 / b.length)
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
  return `pooled seed sd ${spread.sd.toPrecision(2)} nats, measured in this sweep over ` +
    `${spread.cells} configurations x 2+ seeds (${spread.runs} runs, ${spread.dof} dof); a ` +
    `difference counts when it exceeds ${SPREAD_MULTIPLE} sd of the difference ` +
    `(${SPREAD_MULTIPLE} x sd x sqrt(1/n_a + 1/n_b), n = seeds per configuration)`;
}
