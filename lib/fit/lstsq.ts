/**
 * Linear least squares by Householder QR. `solveLeastSquares` works on a caller-owned workspace so the
 * saturating-law fitter can call it thousands of times without allocating.
 */

export class LsqWorkspace {
  readonly A: Float64Array; // [n * p] row-major copy of the design
  readonly b: Float64Array; // [n]
  readonly coef: Float64Array; // [p]
  constructor(readonly n: number, readonly p: number) {
    this.A = new Float64Array(n * p);
    this.b = new Float64Array(n);
    this.coef = new Float64Array(p);
  }
}

/**
 * Solve min ||A x - b||_2 for the A (n x p, row-major) and b already written into ws (they are
 * overwritten). Columns whose remaining norm is negligible (rank deficiency) get coefficient 0.
 * Returns the residual sum of squares; the solution is in ws.coef.
 */
export function solveLeastSquares(ws: LsqWorkspace, n = ws.n): number {
  const { A, b, coef, p } = ws;
  const diag = coef; // reuse coef to hold R's diagonal until back substitution
  let scale = 0;
  for (let i = 0; i < n * p; i++) scale = Math.max(scale, Math.abs(A[i]));
  const tiny = 1e-13 * Math.max(scale, 1e-300) * Math.sqrt(n);
  for (let k = 0; k < p; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += A[i * p + k] * A[i * p + k];
    norm = Math.sqrt(norm);
    if (norm <= tiny) {
      diag[k] = 0;
      continue;
    }
    const alpha = A[k * p + k] > 0 ? -norm : norm;
    // v = x - alpha e1, stored in column k (rows k..n-1)
    A[k * p + k] -= alpha;
    let vv = 0;
    for (let i = k; i < n; i++) vv += A[i * p + k] * A[i * p + k];
    if (vv > 0) {
      for (let j = k + 1; j < p; j++) {
        let s = 0;
        for (let i = k; i < n; i++) s += A[i * p + k] * A[i * p + j];
        const t = (2 * s) / vv;
        for (let i = k; i < n; i++) A[i * p + j] -= t * A[i * p + k];
      }
      let s = 0;
      for (let i = k; i < n; i++) s += A[i * p + k] * b[i];
      const t = (2 * s) / vv;
      for (let i = k; i < n; i++) b[i] -= t * A[i * p + k];
    }
    diag[k] = alpha;
  }
  let rss = 0;
  for (let i = p; i < n; i++) rss += b[i] * b[i];
  // Rank-deficient columns leave their row's residual in b[k]; count it.
  for (let k = 0; k < Math.min(p, n); k++) if (diag[k] === 0) rss += b[k] * b[k];
  for (let k = p - 1; k >= 0; k--) {
    const r = diag[k];
    if (r === 0) {
      coef[k] = 0;
      continue;
    }
    let s = b[k];
    for (let j = k + 1; j < p; j++) s -= A[k * p + j] * coef[j];
    coef[k] = s / r;
  }
  return rss;
}

/** Convenience: least squares for a design given as rows. Returns the coefficients. */
export function leastSquares(rows: ArrayLike<number>[], y: ArrayLike<number>): Float64Array {
  const n = rows.length, p = rows[0]?.length ?? 0;
  if (n < p) throw new Error(`leastSquares: ${n} rows for ${p} coefficients; need at least ${p}`);
  const ws = new LsqWorkspace(n, p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < p; j++) ws.A[i * p + j] = rows[i][j];
    ws.b[i] = y[i];
  }
  solveLeastSquares(ws);
  return Float64Array.from(ws.coef);
}
