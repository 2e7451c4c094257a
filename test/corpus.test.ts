import { describe, expect, it, vi } from "vitest";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BatchSampler,
  clearMemo,
  detokenizeBrown,
  evalBatches,
  fnv1a32,
  getTokenizer,
  getTokenStreams,
  loadCorpus,
  preTokenize,
  SOURCES,
  splitDocuments,
  tokenizerPath,
  trainBpe,
} from "../lib/corpus/mod.ts";

const utf8 = new TextEncoder();

/** Element-wise equality of two large token arrays (vitest's deep equality is slow on millions). */
function sameTokens(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe("corpus documents", () => {
  it("loads the three sources with unique ids and readable Brown text", () => {
    const docs = loadCorpus();
    const count = (s: string) => docs.filter((d) => d.source === s).length;
    expect(count("sotu")).toBe(233);
    expect(count("moby")).toBe(138);
    expect(count("brown")).toBe(500);
    expect(new Set(docs.map((d) => `${d.source}/${d.id}`)).size).toBe(docs.length);
    const bytes = docs.reduce((n, d) => n + utf8.encode(d.text).length, 0);
    expect(bytes).toBeGreaterThan(16e6);
    expect(bytes).toBeLessThan(20e6);
    const brown = docs.filter((d) => d.source === "brown").map((d) => d.text).join(" ");
    // No part-of-speech tag survives (word/tag with lowercase tags like /nn, /vbd, /at).
    expect(brown).not.toMatch(/[A-Za-z]\/(nn|vbd|at|in|jj|np)\b/);
    expect(brown).not.toContain("``");
    expect(docs.find((d) => d.id === "ca01")!.text).toMatch(
      /^The Fulton County Grand Jury said Friday an investigation of Atlanta's/,
    );
  });

  it("rebuilds Brown sentences: quotes, punctuation and dashes attach", () => {
    const raw = "\n\n\t``/`` Only/rb a/at few/ap ''/'' ,/, he/pps said/vbd --/-- twice/rb ./.\n" +
      "\n\n\tIt/pps cost/vbd 4-1/2/cd (/( dollars/nns )/) !/.\n";
    expect(detokenizeBrown(raw)).toBe('"Only a few", he said--twice. It cost 4-1/2 (dollars)!');
  });
});

describe("train/validation split", () => {
  it("uses standard FNV-1a (published test vectors), so it is the same on every machine", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
  });

  it("is disjoint, complete, about 5% and independent of document order", () => {
    const docs = loadCorpus();
    const a = splitDocuments(docs);
    const name = (d: { source: string; id: string }) => `${d.source}/${d.id}`;
    const train = new Set(a.train.map(name));
    const val = new Set(a.validation.map(name));
    expect(train.size + val.size).toBe(docs.length);
    for (const v of val) expect(train.has(v)).toBe(false);
    expect(val.size / docs.length).toBeGreaterThan(0.03);
    expect(val.size / docs.length).toBeLessThan(0.08);
    for (const s of SOURCES) expect(a.validation.some((d) => d.source === s)).toBe(true);
    const reversed = splitDocuments([...docs].reverse());
    expect(new Set(reversed.validation.map(name))).toEqual(val);
    // Dropping documents does not move the others.
    const half = splitDocuments(docs.filter((_, i) => i % 2 === 0));
    for (const d of half.validation) expect(val.has(name(d))).toBe(true);
    for (const d of half.train) expect(train.has(name(d))).toBe(true);
  });
});

/** Textbook BPE: recount every pair after every merge. Cross-checks the incremental trainer. */
function naiveBpe(texts: string[], numMerges: number): number[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const p of preTokenize(t)) counts.set(p, (counts.get(p) ?? 0) + 1);
  const words = [...counts].map(([p, c]) => ({ s: Array.from(utf8.encode(p)), c }));
  const merges: number[] = [];
  for (let m = 0; m < numMerges; m++) {
    const pc = new Map<number, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.s.length; i++) {
        const k = w.s[i] * 65536 + w.s[i + 1];
        pc.set(k, (pc.get(k) ?? 0) + w.c);
      }
    }
    let best = -1, bestC = 0;
    for (const [k, c] of pc) if (c > bestC || (c === bestC && k < best)) [best, bestC] = [k, c];
    if (best < 0) break;
    const a = Math.floor(best / 65536), b = best % 65536, id = 256 + m;
    merges.push(a, b);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.s.length; i++) {
        if (i + 1 < w.s.length && w.s[i] === a && w.s[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w.s[i]);
      }
      w.s = out;
    }
  }
  return merges;
}

