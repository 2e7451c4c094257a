import { describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  cellErrors,
  cellSource,
  codeCellsMissingOutput,
  fromPercent,
  listNotebooks,
  type NotebookCell,
  NotebookRunError,
  readNotebook,
  REPO_ROOT,
  runNotebooks,
  serializeNotebook,
} from "../lib/notebook/mod.ts";
import { curvesPath } from "./_curves.ts";

function text(o: Record<string, unknown>): string {
  const t = o.text ?? (o.data as Record<string, unknown> | undefined)?.["text/plain"] ?? "";
  return Array.isArray(t) ? t.join("") : String(t);
}

async function writeNb(dir: string, name: string, percent: string): Promise<string> {
  const p = join(dir, name);
  await Deno.writeTextFile(p, serializeNotebook(fromPercent(percent)));
  return p;
}

describe("percent authoring", () => {
  it("splits markdown, code and tagged cells", () => {
    const nb = fromPercent(
      "// %% [markdown]\n// # Title\n// text\n// %% no-output\nconst a = 1;\n// %%\na + 1\n",
    );
    expect(nb.cells.map((c) => c.cell_type)).toEqual(["markdown", "code", "code"]);
    expect(cellSource(nb.cells[0])).toBe("# Title\ntext");
    expect(nb.cells[1].metadata.tags).toEqual(["no-output"]);
    expect(cellSource(nb.cells[2])).toBe("a + 1");
    expect(() => fromPercent("stray\n// %%\n1")).toThrow(/must start with/);
  });
});

describe("run_notebook.py on the Deno kernel", () => {
  it("keeps every output of a 120-cell notebook (stdout, results, displays, updates)", async () => {
    const dir = await Deno.makeTempDir({ prefix: "nbrun-" });
    const n = 120;
    let src = "// %% [markdown]\n// stress\n";
    for (let i = 0; i < n; i++) {
      if (i % 3 === 0) src += `// %%\nconsole.log("line ${i}");\n${i} * 2\n`;
      else if (i % 3 === 1) {
        src += `// %%\nawait Deno.jupyter.display({ "text/plain": "disp ${i}" }, { raw: true });\n`;
      } else {
        src +=
          `// %%\nawait Deno.jupyter.display({ "text/plain": "old ${i}" }, { raw: true, display_id: "d${i}" });\n` +
          `await Deno.jupyter.display({ "text/plain": "new ${i}" }, { raw: true, display_id: "d${i}", update: true });\n`;
      }
    }
    const path = await writeNb(dir, "stress.ipynb", src);
    const [s] = await runNotebooks([path], { outDir: join(dir, "out") });
    expect(s.ok).toBe(true);
    expect(s.code_cells).toBe(n);
    const nb = await readNotebook(join(dir, "out", "stress.ipynb"));
    const code = nb.cells.filter((c): c is NotebookCell => c.cell_type === "code");
    code.forEach((c, i) => {
      const outs = c.outputs ?? [];
      if (i % 3 === 0) {
        expect(outs.map((o) => o.output_type)).toEqual(["stream", "execute_result"]);
        expect(text(outs[0])).toBe(`line ${i}\n`);
        expect(text(outs[1])).toBe(String(i * 2));
      } else if (i % 3 === 1) {
        expect(outs.map(text)).toEqual([`disp ${i}`]);
      } else {
        expect(outs.map(text)).toEqual([`new ${i}`]);
      }
    });
    expect(codeCellsMissingOutput(nb)).toEqual([]);
    expect(s.outputs).toBe(n / 3 * 2 + n / 3 * 2);
    await Deno.remove(dir, { recursive: true });
  });

  it("fails on a cell error, names the cell, and keeps the executed part", async () => {
    const dir = await Deno.makeTempDir({ prefix: "nbrun-" });
    const path = await writeNb(
      dir,
      "bad.ipynb",
      '// %%\nconsole.log("before")\n// %%\nthrow new Error("deliberate failure")\n// %%\nconsole.log("after")\n',
    );
    const err = await runNotebooks([path], { outDir: dir + "/out" }).catch((e) => e);
    expect(err).toBeInstanceOf(NotebookRunError);
    expect(String(err.message)).toMatch(/cell 1 .*deliberate failure/);
    const nb = await readNotebook(join(dir, "out", "bad.ipynb"));
    expect(text(nb.cells[0].outputs![0])).toBe("before\n");
    expect(cellErrors(nb)).toEqual(["cell 1: Error: deliberate failure"]);
    expect(nb.cells[2].outputs).toEqual([]);
    await Deno.remove(dir, { recursive: true });
  });

  it("fails on a code cell that should have output and has none, unless tagged no-output", async () => {
    const dir = await Deno.makeTempDir({ prefix: "nbrun-" });
    const ok = await writeNb(dir, "a.ipynb", "// %% no-output\nconst x = 1;\n// %%\nx\n");
    const [s] = await runNotebooks([ok], { outDir: dir });
    expect(s.ok && s.empty_cells.length === 0).toBe(true);
    const bad = await writeNb(dir, "b.ipynb", "// %%\nconst y = 1;\n// %%\ny\n");
    await expect(runNotebooks([bad], { outDir: dir + "/out" })).rejects.toThrow(
      /code cells \[0\] produced no output/,
    );
    await Deno.remove(dir, { recursive: true });
  });
});

describe("project notebooks", async () => {
  const paths = await listNotebooks(join(REPO_ROOT, "notebooks"));
  it("exist", () => {
    expect(paths.length).toBeGreaterThan(0);
  });
  for (const path of paths) {
    const name = path.split("/").pop()!;
    it(`${name} runs top to bottom with every expected output`, async () => {
      const dir = await Deno.makeTempDir({ prefix: "nbexec-" });
      const [s] = await runNotebooks([path], {
        outDir: dir,
        env: { ROUTING_CURVES: curvesPath() },
      });
      const nb = await readNotebook(join(dir, name));
      expect(cellErrors(nb)).toEqual([]);
      expect(codeCellsMissingOutput(nb)).toEqual([]);
      expect(s.ok).toBe(true);
      await Deno.remove(dir, { recursive: true });
    });
  }
});
