import { join } from "node:path";
import { assertFigure, type ImageSize, type PlotlyFigure } from "./figure.ts";
import { standaloneHtml } from "./html.ts";
import { FigureRenderer } from "./renderer.ts";

export type ExportFormat = "html" | "svg" | "png";

export interface ExportOptions extends Partial<ImageSize> {
  formats?: ExportFormat[];
  /** Reuse this renderer instead of launching (and closing) one. */
  renderer?: FigureRenderer;
  onFigure?: (name: string, seconds: number) => void;
}

export interface ExportedFigure {
  name: string;
  files: string[];
  seconds: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Writes each figure as OUTDIR/NAME.html (standalone, offline), NAME.svg and NAME.png, drawing all
 * static images in one browser page. Files are written as each figure finishes, so a failure keeps
 * the figures already done.
 */
export async function exportFigures(
  figures: Record<string, PlotlyFigure>,
  outDir: string,
  opts: ExportOptions = {},
): Promise<ExportedFigure[]> {
  const formats = opts.formats ?? ["html", "svg", "png"];
  for (const f of formats) {
    if (!["html", "svg", "png"].includes(f)) {
      throw new Error(`unknown export format ${JSON.stringify(f)}: use html, svg or png`);
    }
  }
  for (const [name, fig] of Object.entries(figures)) {
    if (!NAME.test(name)) {
      throw new Error(
        `figure name ${JSON.stringify(name)} is not a safe file name: use [A-Za-z0-9_.-]`,
      );
    }
    assertFigure(fig, `figure ${name}`);
  }
  await Deno.mkdir(outDir, { recursive: true });
  const needsBrowser = formats.includes("svg") || formats.includes("png");
  const renderer = needsBrowser ? (opts.renderer ?? await FigureRenderer.launch()) : undefined;
  const done: ExportedFigure[] = [];
  try {
    for (const [name, fig] of Object.entries(figures)) {
      const t0 = performance.now();
      const files: string[] = [];
      const size = { width: opts.width, height: opts.height, scale: opts.scale };
      if (formats.includes("html")) {
        const p = join(outDir, `${name}.html`);
        await Deno.writeTextFile(p, standaloneHtml(fig));
        files.push(p);
      }
      if (formats.includes("svg")) {
        const p = join(outDir, `${name}.svg`);
        await Deno.writeTextFile(p, await renderer!.toSvg(fig, size));
        files.push(p);
      }
      if (formats.includes("png")) {
        const p = join(outDir, `${name}.png`);
        await Deno.writeFile(p, await renderer!.toPng(fig, size));
        files.push(p);
      }
      const seconds = (performance.now() - t0) / 1000;
      opts.onFigure?.(name, seconds);
      done.push({ name, files, seconds });
    }
  } finally {
    if (renderer && !opts.renderer) await renderer.close();
  }
  return done;
}
