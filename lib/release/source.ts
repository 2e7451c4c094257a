/**
 * Where the release file comes from: explicit path > env ROUTING_CURVES > the cache
 * `data/cache/curves.csv.gz` (downloaded from the pinned public address when absent).
 * Every file is checked against the pinned sha256; see `resolveCurvesPath`.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import { defaultCacheDir } from "../util/cache_dir.ts";
import { RELEASE, RELEASE_URL } from "./schema.ts";

export { defaultCacheDir };

export interface ResolveOptions {
  /** Explicit file (a `--curves PATH` flag). Wins over everything. */
  path?: string;
  /** Cache folder; default env ROUTING_CACHE_DIR, else `<repo>/data/cache`. */
  cacheDir?: string;
  /** Download address; default env ROUTING_CURVES_URL, else the pinned raw GitHub address. */
  url?: string;
  /** Expected sha256 (hex); default the pinned release's. */
  sha256?: string;
  /**
   * Check the sha256 of an explicit/env file (default true; env ROUTING_CURVES_NO_VERIFY=1 turns
   * it off, for a user's own modified copy). The cached/downloaded file is always checked.
   */
  verify?: boolean;
}

const FILE_NAME = "curves.csv.gz";

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Download `url`, check its sha256 in memory, then write it to `dest` through a temporary file in
 * the same folder and an atomic rename: a failed or wrong download never leaves a file behind.
 */
export async function downloadVerified(url: string, dest: string, sha256: string): Promise<void> {
  const how = `Check the network, or point ROUTING_CURVES (or --curves) at a local copy of ` +
    `${RELEASE.path} from ${RELEASE.repo} at commit ${RELEASE.commit}.`;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`Could not download the release from ${url}: ${(e as Error).message}. ${how}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Downloading the release from ${url} failed: HTTP ${res.status}. ${how}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  const got = sha256Hex(bytes);
  if (got !== sha256) {
    throw new Error(
      `The file downloaded from ${url} (${bytes.length} bytes) has sha256 ${got}, expected ` +
        `${sha256}; nothing was written to ${dest}. The address may serve another version or an ` +
        `error page. ${how}`,
    );
  }
  const dir = resolve(dest, "..");
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${FILE_NAME}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`Could not write the release to ${dest}: ${(e as Error).message}`);
  }
}

/**
 * Path of a verified `curves.csv.gz`. Order: `opts.path` (a `--curves` flag) > env ROUTING_CURVES >
 * the cache (`opts.cacheDir`/curves.csv.gz), downloaded from the pinned address if absent or if the
 * cached copy fails its checksum (replaced atomically). Throws an Error naming the file, expected
 * and actual sha256 and the fix when a check fails.
 */
export async function resolveCurvesPath(opts: ResolveOptions = {}): Promise<string> {
  const expected = opts.sha256 ?? RELEASE.sha256;
  const explicit = opts.path !== undefined
    ? { file: opts.path, from: "the --curves path" }
    : env("ROUTING_CURVES") !== undefined
    ? { file: env("ROUTING_CURVES")!, from: "env ROUTING_CURVES" }
    : undefined;
  if (explicit) {
    const file = resolve(explicit.file);
    if (!(await exists(file))) {
      throw new Error(
        `The release file ${file} (from ${explicit.from}) does not exist. Fix the path, or unset ` +
          `ROUTING_CURVES and drop --curves to download ${RELEASE.path} into the cache.`,
      );
    }
    const verify = opts.verify ?? env("ROUTING_CURVES_NO_VERIFY") !== "1";
    if (verify) {
      const got = sha256Hex(await readFile(file));
      if (got !== expected) {
        throw new Error(
          `The release file ${file} (from ${explicit.from}) has sha256 ${got}, expected ` +
            `${expected} (${RELEASE.repo} at ${RELEASE.commit}, ${RELEASE.path}). Re-download it ` +
            `from ${RELEASE_URL}, or, for your own modified copy, set ROUTING_CURVES_NO_VERIFY=1 ` +
            `(the columns are still checked).`,
        );
      }
    }
    return file;
  }
  const dest = resolve(opts.cacheDir ?? defaultCacheDir(), FILE_NAME);
  if (await exists(dest)) {
    if (sha256Hex(await readFile(dest)) === expected) return dest;
    // A stale or damaged cache entry: replace it (atomically) with a verified download.
  }
  await downloadVerified(opts.url ?? env("ROUTING_CURVES_URL") ?? RELEASE_URL, dest, expected);
  return dest;
}
