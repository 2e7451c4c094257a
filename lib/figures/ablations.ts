/** The ablations: routing frequency and top-k routing against FLOP-matched dense models. */
import type pl from "nodejs-polars";
import type { PlotlyFigure } from "../export/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { groupBy, runRows, unique } from "./rows.ts";
import { axis, baseLayout, bottomLegend, COLORS, displayName, techniqueColor } from "./style.ts";

/** One panel per dense size in a row, a legend below: the ablation figures' layout. */
function sizePanels(title: string, sizes: string[]) {
  const layout = baseLayout({
    title: { text: title, x: 0.5 },
    width: 1000,
    height: 460,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const panels = grid(
    sizes.length,
    sizes.length,
    layout,
    sizes.map((s) => `${s} dense size`),
    0.08,
  );
  return { layout, panels };
}

const R_TICKS = [1 / 12, 1 / 8, 1 / 4, 1 / 2, 1];
const E_DASH: Record<number, string> = { 8: "solid", 64: "dash", 256: "dot" };
const E_SYMBOL: Record<number, string> = { 8: "circle", 64: "square", 256: "diamond" };

/**
 * Routing-frequency sweep: loss against R (fraction of routed blocks, log2 x) per size panel, one
 * line per technique x expert count (colour = technique, dash/symbol = E), dense as a dotted line.
 * `frame`: routingFrequencySweep(df, { includeDense: true }).
 */
export function routingFrequencyFigure(frame: pl.DataFrame): PlotlyFigure {
  const rows = runRows(frame, "routingFrequencyFigure", ["R"]);
  const sizes = [...groupBy([...rows].sort((a, b) => a.N - b.N), (r) => r.label).keys()];
  const { layout, panels } = sizePanels(
    "Routing frequency: loss against the fraction of routed blocks R",
    sizes,
  );
  const data: Trace[] = [];
  const seenLegend = new Set<string>();
  sizes.forEach((size, i) => {
    const p = panels[i];
    const sub = rows.filter((r) => r.label === size);
    for (const [key, g] of groupBy(sub.filter((r) => !r.dense), (r) => `${r.technique}|${r.E}`)) {
      const [t, E] = [g[0].technique, g[0].E];
      const byR = groupBy([...g].sort((a, b) => Number(a.R) - Number(b.R)), (r) => Number(r.R));
      const name = `${displayName(t)}, E=${E}`;
      data.push({
        type: "scatter",
        mode: "lines+markers",
        ...axesOf(p),
        x: [...byR.keys()],
        y: [...byR.values()].map((v) => v.reduce((s, r) => s + r.loss, 0) / v.length),
        line: { color: techniqueColor(t), dash: E_DASH[E] ?? "solid", width: 2 },
        marker: { color: techniqueColor(t), symbol: E_SYMBOL[E] ?? "circle", size: 8 },
        name,
        legendgroup: key,
        showlegend: !seenLegend.has(key),
        hovertemplate: `${size} ${name}, R=%{x:.3f}: %{y:.4f}<extra></extra>`,
      });
      seenLegend.add(key);
    }
    const dense = sub.filter((r) => r.dense);
    if (dense.length) {
      const L = dense[0].loss;
      data.push({
        type: "scatter",
        mode: "lines",
        ...axesOf(p),
        x: [1 / 14, 1.1],
        y: [L, L],
        line: { color: COLORS.Dense, dash: "dot", width: 1.5 },
        name: "Dense LM",
        legendgroup: "dense",
        showlegend: !seenLegend.has("dense"),
        hovertemplate: `${size} dense: %{y:.4f}<extra></extra>`,
      });
      seenLegend.add("dense");
    }
    layout[`xaxis${p.key}`] = axis({
      ...(layout[`xaxis${p.key}`] as object),
      type: "log",
      title: { text: "Routing Frequency R" },
      tickvals: R_TICKS,
      ticktext: ["1/12", "1/8", "1/4", "1/2", "1"],
      range: [Math.log10(1 / 14), Math.log10(1.15)],
    });
    setAxis(layout, `yaxis${p.key}`, {
      type: "log",
      title: { text: i === 0 ? "Validation Loss" : "" },
    });
  });
  return { data, layout };
}

/**
 * Top-k routing against FLOP-matched dense models: loss against forward FLOPs per step (log x),
 * per size panel; S-BASE lines connect k = 1, 2, 4 at each E (symbol = E, points labelled k), dense
 * models with a 1x, 2x, 4x wider FFN in black. `frame`: topKSweep(df).
 */
export function topKFigure(frame: pl.DataFrame): PlotlyFigure {
  const rows = runRows(frame, "topKFigure", ["k", "F", "flop_increase"]);
  const sizes = unique(
    [...rows].sort((a, b) => a.N - b.N).filter((r) => !r.dense).map((r) => r.label),
  );
  const { layout, panels } = sizePanels("Top-k routing against FLOP-matched dense models", sizes);
  const data: Trace[] = [];
  const seen = new Set<string>();
  sizes.forEach((size, i) => {
    const p = panels[i];
    const sub = rows.filter((r) => r.label === size);
    for (const [key, g] of groupBy(sub.filter((r) => !r.dense), (r) => `${r.technique}|${r.E}`)) {
      const s = [...g].sort((a, b) => Number(a.k) - Number(b.k));
      const name = `${displayName(s[0].technique)}, E=${s[0].E}`;
      data.push({
        type: "scatter",
        mode: "lines+markers+text",
        ...axesOf(p),
        x: s.map((r) => Number(r.F)),
        y: s.map((r) => r.loss),
        text: s.map((r) => `k=${r.k}`),
        textposition: "top right",
        textfont: { size: 10, color: "#444" },
        line: { color: techniqueColor(s[0].technique), dash: E_DASH[s[0].E] ?? "solid" },
        marker: {
          color: techniqueColor(s[0].technique),
          symbol: E_SYMBOL[s[0].E] ?? "circle",
          size: 9,
        },
        name,
        legendgroup: key,
        showlegend: !seen.has(key),
        hovertemplate: `${size} ${name} %{text}: F=%{x:.3s}, %{y:.4f}<extra></extra>`,
      });
      seen.add(key);
    }
    const dense = unique(sub.filter((r) => r.dense).map((r) => Number(r.flop_increase)))
      .map((fi) => sub.find((r) => r.dense && Number(r.flop_increase) === fi)!)
      .sort((a, b) => Number(a.F) - Number(b.F));
    if (dense.length) {
      data.push({
        type: "scatter",
        mode: "lines+markers+text",
        ...axesOf(p),
        x: dense.map((r) => Number(r.F)),
        y: dense.map((r) => r.loss),
        text: dense.map((r) => `${r.flop_increase}x`),
        textposition: "bottom left",
        textfont: { size: 10 },
        line: { color: COLORS.Dense },
        marker: { color: COLORS.Dense, size: 8 },
        name: "Dense LM, FFN x1/x2/x4 (FLOP-matched)",
        legendgroup: "dense",
        showlegend: !seen.has("dense"),
        hovertemplate: `${size} dense %{text}: F=%{x:.3s}, %{y:.4f}<extra></extra>`,
      });
      seen.add("dense");
    }
    setAxis(layout, `xaxis${p.key}`, {
      type: "log",
      title: { text: "Forward FLOPs per step" },
      exponentformat: "SI",
    });
    setAxis(layout, `yaxis${p.key}`, {
      type: "log",
      title: { text: i === 0 ? "Validation Loss" : "" },
    });
  });
  return { data, layout };
}
