/**
 * HASH (Roller et al. 2021): a fixed random map from input token id to expert, drawn from the
 * router's seed; nothing is learned. The map is balanced over the vocabulary: a seeded shuffle of
 * the ids, dealt to the experts in turn, so every expert owns floor(V/E) or ceil(V/E) ids.
 * k > 1: the j-th choice of id i is expert (map[i] + j) mod E.
 */
import { Rng } from "../util/random.ts";
import { defineRouter } from "./define.ts";
import { ROUTER_LABELS } from "./names.ts";

/** The token-id -> expert map [V] for a seed. */
export function hashMap(vocabSize: number, experts: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: vocabSize }, (_, i) => i);
  for (let i = vocabSize - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = ids[i];
    ids[i] = ids[j], ids[j] = t;
  }
  const map = new Int32Array(vocabSize);
  for (let r = 0; r < vocabSize; r++) map[ids[r]] = r % experts;
  return map;
}

export const hash = defineRouter({
  id: "hash",
  label: ROUTER_LABELS.hash,
  create(spec) {
    const map = hashMap(spec.vocabSize, spec.experts, spec.seed); // [V]
    return {
      variables: [],
      route(_x, ids, ctx) {
        const k = ctx.k, E = ctx.experts;
        const expertIndex = new Int32Array(ids.length * k); // [T * k]
        for (let t = 0; t < ids.length; t++) {
          if (ids[t] < 0 || ids[t] >= map.length) {
            throw new Error(`token id ${ids[t]} is outside the vocabulary (0..${map.length - 1})`);
          }
          for (let j = 0; j < k; j++) expertIndex[t * k + j] = (map[ids[t]] + j) % E;
        }
        return { expertIndex };
      },
    };
  },
});
