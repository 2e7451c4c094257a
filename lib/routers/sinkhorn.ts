/**
 * Sinkhorn balancing (float64, no gradient): scales the rows and columns of a positive matrix
 * K [T, E] so that every row sums to 1 (each token is one unit of mass) and every column to T / E
 * (each expert receives the same share).
 */
export interface SinkhornResult {
  /** Row scaling [T] and column scaling [E]: balanced = diag(u) K diag(v). */
  u: Float64Array;
  v: Float64Array;
  iterations: number;
  /** max over columns of |column sum - T/E| / (T/E) after the last iteration (rows are exact). */
  error: number;
}

export function sinkhorn(
  K: Float64Array,
  T: number,
  E: number,
  tolerance: number,
  maxIterations: number,
): SinkhornResult {
  const u = new Float64Array(T).fill(1), v = new Float64Array(E).fill(1);
  const target = T / E;
  const col = new Float64Array(E);
  let iterations = 0, error = Infinity;
  while (iterations < maxIterations) {
    iterations++;
    // columns: v_e = (T/E) / sum_t u_t K_te
    col.fill(0);
    for (let t = 0; t < T; t++) {
      const ut = u[t], o = t * E;
      for (let e = 0; e < E; e++) col[e] += ut * K[o + e];
    }
    for (let e = 0; e < E; e++) v[e] = target / col[e];
    // rows: u_t = 1 / sum_e K_te v_e, then measure the column error
    col.fill(0);
    for (let t = 0; t < T; t++) {
      const o = t * E;
      let s = 0;
      for (let e = 0; e < E; e++) s += K[o + e] * v[e];
      const ut = (u[t] = 1 / s);
      for (let e = 0; e < E; e++) col[e] += ut * K[o + e] * v[e];
    }
    error = 0;
    for (let e = 0; e < E; e++) error = Math.max(error, Math.abs(col[e] - target) / target);
    if (error <= tolerance) break;
  }
  return { u, v, iterations, error };
}
