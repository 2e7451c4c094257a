import { describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  fromPercent,
  listNotebooks,
  notebookModule,
  readNotebook,
  REPO_ROOT,
  typecheckNotebooks,
} from "../lib/notebook/mod.ts";

describe("notebooks type-check", () => {
  it("every numbered notebook's code cells type-check as one module", async () => {
    const paths = await listNotebooks(join(REPO_ROOT, "notebooks"), []);
    expect(paths.length).toBeGreaterThanOrEqual(10);
    expect(await typecheckNotebooks(paths, REPO_ROOT, readNotebook)).toEqual({});
  }, 300_000);

  it("a type error in a cell fails the check, naming the notebook", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "99_broken.ipynb");
      const nb = fromPercent(
        `// %%\nimport { fmt } from "../lib/analysis/mod.ts";\n// %%\nconst n: number = fmt(2);\n`,
      );
      await Deno.writeTextFile(path, JSON.stringify(nb));
      const errors = await typecheckNotebooks([path], REPO_ROOT, readNotebook);
      expect(Object.keys(errors)).toContain(path);
      expect(errors["(deno check output)"]).toMatch(/TS2322/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }, 300_000);

  it("rewrites relative imports to the repository and keeps cell order", () => {
    const nb = fromPercent(
      `// %%\nimport pl from "nodejs-polars";\nimport { x } from "../lib/a.ts";\n// %%\nx();\n`,
    );
    const src = notebookModule(nb, "/repo");
    expect(src).toContain(`from "file:///repo/lib/a.ts"`);
    expect(src).toContain(`from "nodejs-polars"`);
    expect(src.indexOf("import pl")).toBeLessThan(src.indexOf("x();"));
    expect(src.trimEnd().endsWith("export {};")).toBe(true);
  });
});
