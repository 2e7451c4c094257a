/**
 * Byte-level BPE (GPT-2 style), written from scratch.
 *
 * Ids: 0..255 are the raw bytes (so any string round-trips exactly: there is no unknown token),
 * 256..vocabSize-2 are merges in the order they were learned, vocabSize-1 is `<|endoftext|>`, the
 * document separator of the token streams (never produced by `encode`).
 *
 * Training counts unique pre-tokens (GPT-2's pre-splitting regex) once, then keeps the counts of
 * adjacent symbol pairs up to date incrementally: each merge touches only the words that hold the
 * pair (an index from pair to words) and a lazy max-heap finds the next most frequent pair.
 */

/** GPT-2's pre-splitting: contractions, words, numbers, punctuation runs, whitespace runs. */
const PRETOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Bump when training or encoding changes: it is part of every cache key. */
export const BPE_ALGORITHM = "byte-bpe-gpt2split-v1";
export const EOT_TEXT = "<|endoftext|>";

/** Splits text into GPT-2 pre-tokens; their concatenation is the text itself. */
export function preTokenize(text: string): string[] {
  return text.match(PRETOKEN) ?? [];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

function pairKey(a: number, b: number): number {
  return a * 65536 + b;
}

export interface TokenizerJSON {
  algorithm: string;
  vocabSize: number;
  /** Flat [left0, right0, left1, right1, ...]: merge i makes id 256 + i. */
  merges: number[];
}

export class Tokenizer {
  readonly vocabSize: number;
  /** Id of `<|endoftext|>`: vocabSize - 1. */
  readonly eot: number;
  /** Number of learned merges (at most vocabSize - 257). */
  readonly numMerges: number;
  private readonly merges: Int32Array;
  private readonly rank = new Map<number, number>();
  private readonly bytesOf: Uint8Array[] = [];
  private readonly wordCache = new Map<string, Int32Array>();

  constructor(vocabSize: number, merges: ArrayLike<number>) {
    checkVocabSize(vocabSize);
    if (merges.length % 2 !== 0 || merges.length / 2 > vocabSize - 257) {
      throw new Error(
        `tokenizer: ${merges.length / 2} merges do not fit vocabulary size ${vocabSize}`,
      );
    }
    this.vocabSize = vocabSize;
    this.eot = vocabSize - 1;
    this.merges = Int32Array.from(merges);
    this.numMerges = merges.length / 2;
    for (let b = 0; b < 256; b++) this.bytesOf.push(Uint8Array.of(b));
    for (let i = 0; i < this.numMerges; i++) {
      const a = this.merges[2 * i], b = this.merges[2 * i + 1];
      if (!(a >= 0 && a < 256 + i && b >= 0 && b < 256 + i)) {
        throw new Error(`tokenizer: merge ${i} refers to an unknown id (${a}, ${b})`);
      }
      this.rank.set(pairKey(a, b), i);
      const left = this.bytesOf[a], right = this.bytesOf[b];
      const joined = new Uint8Array(left.length + right.length);
      joined.set(left);
      joined.set(right, left.length);
      this.bytesOf.push(joined);
    }
    // Ids left unused (fewer merges than room for) decode to nothing.
    while (this.bytesOf.length < this.eot) this.bytesOf.push(new Uint8Array(0));
    this.bytesOf.push(encoder.encode(EOT_TEXT));
  }

  /** Bytes of one token id. */
  tokenBytes(id: number): Uint8Array {
    const b = this.bytesOf[id];
    if (b === undefined) throw new Error(`tokenizer: id ${id} outside [0, ${this.vocabSize})`);
    return b;
  }

  private encodeWord(piece: string): Int32Array {
    const cached = this.wordCache.get(piece);
    if (cached) return cached;
    let sym: number[] = Array.from(encoder.encode(piece));
    while (sym.length > 1) {
      // The pair learned earliest is merged first, everywhere in the word, as in training.
      let best = -1, bestRank = Infinity;
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = this.rank.get(pairKey(sym[i], sym[i + 1]));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const a = this.merges[2 * bestRank], b = this.merges[2 * bestRank + 1], c = 256 + bestRank;
      const out: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          out.push(c);
          i++;
        } else out.push(sym[i]);
      }
      sym = out;
    }
    const ids = Int32Array.from(sym);
    if (this.wordCache.size > 500_000) this.wordCache.clear();
    this.wordCache.set(piece, ids);
    return ids;
  }

  /** Text to token ids; `decode(encode(s)) === s` for every well-formed string. */
  encode(text: string): Int32Array {
    let out = new Int32Array(Math.max(16, text.length >> 1));
    let n = 0;
    for (const piece of preTokenize(text)) {
      const ids = this.encodeWord(piece);
      if (n + ids.length > out.length) {
        const grown = new Int32Array(Math.max(out.length * 2, n + ids.length));
        grown.set(out.subarray(0, n));
        out = grown;
      }
      out.set(ids, n);
      n += ids.length;
    }
    return out.slice(0, n);
  }

  /** Token ids to text; `<|endoftext|>` decodes to its literal name. */
  decode(ids: ArrayLike<number>): string {
    let len = 0;
    for (let i = 0; i < ids.length; i++) len += this.tokenBytes(ids[i]).length;
    const bytes = new Uint8Array(len);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf[ids[i]];
      bytes.set(b, o);
      o += b.length;
    }
    return decoder.decode(bytes);
  }

  toJSON(): TokenizerJSON {
    return { algorithm: BPE_ALGORITHM, vocabSize: this.vocabSize, merges: Array.from(this.merges) };
  }

  static fromJSON(json: TokenizerJSON): Tokenizer {
    if (json?.algorithm !== BPE_ALGORITHM || !Array.isArray(json.merges)) {
      throw new Error(`tokenizer: not a ${BPE_ALGORITHM} tokenizer file`);
    }
    return new Tokenizer(json.vocabSize, json.merges);
  }
}

