/**
 * The import graph of lib/: `deno info --json` over one root that imports every lib/**\/*.ts, so
 * that every import counts (type-only and dynamic ones too) and npm packages are followed through
 * their own dependencies. test/imports.test.ts checks the rules of CONTRIBUTING.md on it; run
 *
 *   deno run -A scripts/import_graph.ts > docs/imports.md
 *
 * to write the folder table (the test fails while docs/imports.md is out of date).
 */
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** How a module imports another: a value import, a type-only one, or a dynamic `import()`. */
export type EdgeKind = "code" | "type" | "dynamic";

export interface Edge {
  /** File URL of a module, or "npm:<package id>", or "node:<builtin>". */
  to: string;
  kind: EdgeKind;
}

export interface ImportGraph {
  /** file:// URL of lib/ (with a trailing slash). */
  lib: string;
  /** Imports of every module deno reached, by file URL (lib's modules and what they import). */
  modules: Map<string, Edge[]>;
  /** npm packages: id ("name@version") to its name and the ids it depends on. */
  npm: Map<string, { name: string; dependencies: string[] }>;
}

interface DenoInfo {
  modules: {
    specifier: string;
    kind?: string;
    npmPackage?: string;
    dependencies?: {
      specifier: string;
      code?: { specifier: string };
      type?: { specifier: string };
      isDynamic?: boolean;
    }[];
  }[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { name: string; dependencies: string[] }>;
}

const REPO = new URL("../", import.meta.url);

function libFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...libFiles(p));
    else if (e.isFile && e.name.endsWith(".ts")) out.push(p);
  }
  return out.sort();
}

/** Builds the graph of every lib/**\/*.ts of the checkout `repo` (default this one). */
export async function importGraph(repo: URL = REPO): Promise<ImportGraph> {
  const root = fileURLToPath(repo);
  const lib = new URL("lib/", repo).href;
  const tmp = await Deno.makeTempDir({ prefix: "import-graph-" });
  try {
    const entry = join(tmp, "all.ts");
    const files = libFiles(join(root, "lib"));
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(pathToFileURL(f).href)};\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(root, "deno.json"), entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `deno info failed on lib/ (fix the import it names, or run \`deno install\`):\n` +
          new TextDecoder().decode(out.stderr),
      );
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as DenoInfo;
    const npmOf = new Map<string, string>();
    for (const m of info.modules) {
      if (m.kind === "npm" && m.npmPackage) npmOf.set(m.specifier, `npm:${m.npmPackage}`);
    }
    const target = (s: string): string => {
      const r = info.redirects[s] ?? s;
      return npmOf.get(r) ?? r;
    };
    const modules = new Map<string, Edge[]>();
    for (const m of info.modules) {
      if (!m.specifier.startsWith("file:") || m.specifier === pathToFileURL(entry).href) continue;
      const edges: Edge[] = [];
      for (const d of m.dependencies ?? []) {
        const to = d.code?.specifier ?? d.type?.specifier;
        if (!to) continue;
        edges.push({ to: target(to), kind: d.isDynamic ? "dynamic" : d.code ? "code" : "type" });
      }
      modules.set(m.specifier, edges);
    }
    const npm = new Map(
      Object.entries(info.npmPackages).map(([id, p]) => [id, {
        name: p.name,
        dependencies: p.dependencies,
      }]),
    );
    return { lib, modules, npm };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** lib/ folder of a module ("train" for lib/train/config.ts), or undefined outside lib/. */
export function folderOf(g: ImportGraph, url: string): string | undefined {
  if (!url.startsWith(g.lib)) return undefined;
  const rest = url.slice(g.lib.length);
  const slash = rest.indexOf("/");
  return slash < 0 ? "." : rest.slice(0, slash);
}

/** Path of a module relative to the checkout ("lib/train/config.ts"). */
export function relPath(g: ImportGraph, url: string): string {
  return url.startsWith(g.lib) ? `lib/${url.slice(g.lib.length)}` : url;
}

/** The lib/ folders that have a mod.ts (their one public entry). */
function foldersWithMod(g: ImportGraph): Set<string> {
  const out = new Set<string>();
  for (const url of g.modules.keys()) {
    const f = folderOf(g, url);
    if (f !== undefined && url === `${g.lib}${f}/mod.ts`) out.add(f);
  }
  return out;
}

/** Folder -> folder -> the file-level imports behind that edge. */
export function folderEdges(
  g: ImportGraph,
): Map<string, Map<string, { from: string; to: string; kind: EdgeKind }[]>> {
  const out = new Map<string, Map<string, { from: string; to: string; kind: EdgeKind }[]>>();
  for (const [from, edges] of g.modules) {
    const a = folderOf(g, from);
    if (a === undefined) continue;
    if (!out.has(a)) out.set(a, new Map());
    for (const e of edges) {
      const b = folderOf(g, e.to);
      if (b === undefined || b === a) continue;
      const byB = out.get(a)!;
      if (!byB.has(b)) byB.set(b, []);
      byB.get(b)!.push({ from, to: e.to, kind: e.kind });
    }
  }
  return out;
}

/**
 * Cycles between lib/ folders (A imports B and B imports A, directly or through other folders),
 * each as "a -> b -> a" with the file imports behind its edges. Empty when there are none.
 */
