/**
 * Dispatch of a router's choices to expert slots under a capacity per expert.
 *
 * Capacity: C = ceil(capacityFactor * k * T / E) slots per expert. Slots are filled choice by
 * choice (all tokens' first choices, then their second choices, ...) and, within a choice, in
 * token order; a choice that finds its expert full is dropped: that token gets nothing from that
 * expert and its representation passes on through the residual connection unchanged.
 */

export interface Dispatch {
  /** Per expert, the slots (t * k + j) it serves, in fill order. */
  slots: Int32Array[];
  /** Per expert, the token of each of its slots. */
  tokens: Int32Array[];
  /** Per expert, the number of choices that asked for it (before capacity). */
  requested: Int32Array;
  /** Choices dropped for capacity (of T * k, excluding index -1). */
  dropped: number;
  /** Choices with an expert (index >= 0). */
  assigned: number;
  capacity: number;
}

/** Capacity C = ceil(cf * k * T / E). */
export function expertCapacity(
  tokens: number,
  experts: number,
  k: number,
  capacityFactor: number,
): number {
  return Math.max(1, Math.ceil((capacityFactor * k * tokens) / experts));
}

/**
 * Assigns choices to expert slots under the capacity (see the module comment for the order).
 * expertIndex [T * k] (token t's j-th choice at t * k + j; -1 = nowhere).
 */
export function dispatch(
  expertIndex: Int32Array,
  T: number,
  k: number,
  experts: number,
  capacity: number,
): Dispatch {
  if (expertIndex.length !== T * k) {
    throw new Error(
      `router returned ${expertIndex.length} expert indices; expected tokens x k = ${T * k}`,
    );
  }
  const lists: number[][] = Array.from({ length: experts }, () => []);
  const requested = new Int32Array(experts);
  let dropped = 0, assigned = 0;
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < T; t++) {
      const s = t * k + j;
      const e = expertIndex[s];
      if (e < 0) continue;
      if (e >= experts || !Number.isInteger(e)) {
        throw new Error(
          `router chose expert ${e} for token ${t}; valid experts are 0..${experts - 1}`,
        );
      }
      assigned++;
      requested[e]++;
      if (lists[e].length < capacity) lists[e].push(s);
      else dropped++;
    }
  }
  const slots = lists.map((l) => Int32Array.from(l));
  const tokens = slots.map((sl) => sl.map((s) => Math.floor(s / k)));
  return { slots, tokens, requested, dropped, assigned, capacity };
}
