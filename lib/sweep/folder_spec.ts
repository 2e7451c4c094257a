/**
 * A sweep folder belongs to one spec: DIR/sweep-spec.json records the spec's name and hash on
 * first use, and another spec is refused there unless the caller allows it (--allow-other-spec),
 * since summaries and fits of the folder would pool the runs of both. A run so allowed is a
 * guest: it never claims a folder, so the folder stays with the spec that owns it (or will).
 * A folder from before markers is judged by its DIR/specs records: a spec recorded there may
 * claim it, any other is refused.
 *
 * The marker is created race-free: written to a temporary file and hard-linked into place, which
 * fails when the marker exists (also on NFS and Lustre), so shards of one spec starting together
 * on shared storage (Slurm job arrays, --workers) all end up comparing against the same marker.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../identity/mod.ts";
import type { SweepSpec } from "./types.ts";

export const SPEC_MARKER = "sweep-spec.json";

/** What DIR/sweep-spec.json holds. */
export interface SpecMarker {
  name: string;
  hash: string;
  created: string;
  host: string;
  /** The spec as canonical JSON (blas "auto" resolved, defaults filled). */
  spec: Record<string, unknown>;
}

export interface FolderSpecOptions {
  /** Run this spec into a folder that belongs to another spec (--allow-other-spec). */
  allowOtherSpec?: boolean;
  /** How the user gives another folder, named in the refusal (default "--out DIR"). */
  folderFlag?: string;
  /** Where the note goes when another spec is allowed in (default console.error). */
  log?: (line: string) => void;
}

/**
 * 16 hex digits of SHA-256 over the spec's canonical JSON, checkpointEvery left out: it does not
 * change results, so resuming with another checkpoint interval is the same spec.
 */
function hashOfJson(spec: Record<string, unknown>): string {
  const { checkpointEvery: _ignored, ...rest } = spec;
  return createHash("sha256").update(canonicalJson(rest, "spec")).digest("hex").slice(0, 16);
}

/** The hash that names a spec in a sweep folder. */
export function specHash(spec: SweepSpec): string {
  return hashOfJson(JSON.parse(canonicalJson(spec, "spec")));
}

const markerPath = (dir: string) => `${dir}/${SPEC_MARKER}`;

/**
 * The folder's marker, or null when there is none. A marker another process is writing (only
 * where hard links are not supported) gets a moment to appear whole.
 */
