/**
 * Deterministic batches. Batch number `cursor` depends only on (seed, cursor), so a sampler's whole
 * state is those two numbers: saving them in a checkpoint and restoring them continues the exact
 * same sequence of batches.
 */
import { Rng } from "../util/random.ts";

export interface SamplerOptions {
  batchSize: number;
  seqLen: number;
  seed: number;
  /** Batch to start from (default 0). */
  cursor?: number;
}

export interface SamplerState {
  seed: number;
  cursor: number;
}

/** Mixes seed and cursor into one 32-bit seed (murmur3's finaliser over both words). */
function mixSeed(seed: number, cursor: number): number {
  let h = Math.imul((seed | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(cursor | 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkShape(tokens: Int32Array, batchSize: number, seqLen: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isInteger(seqLen) || seqLen < 1) {
    throw new Error(`seqLen must be a positive integer, got ${seqLen}`);
  }
  if (tokens.length < seqLen + 1) {
    throw new Error(
      `token stream of ${tokens.length} tokens is shorter than one window (seqLen + 1 = ${
        seqLen + 1
      }): use a smaller seqLen`,
    );
  }
}

/**
 * Random windows of seqLen + 1 tokens (inputs = window[0..seqLen), targets = window[1..seqLen]).
 * `next()` returns Int32Array [batchSize * (seqLen + 1)], row-major, and advances the cursor.
 */
export class BatchSampler {
  readonly batchSize: number;
  readonly seqLen: number;
  seed: number;
  cursor: number;
  private readonly tokens: Int32Array;

  constructor(tokens: Int32Array, opts: SamplerOptions) {
    checkShape(tokens, opts.batchSize, opts.seqLen);
    if (!Number.isFinite(opts.seed)) {
      throw new Error(`sampler seed must be finite, got ${opts.seed}`);
    }
    this.tokens = tokens;
    this.batchSize = opts.batchSize;
    this.seqLen = opts.seqLen;
    this.seed = opts.seed;
    this.cursor = opts.cursor ?? 0;
  }

  /** Batch number `cursor` without moving the sampler. */
  batchAt(cursor: number): Int32Array {
    const w = this.seqLen + 1;
    const rng = new Rng(mixSeed(this.seed, cursor));
    const span = this.tokens.length - w + 1; // number of possible window starts
    const out = new Int32Array(this.batchSize * w);
    for (let r = 0; r < this.batchSize; r++) {
      const start = rng.int(span);
      out.set(this.tokens.subarray(start, start + w), r * w);
    }
    return out;
  }

  next(): Int32Array {
    return this.batchAt(this.cursor++);
  }

  getState(): SamplerState {
    return { seed: this.seed, cursor: this.cursor };
  }

  setState(state: SamplerState): void {
    if (!Number.isInteger(state?.cursor) || state.cursor < 0 || !Number.isFinite(state.seed)) {
      throw new Error(
        `sampler state must be { seed: number, cursor: integer >= 0 }, got ${
          JSON.stringify(state)
        }`,
      );
    }
    this.seed = state.seed;
    this.cursor = state.cursor;
  }
}

/**
 * Fixed evaluation batches: windows of seqLen + 1 tokens with stride seqLen (each target token is
 * scored once), spread evenly over the stream when `maxBatches` limits them. Same input, same batches.
 */
export function evalBatches(
  tokens: Int32Array,
  opts: { batchSize: number; seqLen: number; maxBatches?: number },
): Int32Array[] {
  const { batchSize, seqLen } = opts;
  checkShape(tokens, batchSize, seqLen);
  const w = seqLen + 1;
  const total = Math.floor((tokens.length - 1) / seqLen); // windows that fit
  let n = Math.floor(total / batchSize) * batchSize;
  if (n === 0) n = Math.min(total, batchSize);
  const want = opts.maxBatches === undefined ? n : Math.min(n, opts.maxBatches * batchSize);
  const starts: number[] = [];
  for (let i = 0; i < want; i++) starts.push(Math.floor((i * total) / want) * seqLen);
  const batches: Int32Array[] = [];
  for (let b = 0; b < starts.length; b += batchSize) {
    const rows = starts.slice(b, b + batchSize);
    const out = new Int32Array(rows.length * w);
    rows.forEach((s, r) => out.set(tokens.subarray(s, s + w), r * w));
    batches.push(out);
  }
  return batches;
}
