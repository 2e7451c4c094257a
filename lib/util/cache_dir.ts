/** The data cache folder, shared by the release download (lib/release) and the corpus's files. */
import process from "node:process";
import { fileURLToPath } from "node:url";

/**
 * Default cache folder: env ROUTING_CACHE_DIR, else `data/cache` at the repository root (two
 * levels above this file). Holds the release file and the corpus's tokenizers and token streams.
 */
export function defaultCacheDir(): string {
  const dir = process.env.ROUTING_CACHE_DIR;
  return dir === undefined || dir === ""
    ? fileURLToPath(new URL("../../data/cache/", import.meta.url))
    : dir;
}