describe("byte-level BPE", () => {
  it("learns exactly the merges of a textbook BPE and is deterministic", () => {
    const texts = loadCorpus().filter((d) => d.source === "moby").slice(0, 6).map((d) => d.text);
    const fast = trainBpe(texts, 257 + 300).toJSON().merges;
    expect(fast).toEqual(naiveBpe(texts, 300));
    expect(trainBpe(texts, 257 + 300).toJSON().merges).toEqual(fast);
  });

  it("pre-tokens concatenate back to the text", () => {
    const s = "Hello  world's 42nd\ttime!!\n\n  ünïcödé 你好 🙂 ";
    expect(preTokenize(s).join("")).toBe(s);
  });

  it("round-trips every source and unicode exactly; compression is sane and grows with vocab", async () => {
    const { train, validation } = splitDocuments(loadCorpus());
    const tricky = [
      "",
      " ",
      "\u0000\u0001\u007f",
      "naïve café — “quotes” ‘single’ … ½ €",
      "日本語のテキスト、中文文本。한국어",
      "emoji 🙂👍🏽 👨‍👩‍👧‍👦 flags 🇩🇪",
      "e\u0301 combining, Ωmega, עברית, العربية",
      "\r\n\t  trailing spaces   \n\n\n",
      "x".repeat(5000),
    ];
    const bytesPerToken: number[] = [];
    for (const vocabSize of [1024, 2048, 4096]) {
      const tok = await getTokenizer({ vocabSize });
      expect(tok.vocabSize).toBe(vocabSize);
      expect(tok.numMerges).toBe(vocabSize - 257);
      for (const s of tricky) expect(tok.decode(tok.encode(s))).toBe(s);
      for (const source of SOURCES) {
        const docs = [
          ...validation.filter((d) => d.source === source),
          ...train.filter((d) => d.source === source).slice(0, 3),
        ];
        for (const d of docs) {
          const ids = tok.encode(d.text);
          expect(ids.every((i) => i >= 0 && i < tok.eot)).toBe(true);
          expect(tok.decode(ids)).toBe(d.text);
        }
      }
      let bytes = 0, tokens = 0;
      for (const d of validation) {
        bytes += utf8.encode(d.text).length;
        tokens += tok.encode(d.text).length;
      }
      bytesPerToken.push(bytes / tokens);
    }
    // docs/stack.md: about 2.8 / 3.4 / 3.9 bytes per token.
    expect(bytesPerToken[0]).toBeGreaterThan(2.3);
    expect(bytesPerToken[0]).toBeLessThan(3.3);
    expect(bytesPerToken[1]).toBeGreaterThan(2.8);
    expect(bytesPerToken[1]).toBeLessThan(3.9);
    expect(bytesPerToken[2]).toBeGreaterThan(3.2);
    expect(bytesPerToken[2]).toBeLessThan(4.5);
    expect(bytesPerToken[1]).toBeGreaterThan(bytesPerToken[0]);
    expect(bytesPerToken[2]).toBeGreaterThan(bytesPerToken[1]);
  });

  it("rejects a vocabulary size without room for the bytes", () => {
    expect(() => trainBpe(["abc"], 100)).toThrow(/vocabSize must be an integer in \[257, 65536\]/);
  });
});

