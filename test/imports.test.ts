/**
 * The import rules of CONTRIBUTING.md on the import graph of lib/ (scripts/import_graph.ts; every
 * import counts, type-only and dynamic ones included): no cycle between folders, no cross-folder
 * import around a folder's mod.ts, no tfjs behind a run's identity, no Chromium driver behind
 * training, and docs/imports.md up to date.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import {
  bypasses,
  folderCycles,
  formattedMarkdown,
  type ImportGraph,
  importGraph,
  reachedPackages,
} from "../scripts/import_graph.ts";

let g: ImportGraph;
beforeAll(async () => {
  g = await importGraph();
});

/** A graph of lib/ file URLs from "lib/a/x.ts -> lib/b/y.ts" lines (npm: targets allowed). */
function synthetic(lines: string[], npm: Record<string, string[]> = {}): ImportGraph {
  const lib = "file:///repo/lib/";
  const url = (p: string) => (p.startsWith("npm:") ? p : `file:///repo/${p}`);
  const modules = new Map<string, { to: string; kind: "code" | "type" | "dynamic" }[]>();
  for (const line of lines) {
    const [from, to] = line.split(" -> ");
    if (!modules.has(url(from))) modules.set(url(from), []);
    if (!to.startsWith("npm:") && !modules.has(url(to))) modules.set(url(to), []);
    modules.get(url(from))!.push({ to: url(to), kind: "code" });
  }
  const packages = new Map(
    Object.entries(npm).map((
      [id, deps],
    ) => [id, { name: id.replace(/@[^@]*$/, ""), dependencies: deps }]),
  );
  return { lib, modules, npm: packages };
}

describe("the checks themselves", () => {
  it("find a cycle through three folders, a bypass, and a package two packages down", () => {
    const s = synthetic([
      "lib/a/mod.ts -> lib/b/mod.ts",
      "lib/b/mod.ts -> lib/c/inner.ts",
      "lib/c/inner.ts -> lib/a/mod.ts",
      "lib/c/mod.ts -> lib/c/inner.ts",
      "lib/d/mod.ts -> lib/a/mod.ts",
      "lib/d/mod.ts -> npm:p@1.0.0",
    ], { "p@1.0.0": ["q@2.0.0"], "q@2.0.0": [] });
    expect(folderCycles(s)).toEqual([
      "a -> b -> c -> a: lib/a/mod.ts -> lib/b/mod.ts; lib/b/mod.ts -> lib/c/inner.ts; " +
      "lib/c/inner.ts -> lib/a/mod.ts",
    ]);
    expect(bypasses(s)).toEqual(["lib/b/mod.ts -> lib/c/inner.ts (use lib/c/mod.ts)"]);
    expect([...reachedPackages(s, "lib/d/mod.ts").keys()].sort()).toEqual(["p", "q"]);
    expect(reachedPackages(s, "lib/d/mod.ts").get("q")).toBe("lib/d/mod.ts -> p -> q");
    expect(reachedPackages(s, "lib/a/mod.ts").size).toBe(0);
  });

  it("the real graph holds every lib/ module and the edges everyone knows", () => {
    const files = [...g.modules.keys()].filter((u) => u.startsWith(g.lib));
    expect(files.length).toBeGreaterThan(80);
    const train = g.modules.get(`${g.lib}train/train.ts`)!.map((e) => e.to);
    expect(train).toContain(`${g.lib}backend/mod.ts`);
    expect([...reachedPackages(g, "lib/train/mod.ts").keys()]).toContain("@tensorflow/tfjs-core");
  });
});

describe("import rules of lib/", () => {
  it("no cycle between lib/ folders", () => {
    expect(folderCycles(g)).toEqual([]);
  });

  it("cross-folder imports go through the folder's mod.ts", () => {
    expect(bypasses(g)).toEqual([]);
  });

  it.each(["lib/sweep/spec.ts", "lib/identity/mod.ts"])(
    "%s (a run's identity) reaches no @tensorflow package",
    (path) => {
      const tf = [...reachedPackages(g, path).entries()].filter(([n]) =>
        n.startsWith("@tensorflow/")
      );
      expect(tf.map(([, chain]) => chain)).toEqual([]);
    },
  );

  it("lib/train/mod.ts (training) reaches no playwright-core", () => {
    expect(reachedPackages(g, "lib/train/mod.ts").get("playwright-core")).toBeUndefined();
  });

  it("docs/imports.md is the generated table (deno run -A scripts/import_graph.ts > docs/imports.md)", async () => {
    const docs = readFileSync(new URL("../docs/imports.md", import.meta.url), "utf8");
    expect(docs).toBe(await formattedMarkdown(g));
  });
});
