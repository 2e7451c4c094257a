/** Reading, writing and authoring .ipynb (nbformat 4) documents. */

export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: Record<string, unknown> & { tags?: string[] };
  outputs?: Record<string, unknown>[];
  execution_count?: number | null;
  id?: string;
}

export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** Tag for code cells that are expected to print nothing (imports, definitions). */
export const NO_OUTPUT_TAG = "no-output";

export const DENO_NOTEBOOK_METADATA = {
  kernelspec: { name: "deno", display_name: "Deno", language: "typescript" },
  language_info: {
    name: "typescript",
    file_extension: ".ts",
    mimetype: "text/x.typescript",
    codemirror_mode: "typescript",
    pygments_lexer: "typescript",
    nbconvert_exporter: "script",
  },
};

export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Parses .ipynb text; throws naming the file when it is not an nbformat 4 notebook. */
export function parseNotebook(text: string, path = "notebook"): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${(e as Error).message}); is it an .ipynb file?`);
  }
  if (!nb || !Array.isArray(nb.cells) || nb.nbformat !== 4) {
    throw new Error(`${path} is not an nbformat 4 notebook (needs "cells" and "nbformat": 4)`);
  }
  return nb;
}

export async function readNotebook(path: string): Promise<Notebook> {
  return parseNotebook(await Deno.readTextFile(path), path);
}

/** Code cells (by index) that ran, have source, are not tagged no-output, and have no output. */
export function codeCellsMissingOutput(nb: Notebook): number[] {
  const out: number[] = [];
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== "code" || !cellSource(c).trim()) return;
    if ((c.metadata?.tags ?? []).includes(NO_OUTPUT_TAG)) return;
    if (!c.outputs || c.outputs.length === 0) out.push(i);
  });
  return out;
}

/** Error outputs as "cell I: ename: evalue". */
export function cellErrors(nb: Notebook): string[] {
  const errs: string[] = [];
  nb.cells.forEach((c, i) => {
    for (const o of c.outputs ?? []) {
      if (o.output_type === "error") errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  });
  return errs;
}

/** A copy without outputs or execution counts (what gets committed). */
export function stripOutputs(nb: Notebook): Notebook {
  return {
    ...nb,
    cells: nb.cells.map((c) =>
      c.cell_type === "code" ? { ...c, outputs: [], execution_count: null } : { ...c }
    ),
  };
}

/** Source text split the way Jupyter stores it (lines keep their "\n"). */
function toLines(src: string): string[] {
  const lines = src.split("\n");
  return lines.map((l, i) => (i < lines.length - 1 ? l + "\n" : l)).filter((l) => l !== "");
}

/**
 * Builds a Deno notebook from "percent" text: `// %% [markdown]` starts a Markdown cell (its lines
 * lose a leading "// "), `// %%` a code cell; `// %% no-output` tags a code cell that prints nothing.
 */
export function fromPercent(text: string): Notebook {
  const cells: NotebookCell[] = [];
  let cur: { kind: "code" | "markdown"; tags: string[]; lines: string[] } | undefined;
  const flush = () => {
    if (!cur) return;
    let body = cur.lines.join("\n").replace(/^\n+|\s+$/g, "");
    if (cur.kind === "markdown") {
      body = body.split("\n").map((l) => l.replace(/^\/\/ ?/, "")).join("\n");
    }
    if (body) {
      cells.push(
        cur.kind === "code"
          ? {
            cell_type: "code",
            source: toLines(body),
            metadata: cur.tags.length ? { tags: cur.tags } : {},
            outputs: [],
            execution_count: null,
          }
          : { cell_type: "markdown", source: toLines(body), metadata: {} },
      );
    }
    cur = undefined;
  };
  for (const line of text.split("\n")) {
    const m = /^\/\/ %%(.*)$/.exec(line);
    if (m) {
      flush();
      const rest = m[1].trim();
      if (rest.startsWith("[markdown]")) cur = { kind: "markdown", tags: [], lines: [] };
      else cur = { kind: "code", tags: rest ? rest.split(/\s+/) : [], lines: [] };
    } else if (cur) {
      cur.lines.push(line);
    } else if (line.trim()) {
      throw new Error(`percent notebook text must start with a "// %%" marker, found: ${line}`);
    }
  }
  flush();
  cells.forEach((c, i) => (c.id = `c${String(i).padStart(3, "0")}`));
  return { cells, metadata: DENO_NOTEBOOK_METADATA, nbformat: 4, nbformat_minor: 5 };
}

/** JSON text as Jupyter writes it (1-space indent, trailing newline). */
export function serializeNotebook(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + "\n";
}
