/**
 * Shared look of the figures: the paper's colour-blind-safe palette (Okabe-Ito / Wong), fonts,
 * boxed axes with light grids, log2 expert-count ticks and model-size labels.
 */
import { formatCount } from "../util/format.ts";

/** Okabe-Ito colours: S-BASE blue, RL-R green, HASH orange, dense black; extras for our own runs. */
export const COLORS: Record<string, string> = {
  "S-Base": "#0072B2",
  "RL-R": "#009E73",
  "Hash": "#E69F00",
  "Dense": "#000000",
};
const EXTRA = ["#CC79A7", "#D55E00", "#56B4E9", "#F0E442"];

/** The paper's names in legends. */
export const DISPLAY_NAMES: Record<string, string> = {
  "S-Base": "S-BASE",
  "RL-R": "RL-R",
  "Hash": "Hash",
  "Dense": "Dense LM",
};

/** Colour of a technique; unknown names (our own routers) get the remaining Okabe-Ito colours. */
export function techniqueColor(t: string): string {
  if (COLORS[t]) return COLORS[t];
  let h = 0;
  for (const ch of t) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return EXTRA[h % EXTRA.length];
}

export function displayName(t: string): string {
  return DISPLAY_NAMES[t] ?? t;
}

export const FONT = {
  family: "Arial, 'DejaVu Sans', 'Liberation Sans', sans-serif",
  size: 13,
  color: "#222",
};

/** Boxed axis with a light grid (matplotlib/seaborn-like, as in the paper). */
export function axis(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    showline: true,
    mirror: true,
    linecolor: "#222",
    linewidth: 1,
    gridcolor: "#dddddd",
    zeroline: false,
    ticks: "outside",
    ticklen: 4,
    automargin: true,
    ...extra,
  };
}

/** Log axis whose ticks are powers of two from `lo` to `hi` (expert counts 1...512). */
export function log2Axis(lo: number, hi: number, extra: Record<string, unknown> = {}) {
  const vals: number[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 2) vals.push(v);
  return axis({
    type: "log",
    tickvals: vals,
    ticktext: vals.map((v) => String(v)),
    range: [Math.log10(lo) - 0.08, Math.log10(hi) + 0.08],
    ...extra,
  });
}

/** "15M", "1.3B", "870M"-style labels for parameter counts. */
export { formatCount };

/** Ticks for a log axis of parameter counts, labelled 5M, 25M, 1.3B... */
export function countTicks(values: number[]): { tickvals: number[]; ticktext: string[] } {
  return { tickvals: values, ticktext: values.map(formatCount) };
}

/** Base layout: white, fonts, legend on top. */
export function baseLayout(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    template: "none",
    font: FONT,
    paper_bgcolor: "white",
    plot_bgcolor: "white",
    margin: { l: 70, r: 20, t: 90, b: 60 },
    legend: { orientation: "h", x: 0.5, xanchor: "center", y: 1.02, yanchor: "bottom" },
    hovermode: "closest",
    ...extra,
  };
}

/** A title in the paper's style: bold panel letter, then text. */
export function panelTitle(letter: string | undefined, text: string): Record<string, unknown> {
  return {
    text: letter ? `<b>${letter})</b> ${text}` : text,
    x: 0.5,
    xanchor: "center",
    y: 0.98,
    yanchor: "top",
  };
}

/** Log-spaced grid of `n` points from lo to hi inclusive. */
export function logGrid(lo: number, hi: number, n: number): number[] {
  const a = Math.log10(lo), b = Math.log10(hi);
  return Array.from({ length: n }, (_, i) => Math.pow(10, a + (b - a) * (i / (n - 1))));
}

/** Validation-loss axis (log, ticks every 0.2 nats as in the paper). */
export function lossAxis(lo: number, hi: number, extra: Record<string, unknown> = {}) {
  const vals: number[] = [];
  for (let v = Math.ceil(lo * 5) / 5; v <= hi + 1e-9; v += 0.2) vals.push(+v.toFixed(1));
  return axis({
    type: "log",
    tickvals: vals,
    ticktext: vals.map((v) => v.toFixed(1)),
    range: [Math.log10(lo), Math.log10(hi)],
    title: { text: "Validation Loss" },
    ...extra,
  });
}

/** Legend inside the plot area, at a corner. */
export function insideLegend(corner: "tr" | "tl" | "br" | "bl" = "tr"): Record<string, unknown> {
  return {
    orientation: "v",
    x: corner.endsWith("r") ? 0.98 : 0.02,
    xanchor: corner.endsWith("r") ? "right" : "left",
    y: corner.startsWith("t") ? 0.98 : 0.02,
    yanchor: corner.startsWith("t") ? "top" : "bottom",
    bgcolor: "rgba(255,255,255,0.85)",
    bordercolor: "#bbb",
    borderwidth: 1,
  };
}

/** Horizontal legend under the plot area (for multi-panel figures, whose panel titles sit on top). */
export function bottomLegend(): Record<string, unknown> {
  return { orientation: "h", x: 0.5, xanchor: "center", y: -0.24, yanchor: "top" };
}
