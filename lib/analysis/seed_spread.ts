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
 *
 * Per technique too: seed noise also differs between techniques. In the committed standard sweep
 * (code version 6, d_model 160, four E each) RL-R's single-run sd was 0.066 nats (one pair of
 * seeds 0.18 apart) against S-BASE's 0.009 and dense's 0.009: a variance ratio of about 50 on
 * (4, 4) degrees of freedom, far beyond chance
 * (README, "Our standard sweep"). Pooling them would let one
 * unstable router's noise hide every other router's effects. So when runs carry a group (their
 * technique, with dense runs as one group of their own), each group keeps its own per-size spread,
 * with the same neighbour rule within the group; a group with no repeated configuration falls back
 * to the per-size spread pooled over all groups.
 */

/** One run: the configuration it belongs to (its cell) and its loss. */
export interface SpreadRun {
  /** Everything that defines the configuration except the seed, e.g. "Dense|N|1". */
  cell: string;
  loss: number;
  /** The model size the cell belongs to (e.g. N); when given, the spread is also kept per size. */
  size?: number;
  /** The technique the cell belongs to ("Dense" for dense cells); when given, kept per group too. */
  group?: string;
}

/** The seed spread pooled over the cells of one model size. */
export interface SizeSpread {
  size: number;
  sd: number;
  dof: number;
}

/** The seed spread of one group (technique): pooled over its repeated cells, and per size. */
export interface GroupSpread {
  group: string;
  sd: number;
  dof: number;
  /** Per size, ascending (empty when the runs carry no size). */
  bySize: SizeSpread[];
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
  /** Per group, in order of first appearance (only groups with a repeated configuration). */
  byGroup?: GroupSpread[];
}

/** How far apart two cell means must be to count, in standard deviations of their difference. */
export const SPREAD_MULTIPLE = 2;

/**
 * Pooled seed spread: sum over cells of the squared deviations from the cell mean, over the sum
 * of (runs - 1). Undefined when no cell has two runs (then nothing can be judged against noise).
 */
export function seedSpread(runs: SpreadRun[]): SeedSpread | undefined {
  const byCell = new Map<string, { losses: number[]; size?: number; group?: string }>();
  for (const r of runs) {
    if (!Number.isFinite(r.loss)) continue;
    const c = byCell.get(r.cell) ?? { losses: [], size: r.size, group: r.group };
    if (c.size !== r.size) {
      throw new Error(`seedSpread: cell "${r.cell}" has runs of sizes ${c.size} and ${r.size}`);
    }
    if (c.group !== r.group) {
      throw new Error(`seedSpread: cell "${r.cell}" has runs of groups ${c.group} and ${r.group}`);
    }
    c.losses.push(r.loss);
    byCell.set(r.cell, c);
  }
  let ss = 0, dof = 0, cells = 0, n = 0;
  const sizes = new Map<number, { ss: number; dof: number }>();
  const groups = new Map<string, { ss: number; dof: number; sizes: Map<number, SizeSums> }>();
  for (const { losses: ls, size, group } of byCell.values()) {
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
    if (group !== undefined) {
      const g = groups.get(group) ?? { ss: 0, dof: 0, sizes: new Map() };
      g.ss += cellSs;
      g.dof += ls.length - 1;
      if (size !== undefined) {
        const z = g.sizes.get(size) ?? { ss: 0, dof: 0 };
        g.sizes.set(size, { ss: z.ss + cellSs, dof: z.dof + ls.length - 1 });
      }
      groups.set(group, g);
    }
  }
  if (dof === 0) return undefined;
  const bySize = perSize(sizes);
  const byGroup = [...groups].map(([group, g]) => ({
    group,
    sd: Math.sqrt(g.ss / g.dof),
    dof: g.dof,
    bySize: perSize(g.sizes),
  }));
  return {
    sd: Math.sqrt(ss / dof),
    dof,
    cells,
    runs: n,
    ...(bySize.length ? { bySize } : {}),
    ...(byGroup.length ? { byGroup } : {}),
  };
}

interface SizeSums {
  ss: number;
  dof: number;
}

const perSize = (sizes: Map<number, SizeSums>): SizeSpread[] =>
  [...sizes].sort((a, b) => a[0] - b[0])
    .map(([size, z]) => ({ size, sd: Math.sqrt(z.ss / z.dof), dof: z.dof }));

/** The neighbour rule: `size`'s own sd, else the larger of the nearest measured below and above. */
function sdNear(per: SizeSpread[], size: number): number {
  const own = per.find((s) => s.size === size);
  if (own) return own.sd;
  const below = per.filter((s) => s.size < size).at(-1);
  const above = per.find((s) => s.size > size);
  return Math.max(below?.sd ?? 0, above?.sd ?? 0);
}

/**
 * The single-run seed sd that applies at `size` (and to `group`): within the group when it has
 * repeated configurations, else over all groups. There, the size's own sd when it was measured;
 * else the larger of the nearest measured sizes below and above it (one side only beyond the
 * measured range); the pooled sd when there are no sizes or no size is asked for.
 */
export function spreadAt(spread: SeedSpread, size?: number, group?: string): number {
  const g = group === undefined ? undefined : spread.byGroup?.find((x) => x.group === group);
  if (g) return size === undefined || !g.bySize.length ? g.sd : sdNear(g.bySize, size);
  const per = spread.bySize;
  if (size === undefined || !per?.length) return spread.sd;
  return sdNear(per, size);
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

/** Where two compared cells sit: their model sizes and groups (techniques), for spreadAt. */
export interface CellPlaces {
  a?: number;
  b?: number;
  groupA?: string;
  groupB?: string;
}

/**
 * Compares the losses of cell a (n_a seeds) against cell b (n_b seeds); `places` are the cells'
 * model sizes and groups, for a spread kept per size and group (spreadAt).
 */
export function compareCells(
  a: number[],
  b: number[],
  spread: SeedSpread | undefined,
  places: CellPlaces = {},
): Comparison {
  if (a.length === 0 || b.length === 0) {
    throw new Error("compareCells: each cell needs at least one finite loss");
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const gain = mean(b) - mean(a);
  const threshold = spread
    ? SPREAD_MULTIPLE *
      Math.sqrt(
        spreadAt(spread, places.a, places.groupA) ** 2 / a.length +
          spreadAt(spread, places.b, places.groupB) ** 2 / b.length,
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
  const sizes = (per: SizeSpread[]) =>
    per.map((s) => `${s.size.toPrecision(3)}: ${s.sd.toPrecision(2)}`).join(", ");
  const per = spread.byGroup?.length
    ? `, per technique and size ${
      spread.byGroup.map((g) =>
        `${g.group} ${g.bySize.length ? sizes(g.bySize) : g.sd.toPrecision(2)}`
      ).join("; ")
    } (a size not repeated takes the larger sd of its measured neighbours in the same technique)`
    : spread.bySize?.length
    ? `, per size ${
      sizes(spread.bySize)
    } (a size not repeated takes the larger sd of its measured neighbours)`
    : "";
  return `pooled seed sd ${spread.sd.toPrecision(2)} nats${per}, measured in this sweep over ` +
    `${spread.cells} configurations x 2+ seeds (${spread.runs} runs, ${spread.dof} dof); a ` +
    `difference counts when it exceeds ${SPREAD_MULTIPLE} sd of the difference ` +
    `(${SPREAD_MULTIPLE} x sqrt(sd_a^2/n_a + sd_b^2/n_b), n = seeds per configuration)`;
}
