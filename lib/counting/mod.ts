/**
 * N (dense parameters), P (total parameters) and F (forward FLOPs) of a routed transformer from
 * its shape, in the accounting of Clark et al. 2022's release. Against all 223 runs of the release
 * (test/counting.test.ts), N, P and F per step are EXACT (zero error):
 *
 *   hk = heads x kqvSize, L = blocks, Lr = routed blocks = floor(L x R), d = dModel, d_ff = 4 d
 *   N = L (5 d hk + 2 d d_ff + 4 d)          5 projections (q, k, v, out, relative positions),
 *                                             FFN without biases, two LayerNorms (scale + offset);
 *                                             embeddings excluded
 *   P = N + Lr ((E - 1) 2 d d_ff + d E)       the other experts and the router (d x E)
 *         + Lr (d^2 + d) / 8   [RL-R only]    (a d -> d/8 layer, presumably the policy baseline)
 *   Dense with flop_increase f (the FLOP-matched baselines): counted as if E = k = f on the routed
 *   blocks: P = N + Lr ((f - 1) 2 d d_ff + d f), N unchanged. This is the rule the release follows
 *   (it includes the d f "router" term).
 *   A = N + Lr ((k - 1) 2 d d_ff + d E) [+ RL-R term]    parameters touched per token
 *   F per token = 2 A + 2 V d + L (6 S hk + 3 heads S + 2 d),   V = 32,000, S = 2,048
 *     2 A: multiply-adds of every weight a token uses (k experts, the router: 2 d E);
 *     2 V d: output logits (the embedding lookup costs nothing);
 *     6 S hk: attention scores q.k, q.r (relative positions) and the weighted sum of values, each
 *     over the full context S; 3 heads S: softmax; 2 d: the two residual additions.
 *   F per step = batch x S x F per token (the release: batch 256, S 2048).
 *
 * For our own models: `vocabSize`, `seqLen`, `dFF` and `positional: "absolute"` (4 attention
 * projections and 4 S hk score FLOPs instead of 5 and 6) adapt the same accounting.
 */

export interface ModelShape {
  dModel: number;
  blocks: number;
  heads: number;
  kqvSize: number;
  /** Experts per routed block (1 for dense). */
  experts: number;
  /** Fraction of blocks whose FFN is routed (0 < R <= 1); ignored when experts = 1. */
  routingFrequency: number;
  /** Experts used per token (top-k); for Dense with flopIncrease f, 1 or f. */
  k: number;
  router: "Dense" | "S-Base" | "RL-R" | "Hash" | string;
  /** Dense only: FFN widened by this factor on the routed blocks (the release's FLOP-matched baselines). */
  flopIncrease?: number;
  /** Vocabulary size (default 32,000, the release's). */
  vocabSize?: number;
  /** Context length (default 2,048, the release's). */
  seqLen?: number;
  /** FFN hidden width (default 4 x dModel). */
  dFF?: number;
  /** "relative" (default, the authors' Transformer-XL style) or "absolute" (no r projection). */
  positional?: "relative" | "absolute";
}

export const RELEASE_VOCAB_SIZE = 32_000;
/** Sequence length and batch of every run in the release (Section 2 of the paper). */
export const RELEASE_SEQ_LEN = 2_048;
export const RELEASE_BATCH = 256;

/** The release's six model sizes (dense shapes). */
export const MODEL_SIZES: Record<
  string,
  { dModel: number; blocks: number; heads: number; kqvSize: number }
> = {
  "15M": { dModel: 512, blocks: 6, heads: 8, kqvSize: 32 },
  "25M": { dModel: 512, blocks: 8, heads: 8, kqvSize: 64 },
  "55M": { dModel: 640, blocks: 10, heads: 12, kqvSize: 64 },
  "130M": { dModel: 896, blocks: 12, heads: 16, kqvSize: 64 },
  "370M": { dModel: 1536, blocks: 12, heads: 12, kqvSize: 128 },
  "1.3B": { dModel: 2048, blocks: 24, heads: 16, kqvSize: 128 },
};

function bad(field: string, value: unknown, need: string): never {
  throw new Error(`Model shape: ${field} = ${JSON.stringify(value)}; ${need}.`);
}

function posInt(field: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) bad(field, v, "it must be a positive integer");
}

/** Throws an Error naming the bad field unless the shape is consistent. */
export function validateShape(s: ModelShape): void {
  posInt("dModel", s.dModel);
  posInt("blocks", s.blocks);
  posInt("heads", s.heads);
  posInt("kqvSize", s.kqvSize);
  posInt("experts", s.experts);
  posInt("k", s.k);
  if (!(s.routingFrequency > 0 && s.routingFrequency <= 1)) {
    bad("routingFrequency", s.routingFrequency, "it must lie in (0, 1] (0.5 = every other block)");
  }
  if (s.vocabSize !== undefined) posInt("vocabSize", s.vocabSize);
  if (s.seqLen !== undefined) posInt("seqLen", s.seqLen);
  if (s.dFF !== undefined) posInt("dFF", s.dFF);
  if (s.positional !== undefined && s.positional !== "relative" && s.positional !== "absolute") {
    bad("positional", s.positional, 'use "relative" or "absolute"');
  }
  const f = s.flopIncrease ?? 1;
  posInt("flopIncrease", f);
  if (s.router === "Dense") {
    if (s.experts !== 1) bad("experts", s.experts, 'a "Dense" model has experts = 1');
    if (s.k !== 1 && s.k !== f) bad("k", s.k, `a "Dense" model has k = 1 (or k = flopIncrease)`);
  } else {
    if (f !== 1) bad("flopIncrease", f, `only "Dense" models take a flopIncrease`);
    if (s.k > s.experts) bad("k", s.k, `k cannot exceed experts (${s.experts})`);
  }
}

