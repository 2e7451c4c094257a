/**
 * Type-checking notebooks: each notebook's code cells, in order, as one TypeScript module, checked
 * by `deno check` against the repository's deno.json. A notebook cell is top-level module code on
 * Deno's kernel, so the module sees what the kernel sees (top-level await, imports by path).
 */
import { join } from "node:path";
import { cellSource, type Notebook } from "./ipynb.ts";

/**
 * The notebook's code cells as one module. Relative imports ("../lib/...") are rewritten to
 * absolute file URLs under `repoRoot`, so the module can be checked from any folder; each cell
 * is marked by a comment naming its index, which `deno check` errors then point at.
 */
export function notebookModule(nb: Notebook, repoRoot: string): string {
  const parts = nb.cells.map((c, i) => ({ c, i })).filter(({ c }) => c.cell_type === "code")
    .map(({ c, i }) =>
      `// --- cell ${i} ---\n` +
      cellSource(c).replaceAll(/(from\s+["'])\.\.\//g, `$1file://${repoRoot}/`)
    );
  return `${parts.join("\n")}\nexport {};\n`;
}

/** Runs `deno check` on every notebook's module; returns the errors per notebook (none: {}). */
export async function typecheckNotebooks(
  paths: string[],
  repoRoot: string,
  read: (path: string) => Promise<Notebook>,
): Promise<Record<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "nb-check-" });
  try {
    const files: Record<string, string> = {};
    for (const p of paths) {
      const file = join(dir, p.split("/").pop()!.replace(/\.ipynb$/, ".ts"));
      await Deno.writeTextFile(file, notebookModule(await read(p), repoRoot));
      files[file] = p;
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", join(repoRoot, "deno.json"), ...Object.keys(files)],
      cwd: repoRoot,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.success) return {};
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    // deno check stops at the first failing graph; attribute its errors to notebooks by file.
    const errors: Record<string, string> = {};
    for (const [file, nbPath] of Object.entries(files)) {
      if (text.includes(file)) errors[nbPath] = text.split(file).length - 1 + " error location(s)";
    }
    if (Object.keys(errors).length === 0) errors["(deno check)"] = text.slice(0, 2000);
    else errors["(deno check output)"] = text.slice(0, 4000);
    return errors;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
