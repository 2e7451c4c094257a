/**
 * The on-disk cache of tokenizers and encoded token streams under data/cache/ (env
 * ROUTING_CACHE_DIR moves it, as it does the release's: lib/util/cache_dir.ts). Every file name
 * carries a key hashed from the corpus content, the split, the vocabulary size and the algorithm
 * version, so a changed corpus or algorithm never reads a stale file. Writes go to a temporary
 * file renamed into place (atomic); a file that fails its checks is rebuilt with a warning.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { type Document, loadCorpus, type Source, SOURCES } from "./sources.ts";
import { isValidation, VALIDATION_FRACTION } from "./split.ts";
import { BPE_ALGORITHM, Tokenizer, type TokenizerJSON, trainBpe } from "./bpe.ts";
import { defaultCacheDir } from "../util/cache_dir.ts";

export { defaultCacheDir };

const SPLIT_ALGORITHM = `fnv1a32-avalanche-${VALIDATION_FRACTION}`;
const STREAM_FORMAT = "uint16le-v1";

let corpusHash: string | undefined;

/** sha256 of every document's source, id and text, in corpus order. */
export function corpusContentHash(docs: readonly Document[] = loadCorpus()): string {
  if (docs === loadCorpus() && corpusHash) return corpusHash;
  const h = createHash("sha256");
  for (const d of docs) {
    h.update(`${d.source}\u0000${d.id}\u0000${d.text.length}\u0000${d.text}\u0000`);
  }
  const hex = h.digest("hex");
  if (docs === loadCorpus()) corpusHash = hex;
  return hex;
}

/** Cache key for one vocabulary size. */
export function cacheKey(vocabSize: number): string {
  return createHash("sha256")
    .update(`${corpusContentHash()}|${SPLIT_ALGORITHM}|${BPE_ALGORITHM}|${vocabSize}`)
    .digest("hex")
    .slice(0, 16);
}

async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw e;
  }
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface CacheOptions {
  vocabSize: number;
  /** Default: env ROUTING_CACHE_DIR, else data/cache/ of this checkout. */
  cacheDir?: string;
}

interface TokenizerFile extends TokenizerJSON {
  key: string;
  trainSeconds: number;
}

const tokenizerMemo = new Map<string, Promise<Tokenizer>>();

/** The tokenizer trained on the training split, from the cache or trained (seconds) and cached. */
export function getTokenizer(opts: CacheOptions): Promise<Tokenizer> {
  const dir = opts.cacheDir ?? defaultCacheDir();
  const key = cacheKey(opts.vocabSize);
  const memoKey = `${dir}|${key}`;
  let p = tokenizerMemo.get(memoKey);
  if (!p) {
    p = loadOrTrainTokenizer(dir, key, opts.vocabSize);
    tokenizerMemo.set(memoKey, p);
    p.catch(() => tokenizerMemo.delete(memoKey));
  }
  return p;
}

/** Path of the cached tokenizer for a vocabulary size. */
export function tokenizerPath(opts: CacheOptions): string {
  return join(
    opts.cacheDir ?? defaultCacheDir(),
    `bpe-${opts.vocabSize}-${cacheKey(opts.vocabSize)}.json`,
  );
}

async function loadOrTrainTokenizer(
  dir: string,
  key: string,
  vocabSize: number,
): Promise<Tokenizer> {
  const path = join(dir, `bpe-${vocabSize}-${key}.json`);
  const raw = await readIfExists(path);
  if (raw) {
    try {
      const json = JSON.parse(new TextDecoder().decode(raw)) as TokenizerFile;
      if (json.key !== key || json.vocabSize !== vocabSize) throw new Error("key mismatch");
      return Tokenizer.fromJSON(json);
    } catch (e) {
      console.warn(`corpus cache: ${path} is corrupt (${(e as Error).message}); rebuilding it`);
    }
  }
  const train = loadCorpus().filter((d) => !isValidation(d.source, d.id));
  const t0 = performance.now();
  const tok = trainBpe(train.map((d) => d.text), vocabSize);
  const trainSeconds = (performance.now() - t0) / 1000;
  await mkdir(dir, { recursive: true });
  const file: TokenizerFile = { ...tok.toJSON(), key, trainSeconds };
  await atomicWrite(path, JSON.stringify(file));
  return tok;
}

export interface TokenStreams {
  /** Training documents, each followed by `<|endoftext|>` (tokenizer.eot). */
  train: Int32Array;
  /** All validation documents (sources in order sotu, moby, brown). */
  validation: Int32Array;
  validationBySource: Record<Source, Int32Array>;
  tokenizer: Tokenizer;
  key: string;
}

