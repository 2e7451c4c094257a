/**
 * The saturating transform of the authors' code (docs/paper.md, law 5):
 *   1/Ehat = 1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max
 * so Ehat(1) = E_start and Ehat -> E_max as E -> infinity. Used for E (Eq. 1) and for the
 * parameter utilisation B of the generalised law (Bhat).
 */

/** Ehat for E >= 1, E_start < E_max. */
export function ehat(E: number, E_start: number, E_max: number): number {
  const K = 1 / (1 / E_start - 1 / E_max);
  return 1 / (1 / (E - 1 + K) + 1 / E_max);
}

/**
 * log10 Ehat and its derivatives with respect to ls = log2 E_start and lm = log2 E_max.
 * Writes [log10 Ehat, d/dls, d/dlm] into out (no allocation).
 */
export function log10EhatLog2(E: number, ls: number, lm: number, out: Float64Array): void {
  const s = Math.pow(2, ls), m = Math.pow(2, lm);
  const q = 1 / s - 1 / m; // > 0 when E_start < E_max
  const K = 1 / q;
  const D = E - 1 + K;
  const h = 1 / D + 1 / m; // = 1/Ehat
  out[0] = -Math.log10(h);
  const dhdK = -1 / (D * D);
  // d(1/s)/dls = -ln2/s ; dq = d(1/s) - d(1/m) ; dK = -K^2 dq
  const dKdls = K * K * (Math.LN2 / s);
  const dKdlm = -K * K * (Math.LN2 / m);
  const dhdls = dhdK * dKdls;
  const dhdlm = dhdK * dKdlm - Math.LN2 / m;
  const c = -1 / (h * Math.LN10);
  out[1] = c * dhdls;
  out[2] = c * dhdlm;
}

/** d log10 Ehat / d E_start and d E_max (raw units), for the public gradient. */
export function log10EhatRawGrad(E: number, s: number, m: number): [number, number] {
  const q = 1 / s - 1 / m;
  const K = 1 / q;
  const D = E - 1 + K;
  const h = 1 / D + 1 / m;
  const dhdK = -1 / (D * D);
  // dq/ds = -1/s^2, dq/dm = 1/m^2, dK = -K^2 dq
  const dKds = K * K / (s * s);
  const dKdm = -K * K / (m * m);
  const c = -1 / (h * Math.LN10);
  return [c * dhdK * dKds, c * (dhdK * dKdm - 1 / (m * m))];
}
