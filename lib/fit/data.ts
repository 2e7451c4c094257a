/** Fitting data: columns of equal length, checked before any fit. */
import type { Input, Law, Point } from "../laws/mod.ts";

/** Columns of a data set; which inputs are needed depends on the law. */
export interface FitData {
  N?: ArrayLike<number>;
  E?: ArrayLike<number>;
  F?: ArrayLike<number>;
  B?: ArrayLike<number>;
  /** Final validation loss (nats/token), > 0. */
  loss: ArrayLike<number>;
}

const RULES: Record<Input, { ok: (v: number) => boolean; what: string }> = {
  N: { ok: (v) => v > 0, what: "N (dense parameters) must be > 0" },
  E: { ok: (v) => v >= 1, what: "E (experts) must be >= 1 (dense models are E = 1)" },
  F: { ok: (v) => v > 0, what: "F (FLOPs) must be > 0" },
  B: { ok: (v) => v > 0, what: "B (parameter utilisation P/F) must be > 0" },
};

/** Check data for a law; returns the number of points. Throws a clear Error naming the problem. */
export function validateData(law: Law<Record<string, number>>, data: FitData): number {
  if (!data || !data.loss) throw new Error(`fit ${law.name}: data has no 'loss' column`);
  const n = data.loss.length;
  for (let i = 0; i < n; i++) {
    const v = data.loss[i];
    if (!Number.isFinite(v)) {
      throw new Error(`fit ${law.name}: loss[${i}] is ${v}; remove runs without a finite loss`);
    }
    if (!(v > 0)) {
      throw new Error(`fit ${law.name}: loss[${i}] = ${v} is not positive; losses must be > 0`);
    }
  }
  for (const key of law.inputs) {
    const col = data[key];
    if (!col) {
      throw new Error(
        `fit ${law.name}: data has no '${key}' column; the law needs ${law.inputs.join(", ")}`,
      );
    }
    if (col.length !== n) {
      throw new Error(`fit ${law.name}: column ${key} has ${col.length} values but loss has ${n}`);
    }
    const rule = RULES[key];
    for (let i = 0; i < n; i++) {
      const v = col[i];
      if (!Number.isFinite(v) || !rule.ok(v)) {
        throw new Error(`fit ${law.name}: ${key}[${i}] = ${v}; ${rule.what}`);
      }
    }
  }
  const p = law.paramNames.length;
  if (n < p) {
    throw new Error(
      `fit ${law.name}: ${n} points for ${p} parameters (${law.paramNames.join(", ")}); ` +
        `give at least ${p} points`,
    );
  }
  return n;
}

/** Point i of the data. */
export function pointAt(data: FitData, i: number): Point {
  const x: Point = {};
  if (data.N) x.N = data.N[i];
  if (data.E) x.E = data.E[i];
  if (data.F) x.F = data.F[i];
  if (data.B) x.B = data.B[i];
  return x;
}

/** Rows i of the data (keeps all columns present). */
export function subset(data: FitData, idx: ArrayLike<number>): FitData {
  const pick = (c?: ArrayLike<number>) => (c ? Array.from(idx, (i) => c[i]) : undefined);
  const out: FitData = { loss: pick(data.loss)! };
  if (data.N) out.N = pick(data.N);
  if (data.E) out.E = pick(data.E);
  if (data.F) out.F = pick(data.F);
  if (data.B) out.B = pick(data.B);
  return out;
}
