/**
 * Test/bench helper (owned by "laws"): the release data the fitting tests use, through lib/release.
 * Main sweep per technique (authors' policy) and the all-sweeps data of the generalised law.
 */
import pl from "nodejs-polars";
import {
  finalSteps,
  fitData,
  loadRelease,
  mainSweep,
  type Technique,
  TECHNIQUES,
} from "../lib/release/mod.ts";
import { utilisationInputs, type UtilisationRow } from "../lib/laws/mod.ts";
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

/**
 * Generalised-law data for a technique: every seed-42 final run of that router (all R, k) plus
 * every seed-42 dense run (all flop_increase), with F (dense-parameter equivalents) and B = P/F.
 */
export async function generalisedData(
  t: Technique,
): Promise<{ N: number[]; E: number[]; F: number[]; B: number[]; loss: number[] }> {
  const fin = finalSteps(await release());
  const rows = fin.toRecords() as Record<string, unknown>[];
  const toRow = (r: Record<string, unknown>): UtilisationRow & { E: number; loss: number } => ({
    N: Number(r.N),
    P: Number(r.P),
    F: Number(r.F),
    router: String(r.router_type),
    flopIncrease: Number(r.flop_increase),
    E: Number(r.E),
    loss: Number(r.loss),
  });
  const all = rows.map(toRow);
  const sel = rows.filter((r) =>
    (r.router_type === t || r.router_type === "Dense") && Number(r.seed) === 42
  ).map(toRow);
  const { F, B } = utilisationInputs(sel, all.filter((r) => r.router === "Dense"));
  return { N: sel.map((r) => r.N), E: sel.map((r) => r.E), F, B, loss: sel.map((r) => r.loss) };
}