/**
 * Indices of the routed blocks: block i is routed when floor((i + 1) R) > floor(i R), i.e. every
 * (1/R)-th block, ending with the last one (R = 0.5 -> 1, 3, 5, ...). Count = floor(blocks x R).
 */
export function routedBlocks(blocks: number, routingFrequency: number): number[] {
  const out: number[] = [];
  const eps = 1e-9; // 12 x (1/12) must count as 1
  for (let i = 0; i < blocks; i++) {
    if (Math.floor((i + 1) * routingFrequency + eps) > Math.floor(i * routingFrequency + eps)) {
      out.push(i);
    }
  }
  return out;
}

function dims(s: ModelShape) {
  validateShape(s);
  const d = s.dModel, hk = s.heads * s.kqvSize;
  const dff = s.dFF ?? 4 * d;
  const rel = (s.positional ?? "relative") === "relative";
  // Dense FLOP-matched baselines are counted as E = k = flopIncrease on the routed blocks.
  const f = s.flopIncrease ?? 1;
  const E = s.router === "Dense" ? f : s.experts;
  const k = s.router === "Dense" ? f : s.k;
  const Lr = E > 1 || s.router !== "Dense" ? routedBlocks(s.blocks, s.routingFrequency).length : 0;
  const rlr = s.router === "RL-R" ? Lr * (d * d + d) / 8 : 0;
  return { d, hk, dff, rel, E, k, Lr, rlr };
}

/** N: parameters a token sees in the base (k = 1) model, embeddings excluded. */
export function denseParameterCount(s: ModelShape): number {
  const { d, hk, dff, rel } = dims(s);
  return s.blocks * ((rel ? 5 : 4) * d * hk + 2 * d * dff + 4 * d);
}

/** P: all parameters, every expert and the router included, embeddings excluded. */
export function totalParameterCount(s: ModelShape): number {
  const { d, dff, E, Lr, rlr } = dims(s);
  const routed = s.router === "Dense" && E === 1 ? 0 : Lr * ((E - 1) * 2 * d * dff + d * E);
  return denseParameterCount(s) + routed + rlr;
}

/** Parameters one token multiplies with: N plus (k - 1) more experts, the router, RL-R's head. */
export function activeParameterCount(s: ModelShape): number {
  const { d, dff, E, k, Lr, rlr } = dims(s);
  const routed = s.router === "Dense" && E === 1 ? 0 : Lr * ((k - 1) * 2 * d * dff + d * E);
  return denseParameterCount(s) + routed + rlr;
}

/** Forward FLOPs per token (see the module comment); exact for the release's runs. */
export function forwardFlopsPerToken(s: ModelShape): number {
  const { d, hk, rel } = dims(s);
  const V = s.vocabSize ?? RELEASE_VOCAB_SIZE;
  const S = s.seqLen ?? RELEASE_SEQ_LEN;
  const attention = (rel ? 6 : 4) * S * hk + 3 * s.heads * S;
  return 2 * activeParameterCount(s) + 2 * V * d + s.blocks * (attention + 2 * d);
}

/**
 * Forward FLOPs per training step: batch x seq x forwardFlopsPerToken with seqLen = seq
 * (default: the shape's seqLen, else 2,048; batch default 256, the release's).
 */
export function forwardFlopsPerStep(
  s: ModelShape,
  batch = RELEASE_BATCH,
  seq = s.seqLen ?? RELEASE_SEQ_LEN,
): number {
  posInt("batch", batch);
  posInt("seq", seq);
  return batch * seq * forwardFlopsPerToken({ ...s, seqLen: seq });
}

/** The shape of a release row (columns d_model, num_blocks, ... as loadRelease types them). */
export function shapeFromRelease(row: Record<string, unknown>): ModelShape {
  const n = (c: string): number => {
    const v = Number(row[c]);
    if (row[c] === null || row[c] === undefined || !Number.isFinite(v)) {
      throw new Error(`shapeFromRelease: the row lacks a numeric "${c}" (got ${row[c]}).`);
    }
    return v;
  };
  return {
    dModel: n("d_model"),
    blocks: n("num_blocks"),
    heads: n("num_heads"),
    kqvSize: n("kqv_size"),
    experts: n("num_experts"),
    routingFrequency: n("routing_frequency"),
    k: n("k"),
    router: String(row.router_type),
    flopIncrease: n("flop_increase"),
  };
}