async function readMarker(dir: string): Promise<SpecMarker | null> {
  for (let attempt = 0;; attempt++) {
    let text: string;
    try {
      text = await Deno.readTextFile(markerPath(dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    try {
      const m = JSON.parse(text);
      if (typeof m?.name === "string" && typeof m?.hash === "string") return m;
    } catch { /* half written: retry below */ }
    if (attempt >= 20) {
      throw new Error(
        `${markerPath(dir)} is not a sweep-spec record (it names the spec the folder belongs ` +
          `to); if no sweep is writing to ${dir}, delete that file and rerun`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates the marker unless one exists; returns the marker in force afterwards. */
async function createMarker(dir: string, mine: SpecMarker): Promise<SpecMarker> {
  const path = markerPath(dir);
  const tmp = `${dir}/.${SPEC_MARKER}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  const text = JSON.stringify(mine, null, 2) + "\n";
  try {
    await Deno.writeTextFile(tmp, text);
    try {
      await Deno.link(tmp, path); // atomic, and fails if the marker exists
      return mine;
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) return (await readMarker(dir))!;
      // No hard links on this filesystem: an exclusive create (readers wait for the content).
      let f: Deno.FsFile;
      try {
        f = await Deno.open(path, { write: true, createNew: true });
      } catch (e2) {
        if (e2 instanceof Deno.errors.AlreadyExists) return (await readMarker(dir))!;
        throw e2;
      }
      try {
        await f.write(new TextEncoder().encode(text));
      } finally {
        f.close();
      }
      return mine;
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Specs recorded in DIR/specs (every sweep writes one), one entry per hash. */
async function recordedSpecs(dir: string): Promise<SpecMarker[]> {
  const out: SpecMarker[] = [];
  try {
    for await (const e of Deno.readDir(`${dir}/specs`)) {
      if (!e.name.endsWith(".json")) continue;
      let spec: Record<string, unknown>;
      try {
        spec = JSON.parse(await Deno.readTextFile(`${dir}/specs/${e.name}`));
      } catch {
        continue; // a record being written; the marker settles ownership from here on
      }
      const h = hashOfJson(spec);
      if (!out.some((m) => m.hash === h)) {
        out.push({ name: String(spec.name), hash: h, created: "", host: "", spec });
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out;
}

/** Top-level and nested fields where two specs differ: "budget.steps: 24 vs 192". */
function differences(a: unknown, b: unknown, path = ""): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.filter((k) => !(path === "" && k === "checkpointEvery")) // not in the hash
      .flatMap((k) => differences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  const [ja, jb] = [JSON.stringify(a) ?? "none", JSON.stringify(b) ?? "none"];
  return ja === jb ? [] : [`${path}: ${ja} vs ${jb}`];
}

function refusal(dir: string, owner: SpecMarker, mine: SpecMarker, opts: FolderSpecOptions) {
  const diff = differences(owner.spec, mine.spec);
  const shown = diff.slice(0, 4).join("; ") + (diff.length > 4 ? `; ${diff.length - 4} more` : "");
  const where = owner.created
    ? `recorded in ${markerPath(dir)}`
    : `recorded in ${dir}/specs by an earlier sweep`;
  return new Error(
    `sweep folder ${dir} belongs to spec "${owner.name}" (hash ${owner.hash}, ${where}), not ` +
      `to spec "${mine.name}" (hash ${mine.hash})${diff.length ? ` [${shown}]` : ""}: one ` +
      `folder's summary and fits would pool the runs of both. Give this sweep a new folder ` +
      `(${opts.folderFlag ?? "--out DIR"}), or pass --allow-other-spec to run it into ${dir} ` +
      `anyway.`,
  );
}

function markerOf(spec: SweepSpec): SpecMarker {
  const json = JSON.parse(canonicalJson(spec, "spec"));
  return {
    name: spec.name,
    hash: hashOfJson(json),
    created: new Date().toISOString(),
    host: Deno.hostname(),
    spec: json,
  };
}

/** The spec the folder belongs to, when it is another one than `mine`; null otherwise. */
async function otherOwner(dir: string, mine: SpecMarker, create: boolean) {
  let owner = await readMarker(dir);
  if (owner === null) {
    // No marker: a new folder, or one from before markers, which belongs to its recorded specs.
    const recorded = await recordedSpecs(dir);
    if (recorded.length > 0 && !recorded.some((m) => m.hash === mine.hash)) return recorded[0];
    if (!create) return null;
    await Deno.mkdir(dir, { recursive: true });
    owner = await createMarker(dir, mine);
  }
  return owner.hash === mine.hash ? null : owner;
}

/**
 * Records `spec` as the spec of sweep folder `dir` (creating the folder), or checks it against
 * the one recorded. Throws, naming both specs and the way out, when the folder belongs to another
 * spec and `allowOtherSpec` is not set.
 */
export async function claimSweepFolder(
  dir: string,
  spec: SweepSpec,
  opts: FolderSpecOptions = {},
): Promise<void> {
  await check(dir, spec, opts, true);
}

/** Like claimSweepFolder, without writing anything: for checks before long work. */
export async function checkSweepFolder(
  dir: string,
  spec: SweepSpec,
  opts: FolderSpecOptions = {},
): Promise<void> {
  await check(dir, spec, opts, false);
}

async function check(dir: string, spec: SweepSpec, opts: FolderSpecOptions, create: boolean) {
  const mine = markerOf(spec);
  const owner = await otherOwner(dir, mine, create && !opts.allowOtherSpec);
  if (owner === null) return;
  if (!opts.allowOtherSpec) throw refusal(dir, owner, mine, opts);
  (opts.log ?? console.error)(
    `[sweep] ${dir} belongs to spec "${owner.name}" (hash ${owner.hash}); running spec ` +
      `"${mine.name}" (hash ${mine.hash}) into it too, as --allow-other-spec asks`,
  );
}