interface StreamManifest {
  key: string;
  format: string;
  sha256: string;
  segments: { name: string; offset: number; length: number }[];
}

const streamMemo = new Map<string, Promise<TokenStreams>>();

/** The encoded corpus: train and validation token streams, from the cache or encoded and cached. */
export function getTokenStreams(opts: CacheOptions): Promise<TokenStreams> {
  const dir = opts.cacheDir ?? defaultCacheDir();
  const key = cacheKey(opts.vocabSize);
  const memoKey = `${dir}|${key}`;
  let p = streamMemo.get(memoKey);
  if (!p) {
    p = loadOrEncodeStreams(dir, key, opts);
    streamMemo.set(memoKey, p);
    p.catch(() => streamMemo.delete(memoKey));
  }
  return p;
}

function segmentNames(): string[] {
  return ["train", ...SOURCES.map((s) => `validation/${s}`)];
}

function assemble(tokens: Int32Array, m: StreamManifest, tokenizer: Tokenizer, key: string) {
  const seg = (name: string) => {
    const s = m.segments.find((x) => x.name === name);
    if (!s) throw new Error(`segment ${name} missing`);
    return tokens.subarray(s.offset, s.offset + s.length);
  };
  const validationBySource = Object.fromEntries(
    SOURCES.map((s) => [s, seg(`validation/${s}`)]),
  ) as Record<Source, Int32Array>;
  const first = m.segments.find((x) => x.name === `validation/${SOURCES[0]}`)!;
  const validationLength = SOURCES.reduce((n, s) => n + validationBySource[s].length, 0);
  return {
    train: seg("train"),
    validation: tokens.subarray(first.offset, first.offset + validationLength),
    validationBySource,
    tokenizer,
    key,
  };
}

async function loadOrEncodeStreams(
  dir: string,
  key: string,
  opts: CacheOptions,
): Promise<TokenStreams> {
  const tokenizer = await getTokenizer(opts);
  const base = join(dir, `tokens-${opts.vocabSize}-${key}`);
  const rawManifest = await readIfExists(`${base}.json`);
  if (rawManifest) {
    try {
      const m = JSON.parse(new TextDecoder().decode(rawManifest)) as StreamManifest;
      if (m.key !== key || m.format !== STREAM_FORMAT) throw new Error("key or format mismatch");
      const bytes = await readIfExists(`${base}.bin`);
      if (!bytes) throw new Error("token file missing");
      const total = m.segments.reduce((n, s) => n + s.length, 0);
      if (bytes.length !== 2 * total) {
        throw new Error(`size ${bytes.length}, expected ${2 * total}`);
      }
      if (sha256(bytes) !== m.sha256) throw new Error("checksum mismatch");
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const tokens = new Int32Array(total);
      for (let i = 0; i < total; i++) tokens[i] = view.getUint16(2 * i, true);
      return assemble(tokens, m, tokenizer, key);
    } catch (e) {
      console.warn(
        `corpus cache: ${base}.bin/.json is corrupt (${(e as Error).message}); rebuilding`,
      );
    }
  }
  // Encode: each document followed by end-of-text.
  const docs = loadCorpus();
  const parts = new Map<string, Int32Array[]>(segmentNames().map((n) => [n, []]));
  const eot = Int32Array.of(tokenizer.eot);
  for (const d of docs) {
    const name = isValidation(d.source, d.id) ? `validation/${d.source}` : "train";
    parts.get(name)!.push(tokenizer.encode(d.text), eot);
  }
  const segments: StreamManifest["segments"] = [];
  let offset = 0;
  for (const name of segmentNames()) {
    const length = parts.get(name)!.reduce((n, a) => n + a.length, 0);
    segments.push({ name, offset, length });
    offset += length;
  }
  const tokens = new Int32Array(offset);
  let o = 0;
  for (const name of segmentNames()) {
    for (const a of parts.get(name)!) {
      tokens.set(a, o);
      o += a.length;
    }
  }
  const bytes = new Uint8Array(2 * offset);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < offset; i++) view.setUint16(2 * i, tokens[i], true);
  const m: StreamManifest = { key, format: STREAM_FORMAT, sha256: sha256(bytes), segments };
  await mkdir(dir, { recursive: true });
  await atomicWrite(`${base}.bin`, bytes);
  await atomicWrite(`${base}.json`, JSON.stringify(m)); // the manifest last: it commits the pair
  return assemble(tokens, m, tokenizer, key);
}

/** Drops the in-process memo (tests use it to force a read from disk). */
export function clearMemo(): void {
  tokenizerMemo.clear();
  streamMemo.clear();
}
