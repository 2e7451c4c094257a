/**
 * The training corpus: documents, the train/validation split, the byte-level BPE tokenizer, cached
 * token streams and deterministic batches.
 */
export { detokenizeBrown, type Document, loadCorpus, type Source, SOURCES } from "./sources.ts";
export {
  fnv1a32,
  isValidation,
  type Split,
  splitDocuments,
  splitHash,
  VALIDATION_FRACTION,
} from "./split.ts";
export {
  BPE_ALGORITHM,
  countPreTokens,
  EOT_TEXT,
  preTokenize,
  Tokenizer,
  type TokenizerJSON,
  trainBpe,
} from "./bpe.ts";
export {
  cacheKey,
  type CacheOptions,
  clearMemo,
  corpusContentHash,
  defaultCacheDir,
  getTokenizer,
  getTokenStreams,
  tokenizerPath,
  type TokenStreams,
} from "./cache.ts";
export { BatchSampler, evalBatches, type SamplerOptions, type SamplerState } from "./sampler.ts";