describe("cache", () => {
  // One private cache for both tests (the second reuses the tokenizer the first one left intact).
  const cacheDir = mkdtempSync(join(tmpdir(), "corpus-cache-"));

  it("a cache hit returns the identical tokenizer; a corrupt file is rebuilt with a warning", async () => {
    const vocabSize = 512;
    const first = await getTokenizer({ vocabSize, cacheDir });
    const path = tokenizerPath({ vocabSize, cacheDir });
    const mtime = statSync(path).mtimeMs;
    clearMemo();
    const second = await getTokenizer({ vocabSize, cacheDir });
    expect(second).not.toBe(first); // read from disk, not the in-process memo
    expect(second.toJSON()).toEqual(first.toJSON());
    expect(statSync(path).mtimeMs).toBe(mtime); // not rewritten

    writeFileSync(path, '{"algorithm": "byte-bpe-gpt2split-v1", "merges": [1, 2');
    clearMemo();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const rebuilt = await getTokenizer({ vocabSize, cacheDir });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/corrupt.*rebuilding/));
    warn.mockRestore();
    expect(rebuilt.toJSON()).toEqual(first.toJSON());
    expect(JSON.parse(readFileSync(path, "utf8")).merges).toEqual(first.toJSON().merges);
  });

  it("token streams decode to the documents, survive a corrupted file, and separate documents", async () => {
    const vocabSize = 512;
    const a = await getTokenStreams({ vocabSize, cacheDir });
    const { train, validation } = splitDocuments(loadCorpus());
    const eots = (x: Int32Array) => x.reduce((n, t) => n + (t === a.tokenizer.eot ? 1 : 0), 0);
    expect(eots(a.train)).toBe(train.length);
    expect(eots(a.validation)).toBe(validation.length);
    // The validation stream is the validation documents, in order, each followed by end-of-text.
    const expected = validation
      .slice()
      .sort((x, y) => SOURCES.indexOf(x.source) - SOURCES.indexOf(y.source))
      .map((d) => d.text + "<|endoftext|>")
      .join("");
    expect(a.tokenizer.decode(a.validation)).toBe(expected);
    for (const s of SOURCES) {
      expect(a.validationBySource[s].length).toBeGreaterThan(1000);
      expect(eots(a.validationBySource[s])).toBe(validation.filter((d) => d.source === s).length);
    }

    // Flip one byte of the binary file: the checksum catches it and the streams are rebuilt.
    const bin = join(cacheDir, `tokens-${vocabSize}-${a.key}.bin`);
    const bytes = readFileSync(bin);
    bytes[1000] ^= 0xff;
    writeFileSync(bin, bytes);
    clearMemo();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const b = await getTokenStreams({ vocabSize, cacheDir });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/corrupt.*checksum/));
    warn.mockRestore();
    expect(sameTokens(b.train, a.train)).toBe(true);
    expect(sameTokens(b.validation, a.validation)).toBe(true);
    clearMemo();
    const c = await getTokenStreams({ vocabSize, cacheDir }); // now a clean hit
    expect(sameTokens(c.train, a.train)).toBe(true);
  });
});

describe("BatchSampler", () => {
  const tokens = Int32Array.from({ length: 10_000 }, (_, i) => i);

  it("gives contiguous windows; same seed same batches, other seed other batches", () => {
    const opts = { batchSize: 8, seqLen: 16, seed: 7 };
    const s1 = new BatchSampler(tokens, opts);
    const s2 = new BatchSampler(tokens, opts);
    const s3 = new BatchSampler(tokens, { ...opts, seed: 8 });
    for (let b = 0; b < 5; b++) {
      const x = s1.next();
      expect(x.length).toBe(8 * 17);
      for (let r = 0; r < 8; r++) {
        for (let i = 1; i < 17; i++) expect(x[r * 17 + i]).toBe(x[r * 17] + i);
      }
      expect(s2.next()).toEqual(x);
      expect(s3.next()).not.toEqual(x);
    }
    expect(s1.cursor).toBe(5);
  });

  it("restoring a saved state continues identically", () => {
    const a = new BatchSampler(tokens, { batchSize: 4, seqLen: 32, seed: 123 });
    for (let i = 0; i < 3; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const rest = [a.next(), a.next(), a.next()];
    const b = new BatchSampler(tokens, { batchSize: 4, seqLen: 32, seed: 999 });
    b.next();
    b.setState(saved);
    expect([b.next(), b.next(), b.next()]).toEqual(rest);
    expect(() => b.setState({ seed: 1, cursor: -1 })).toThrow(/sampler state/);
  });

  it("draws window starts over the whole stream, close to uniformly", () => {
    const s = new BatchSampler(tokens, { batchSize: 64, seqLen: 9, seed: 1 });
    const bins = new Array(10).fill(0);
    for (let b = 0; b < 100; b++) {
      const x = s.next();
      for (let r = 0; r < 64; r++) bins[Math.floor(x[r * 10] / 1000)]++;
    }
    for (const n of bins) expect(Math.abs(n - 640)).toBeLessThan(120);
  });

  it("evaluation batches score every target once and are fixed", () => {
    const small = tokens.subarray(0, 1001);
    const batches = evalBatches(small, { batchSize: 5, seqLen: 10 });
    const targets = batches.flatMap((x) => {
      const out: number[] = [];
      for (let r = 0; r < x.length / 11; r++) out.push(...x.subarray(r * 11 + 1, r * 11 + 11));
      return out;
    });
    expect(targets).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(evalBatches(small, { batchSize: 5, seqLen: 10, maxBatches: 3 }).length).toBe(3);
    expect(() => new BatchSampler(small, { batchSize: 2, seqLen: 5000, seed: 1 })).toThrow(
      /shorter than one window/,
    );
  });
});
