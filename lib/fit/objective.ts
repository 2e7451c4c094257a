/** Objectives on log10 residuals r = predicted - observed. */

export type LossKind = "mse" | "huber";

/**
 * Per-point penalty rho(r) and its derivative. "mse": r^2. "huber": r^2 for |r| <= delta, else
 * 2 delta |r| - delta^2 (twice the usual Huber, so it equals the MSE for small residuals).
 */
export function penalty(kind: LossKind, r: number, delta: number): number {
  if (kind === "mse") return r * r;
  const a = Math.abs(r);
  return a <= delta ? r * r : 2 * delta * a - delta * delta;
}

export function penaltyDeriv(kind: LossKind, r: number, delta: number): number {
  if (kind === "mse") return 2 * r;
  return Math.abs(r) <= delta ? 2 * r : 2 * delta * Math.sign(r);
}

/** Default Huber threshold in log10 units (about 1.2% in loss). */
export const DEFAULT_HUBER_DELTA = 0.005;