export function folderCycles(g: ImportGraph): string[] {
  const fe = folderEdges(g);
  const nodes = [...fe.keys()].sort();
  // Tarjan's strongly connected components.
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>();
  const sccs: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of [...(fe.get(v)?.keys() ?? [])].sort()) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) sccs.push(scc.sort());
    }
  };
  for (const v of nodes) if (!index.has(v)) visit(v);
  return sccs.map((scc) => {
    // A shortest cycle through the component's first folder, by breadth-first search.
    const inScc = new Set(scc);
    const start = scc[0];
    const prev = new Map<string, string>();
    const queue = [start];
    let last: string | undefined;
    while (queue.length > 0 && last === undefined) {
      const v = queue.shift()!;
      for (const w of [...(fe.get(v)?.keys() ?? [])].sort()) {
        if (!inScc.has(w)) continue;
        if (w === start) {
          last = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = last!; v !== start; v = prev.get(v)!) path.splice(1, 0, v);
    path.push(start);
    const why = path.slice(0, -1).map((a, i) => {
      const e = fe.get(a)!.get(path[i + 1])!;
      const shown = e.slice(0, 2).map((x) =>
        `${relPath(g, x.from)} -> ${relPath(g, x.to)}${x.kind === "code" ? "" : ` (${x.kind})`}`
      );
      return shown.join(", ") + (e.length > 2 ? ` and ${e.length - 2} more` : "");
    });
    return `${path.join(" -> ")}: ${why.join("; ")}`;
  });
}

/**
 * Cross-folder imports that bypass the imported folder's mod.ts ("lib/a/x.ts -> lib/b/y.ts").
 * Folders without a mod.ts (lib/util: small leaves imported by file; lib/cli: entry points) are
 * imported by file.
 */
export function bypasses(g: ImportGraph): string[] {
  const withMod = foldersWithMod(g);
  const out: string[] = [];
  for (const [from, edges] of g.modules) {
    const a = folderOf(g, from);
    if (a === undefined) continue;
    for (const e of edges) {
      const b = folderOf(g, e.to);
      if (b === undefined || b === a || !withMod.has(b)) continue;
      if (e.to !== `${g.lib}${b}/mod.ts`) {
        out.push(`${relPath(g, from)} -> ${relPath(g, e.to)} (use lib/${b}/mod.ts)`);
      }
    }
  }
  return out.sort();
}

/**
 * npm packages (by name) that a lib/ module reaches through any import (type-only and dynamic
 * included), following packages through their own dependencies; each with one import chain.
 */
export function reachedPackages(g: ImportGraph, path: string): Map<string, string> {
  const start = new URL(path, new URL("../", g.lib)).href;
  if (!g.modules.has(start)) throw new Error(`${path} is not a module of the graph`);
  const via = new Map<string, string>([[start, relPath(g, start)]]);
  const queue = [start];
  const out = new Map<string, string>();
  while (queue.length > 0) {
    const v = queue.shift()!;
    const chain = via.get(v)!;
    const next: string[] = v.startsWith("npm:")
      ? (g.npm.get(v.slice(4))?.dependencies ?? []).map((id) => `npm:${id}`)
      : (g.modules.get(v) ?? []).map((e) => e.to);
    for (const w of next) {
      if (via.has(w)) continue;
      const name = w.startsWith("npm:") ? g.npm.get(w.slice(4))?.name ?? w.slice(4) : undefined;
      via.set(w, `${chain} -> ${name ?? relPath(g, w)}`);
      if (name !== undefined && !out.has(name)) out.set(name, via.get(w)!);
      queue.push(w);
    }
  }
  return out;
}

/** The folder table of docs/imports.md. */
export function markdown(g: ImportGraph): string {
  const fe = folderEdges(g);
  const withMod = foldersWithMod(g);
  const rows = [...fe.keys()].sort().map((a) => {
    const folders = [...fe.get(a)!.entries()].sort(([x], [y]) => x.localeCompare(y)).map(
      ([b, es]) => {
        const kinds = new Set(es.map((e) => e.kind));
        return kinds.has("code") ? b : kinds.has("dynamic") ? `${b} (lazy)` : `${b} (types)`;
      },
    );
    const packages = new Set<string>();
    for (const [from, edges] of g.modules) {
      if (folderOf(g, from) !== a) continue;
      for (const e of edges) {
        if (e.to.startsWith("npm:")) packages.add(g.npm.get(e.to.slice(4))?.name ?? e.to);
      }
    }
    const name = withMod.has(a) ? a : `${a} (no mod.ts)`;
    return `| ${name} | ${folders.join(", ") || "-"} | ${[...packages].sort().join(", ") || "-"} |`;
  });
  const cycles = folderCycles(g);
  return [
    "# Import graph of lib/",
    "",
    "Generated by `deno run -A scripts/import_graph.ts > docs/imports.md`: do not edit by hand.",
    "",
    "The rule: a folder's `mod.ts` is its one public entry, so another folder imports it only",
    "through that `mod.ts` (lib/util and lib/cli, which have none, are imported by file), and the",
    "folders import each other without cycles. test/imports.test.ts checks both, and that naming a",
    "run (lib/sweep/spec.ts, lib/identity) reaches no tfjs and training (lib/train) no",
    "playwright-core. Every import counts, type-only ones included; `(types)` marks a folder",
    "imported only for types, `(lazy)` one imported only by a dynamic `import()`.",
    "",
    "| folder | imports (lib/ folders) | npm packages it imports itself |",
    "|---|---|---|",
    ...rows,
    "",
    cycles.length === 0
      ? "No cycles between folders."
      : `Cycles between folders (to be removed):\n\n${cycles.map((c) => `- ${c}`).join("\n")}`,
    "",
  ].join("\n");
}

/** docs/imports.md as `deno fmt` formats it (its tables padded, its prose wrapped). */
export async function formattedMarkdown(g: ImportGraph, repo: URL = REPO): Promise<string> {
  const root = fileURLToPath(repo);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--config", join(root, "deno.json"), "--ext=md", "-"],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(markdown(g)));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt failed:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

if (import.meta.main) {
  await Deno.stdout.write(new TextEncoder().encode(await formattedMarkdown(await importGraph())));
}
