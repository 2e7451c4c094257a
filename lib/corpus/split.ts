/**
 * Stable document-level train/validation split: a document goes to validation when a 32-bit
 * FNV-1a hash of "source/id" falls in the lowest `fraction` of the hash range. It depends on
 * nothing but the name, so it is the same on every run and machine and survives added documents.
 */
import type { Document } from "./sources.ts";

/** FNV-1a, 32 bit, over the UTF-16 code units of `s` (equal to the byte version for ASCII). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a followed by an avalanche, so that names differing only at the end spread evenly. */
export function splitHash(name: string): number {
  let h = fnv1a32(name);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export const VALIDATION_FRACTION = 0.05;

/** True when the document `source/id` belongs to the validation split. */
export function isValidation(source: string, id: string, fraction = VALIDATION_FRACTION): boolean {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new Error(`validation fraction must be in [0, 1), got ${fraction}`);
  }
  return splitHash(`${source}/${id}`) < fraction * 2 ** 32;
}

export interface Split {
  train: Document[];
  validation: Document[];
}

/** Splits documents by name hash; the order of each part follows the input order. */
export function splitDocuments(docs: readonly Document[], fraction = VALIDATION_FRACTION): Split {
  const train: Document[] = [];
  const validation: Document[] = [];
  for (const d of docs) (isValidation(d.source, d.id, fraction) ? validation : train).push(d);
  return { train, validation };
}
