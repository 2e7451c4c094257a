/**
 * Showing results in the Deno Jupyter kernel. A figure goes out as one MIME bundle: the plotly JSON
 * (`application/vnd.plotly.v1+json`, interactive in JupyterLab/VS Code) plus a static PNG and/or SVG
 * drawn by lib/export's headless Chromium, so it stays visible where plotly does not render
 * (GitHub, nbconvert HTML). Tables are Polars frames shown as HTML. Outside a kernel every show*
 * function prints the text/plain part instead. A training run's live progress: liveProgress
 * (live.ts, plain SVG, no browser); raw bundles: kernel.ts.
 */
import type pl from "nodejs-polars";
import { assertFigure, imageSize, type PlotlyFigure, sharedRenderer } from "../export/mod.ts";
import { displayBundle, type MimeBundle } from "./kernel.ts";

export { displayBundle, inKernel, type MimeBundle } from "./kernel.ts";
export { type LiveOptions, liveProgress, lossChartSvg } from "./live.ts";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

export type StaticFormat = "png" | "svg" | "both" | "none";

export interface FigureDisplayOptions {
  /** Static fallback beside the plotly JSON (default "png"). */
  static?: StaticFormat;
  width?: number;
  height?: number;
  /** PNG pixel density (default 1: the image shows at the figure's size; 2 is sharper but twice as wide). */
  scale?: number;
}

function figureTitle(fig: PlotlyFigure): string {
  const t = fig.layout.title;
  const text = typeof t === "string" ? t : (t as { text?: string } | undefined)?.text;
  return (text ?? "untitled").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
}

/** The MIME bundle for a figure: plotly JSON + static image(s) + a one-line text/plain. */
export async function figureBundle(
  fig: PlotlyFigure,
  opts: FigureDisplayOptions = {},
): Promise<MimeBundle> {
  assertFigure(fig);
  const size = imageSize(fig, { ...opts, scale: opts.scale ?? 1 });
  const layout = { ...fig.layout, width: size.width, height: size.height };
  const bundle: MimeBundle = {
    [PLOTLY_MIME]: { data: fig.data, layout, config: fig.config ?? {} },
    "text/plain": `Figure: ${figureTitle(fig)} (${fig.data.length} traces)`,
  };
  const kind = opts.static ?? "png";
  if (kind !== "none") {
    const r = await sharedRenderer();
    if (kind === "png" || kind === "both") {
      const png = await r.toPng(fig, size);
      bundle["image/png"] = toBase64(png);
    }
    if (kind === "svg" || kind === "both") bundle["image/svg+xml"] = await r.toSvg(fig, size);
  }
  return bundle;
}

/** Shows a figure in the notebook (interactive plotly + static fallback). */
export async function showFigure(
  fig: PlotlyFigure,
  opts: FigureDisplayOptions = {},
): Promise<void> {
  await displayBundle(await figureBundle(fig, opts));
}

export interface TableOptions {
  /** Rows shown at most (default 50). */
  maxRows?: number;
  /** Caption shown above the table. */
  caption?: string;
}

/** HTML + text bundle of a Polars frame (first maxRows rows). */
export function tableBundle(df: pl.DataFrame, opts: TableOptions = {}): MimeBundle {
  const rows = opts.maxRows ?? 50;
  const shown = df.height > rows ? df.head(rows) : df;
  const more = df.height > rows ? `<p><i>${df.height - rows} more rows not shown</i></p>` : "";
  const caption = opts.caption ? `<p><b>${escapeHtml(opts.caption)}</b></p>` : "";
  return {
    "text/html": caption + shown.toHTML() + more,
    "text/plain": (opts.caption ? opts.caption + "\n" : "") + shown.toString(),
  };
}

/** Shows a Polars frame as a table (with an optional caption). */
export async function showTable(df: pl.DataFrame, opts: TableOptions = {}): Promise<void> {
  await displayBundle(tableBundle(df, opts));
}

/** Shows Markdown text (rendered in the notebook, printed elsewhere). */
export async function showMarkdown(text: string): Promise<void> {
  await displayBundle({ "text/markdown": text, "text/plain": text });
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(s);
}
