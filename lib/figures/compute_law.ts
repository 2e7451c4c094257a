/** The generalised law in compute F and parameter utilisation B. */
import type { ComputeLawData } from "../analysis/mod.ts";
import type { PlotlyFigure } from "../export/mod.ts";
import { generalisedLaw } from "../laws/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { groupBy, unique } from "./rows.ts";
import {
  baseLayout,
  bottomLegend,
  COLORS,
  displayName,
  formatCount,
  logGrid,
  techniqueColor,
} from "./style.ts";

const SWEEP_SYMBOL = {
  dense: "circle",
  main: "circle",
  "routing frequency": "square",
  "top-k": "diamond",
};

/**
 * The generalised law in (F, Bhat): (a) observed against predicted loss for every run (colour =
 * technique, symbol = sweep), (b) loss against B = P / F_eq for each technique's runs with the law's
 * curves at the dense sizes' F (one line per size, first technique's fit).
 */
export function computeLawFigure(fits: ComputeLawData[]): PlotlyFigure {
  const layout = baseLayout({
    title: { text: "Generalised law in compute F and parameter utilisation B", x: 0.5 },
    width: 1050,
    height: 480,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const [pa, pb] = grid(2, 2, layout, [
    "observed against predicted",
    "loss against B = P / F (k = 1 runs and dense)",
  ], 0.09);
  const data: Trace[] = [];
  let lo = Infinity, hi = 0;
  const seen = new Set<string>();
  for (const f of fits) {
    for (const [sweep, g] of groupBy(f.points, (p) => p.sweep)) {
      const isDense = sweep === "dense";
      const key = isDense ? "dense" : `${f.technique}|${sweep}`;
      if (isDense && seen.has("dense")) continue;
      g.forEach((p) => {
        lo = Math.min(lo, p.loss, p.predicted);
        hi = Math.max(hi, p.loss, p.predicted);
      });
      const color = isDense ? COLORS.Dense : techniqueColor(f.technique);
      const name = isDense ? "Dense LM" : `${displayName(f.technique)}, ${sweep}`;
      data.push({
        type: "scatter",
        mode: "markers",
        ...axesOf(pa),
        x: g.map((p) => p.predicted),
        y: g.map((p) => p.loss),
        text: g.map((p) => p.label),
        marker: { color, symbol: SWEEP_SYMBOL[sweep], size: 7, opacity: 0.85 },
        name,
        legendgroup: key,
        showlegend: !seen.has(key),
        hovertemplate: `${name} %{text}: predicted %{x:.4f}, observed %{y:.4f}<extra></extra>`,
      });
      seen.add(key);
      const k1 = g.filter((p) =>
        !p.label.includes(" k=2") && !p.label.includes(" k=4") && !p.label.includes("FLOPs")
      );
      data.push({
        type: "scatter",
        mode: "markers",
        ...axesOf(pb),
        x: k1.map((p) => p.B),
        y: k1.map((p) => p.loss),
        text: k1.map((p) => p.label),
        marker: { color, symbol: SWEEP_SYMBOL[sweep], size: 7, opacity: 0.85 },
        name,
        legendgroup: key,
        showlegend: false,
        hovertemplate: `${name} %{text}: B=%{x:.3g}, %{y:.4f}<extra></extra>`,
      });
    }
  }
  data.push({
    type: "scatter",
    mode: "lines",
    ...axesOf(pa),
    x: [lo, hi],
    y: [lo, hi],
    line: { color: "#888", dash: "dot" },
    name: "y = x",
    showlegend: false,
    hoverinfo: "skip",
  });
  if (fits.length) {
    const f0 = fits[0];
    const denseF = unique(
      f0.points.filter((p) => p.sweep === "dense" && !p.label.includes("FLOPs")).map((p) => p.F),
    )
      .sort((a, b) => a - b);
    const Bs = logGrid(1, Math.max(...f0.points.map((p) => p.B)) * 1.2, 50);
    denseF.forEach((F, i) => {
      data.push({
        type: "scatter",
        mode: "lines",
        ...axesOf(pb),
        x: Bs,
        y: Bs.map((B) => Math.pow(10, generalisedLaw.predictLog10(f0.fit.params, { F, B }))),
        line: { color: techniqueColor(f0.technique), dash: "dash", width: 1.5 },
        name: `law (${displayName(f0.technique)} fit) at fixed F`,
        legendgroup: "lawline",
        showlegend: i === 0,
        hovertemplate: `F_eq=${formatCount(F)}: %{y:.4f}<extra></extra>`,
      });
    });
  }
  setAxis(layout, "xaxis", { type: "log", title: { text: "predicted loss" } });
  setAxis(layout, "yaxis", { type: "log", title: { text: "Validation Loss" } });
  setAxis(layout, "xaxis2", {
    type: "log",
    title: { text: "Parameter utilisation B = P / F (dense = 1)" },
  });
  setAxis(layout, "yaxis2", { type: "log", title: { text: "" } });
  return { data, layout };
}
