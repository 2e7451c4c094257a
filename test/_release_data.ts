/**
 * Test/bench helper (owned by "laws"): the release data the fitting tests use, through lib/release.
 * Main sweep per technique (authors' policy) and the all-sweeps data of the generalised law.
 */
import pl from "nodejs-polars";
import { releaseGeneralisedInput } from "../lib/analysis/mod.ts";
import { fitData, loadRelease, mainSweep, type Technique, TECHNIQUES } from "../lib/release/mod.ts";
import { curvesPath } from "./_curves.ts";

export { TECHNIQUES };
export type { Technique };

let cache: Promise<pl.DataFrame> | null = null;
function release(): Promise<pl.DataFrame> {
  cache ??= loadRelease({ path: curvesPath() });
  return cache;
}

/** Eq. (1) data: final step, R = 0.5, k = 1, flop_increase = 1, seed 42, dense as E = 1. */
export async function mainData(
  t: Technique,
): Promise<{ N: number[]; E: number[]; loss: number[] }> {
  const d = fitData(mainSweep(await release(), { technique: t }));
  return { N: d.N, E: d.E, loss: d.loss };
}

/** Generalised-law data for a technique (every seed-42 run of that router and every dense run). */
export async function generalisedData(
  t: Technique,
): Promise<{ N: number[]; E: number[]; F: number[]; B: number[]; loss: number[] }> {
  return releaseGeneralisedInput(await release())[t];
}