function checkVocabSize(vocabSize: number): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 257 || vocabSize > 65536) {
    throw new Error(
      `vocabSize must be an integer in [257, 65536] (256 bytes + end-of-text at least), got ${vocabSize}`,
    );
  }
}

/** A max-heap of (count, pair) with ties broken by the smaller pair key, so training is deterministic. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i], cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i], k = this.keys[i];
    this.counts[i] = this.counts[j];
    this.keys[i] = this.keys[j];
    this.counts[j] = c;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    let i = this.counts.length;
    this.counts.push(count);
    this.keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top; returns [count, key]. */
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!, lastK = this.keys.pop()!;
    const n = this.counts.length;
    if (n > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** Counts of GPT-2 pre-tokens over texts. */
export function countPreTokens(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of preTokenize(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  }
  return counts;
}

/** Learns vocabSize - 257 merges from the texts (fewer when the texts run out of pairs). */
export function trainBpe(texts: Iterable<string>, vocabSize: number): Tokenizer {
  checkVocabSize(vocabSize);
  const numMerges = vocabSize - 257;
  const counts = countPreTokens(texts);
  const words: Int32Array[] = [];
  const freq: number[] = [];
  for (const [piece, c] of counts) {
    const bytes = encoder.encode(piece);
    if (bytes.length < 2) continue; // a single byte never takes part in a merge
    words.push(Int32Array.from(bytes));
    freq.push(c);
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, number[]>(); // may hold stale or repeated word indices
  for (let w = 0; w < words.length; w++) {
    const s = words[w], f = freq[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const k = pairKey(s[i], s[i + 1]);
      pairCount.set(k, (pairCount.get(k) ?? 0) + f);
      let list = pairWords.get(k);
      if (!list) pairWords.set(k, list = []);
      if (list[list.length - 1] !== w) list.push(w);
    }
  }
  const heap = new PairHeap();
  for (const [k, c] of pairCount) heap.push(c, k);

  const merges: number[] = [];
  const stamp = new Int32Array(words.length).fill(-1);
  const changed = new Set<number>();
  const bump = (k: number, delta: number) => {
    pairCount.set(k, (pairCount.get(k) ?? 0) + delta);
    changed.add(k);
  };

  while (merges.length / 2 < numMerges && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCount.get(key) !== count || count <= 0) continue; // stale heap entry
    const a = Math.floor(key / 65536), b = key % 65536;
    const c = 256 + merges.length / 2;
    merges.push(a, b);
    const round = merges.length / 2;
    changed.clear();
    for (const w of pairWords.get(key) ?? []) {
      if (stamp[w] === round) continue;
      stamp[w] = round;
      const s = words[w], f = freq[w];
      let hits = 0;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) hits++;
      if (hits === 0) continue;
      // Remove the word's old pairs, merge, add its new pairs (only pairs with c are new to it).
      for (let i = 0; i + 1 < s.length; i++) bump(pairKey(s[i], s[i + 1]), -f);
      const out = new Int32Array(s.length - hits);
      let o = 0;
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out[o++] = c;
          i++;
        } else out[o++] = s[i];
      }
      words[w] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const k = pairKey(out[i], out[i + 1]);
        bump(k, f);
        if (out[i] === c || out[i + 1] === c) {
          let list = pairWords.get(k);
          if (!list) pairWords.set(k, list = []);
          if (list[list.length - 1] !== w) list.push(w);
        }
      }
    }
    pairWords.delete(key);
    pairCount.delete(key);
    for (const k of changed) {
      const n = pairCount.get(k) ?? 0;
      if (n > 0) heap.push(n, k);
      else pairCount.delete(k);
    }
  }
  return new Tokenizer(vocabSize, merges);
}
