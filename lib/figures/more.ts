/** The other figures: slopes, residuals, technique comparison, ablations, compute law, training. */
import type pl from "nodejs-polars";
import type { PlotlyFigure } from "../export/mod.ts";
import { generalisedLaw, nCutoff, PAPER_N_CUTOFF } from "../laws/mod.ts";
import type {
  ComparisonRow,
  ComputeLawData,
  ResidualRow,
  SlopeData,
  TrainingFitRow,
} from "./analysis.ts";
import { groupBy, runRows, unique } from "./rows.ts";
import {
  axis,
  baseLayout,
  bottomLegend,
  COLORS,
  countTicks,
  displayName,
  formatCount,
  log2Axis,
  logGrid,
  panelTitle,
  techniqueColor,
} from "./style.ts";

type Trace = Record<string, unknown>;

/** Side-by-side panels: domains for n columns (and rows), axis names x, x2, ... */
function grid(
  n: number,
  cols: number,
  layout: Record<string, unknown>,
  titles: string[],
  gap = 0.07,
  vgap = 0.14,
): { xaxis: string; yaxis: string; key: string }[] {
  const rows = Math.ceil(n / cols);
  const w = (1 - gap * (cols - 1)) / cols, h = (1 - vgap * (rows - 1)) / rows;
  const annotations = (layout.annotations as Trace[] | undefined) ?? [];
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = i % cols, r = Math.floor(i / cols);
    const key = i === 0 ? "" : String(i + 1);
    const x0 = c * (w + gap), y1 = 1 - r * (h + vgap);
    layout[`xaxis${key}`] = { domain: [x0, x0 + w], anchor: `y${key}` };
    layout[`yaxis${key}`] = { domain: [y1 - h, y1], anchor: `x${key}` };
    annotations.push({
      text: `<b>${titles[i]}</b>`,
      x: x0 + w / 2,
      y: y1,
      xref: "paper",
      yref: "paper",
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      yshift: 4,
    });
    out.push({ xaxis: `x${key}`, yaxis: `y${key}`, key });
  }
  layout.annotations = annotations;
  return out;
}

function setAxis(layout: Record<string, unknown>, name: string, extra: Record<string, unknown>) {
  layout[name] = axis({ ...(layout[name] as object), ...extra });
}

/**
 * Fitted slopes: (a) b(N), the slope of log L in log E at each dense size (per-size power laws,
 * dots) and the bilinear law's b + c log N (line); (b) a(E), the slope in log N at each expert
 * count (dots) and a + c log E (line). One colour per technique; traces per technique:
 * [b dots, b line, a dots, a line].
 */
export function slopesFigure(slopes: SlopeData[]): PlotlyFigure {
  const layout = baseLayout({
    title: { text: "Power-law slopes and the bilinear prediction", x: 0.5 },
    width: 1000,
    height: 480,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const [pb, pa] = grid(2, 2, layout, [
    "b(N): slope in log E at fixed N",
    "a(E): slope in log N at fixed E",
  ], 0.1);
  const data: Trace[] = [];
  let nMin = Infinity, nMax = 0;
  for (const s of slopes) {
    s.perN.forEach((p) => {
      nMin = Math.min(nMin, p.N);
      nMax = Math.max(nMax, p.N);
    });
  }
  const Ns = logGrid(nMin / 1.3, nMax * 1.3, 40), Es = logGrid(1, 512, 40);
  for (const s of slopes) {
    const col = techniqueColor(s.technique), name = displayName(s.technique);
    const { a, b, c } = s.bilinear;
    data.push(
      {
        type: "scatter",
        mode: "markers",
        ...axesOf(pb),
        x: s.perN.map((p) => p.N),
        y: s.perN.map((p) => p.slope),
        marker: { color: col, size: 9, line: { color: "#222", width: 1 } },
        name,
        legendgroup: s.technique,
        text: s.perN.map((p) => p.label),
        hovertemplate: `${name} %{text}: b=%{y:.4f}<extra></extra>`,
      },
      {
        type: "scatter",
        mode: "lines",
        ...axesOf(pb),
        x: Ns,
        y: Ns.map((N) => b + c * Math.log10(N)),
        line: { color: col, dash: "dash" },
        name: `${name} bilinear`,
        legendgroup: s.technique,
        showlegend: false,
        hoverinfo: "skip",
      },
      {
        type: "scatter",
        mode: "markers",
        ...axesOf(pa),
        x: s.perE.map((p) => p.E),
        y: s.perE.map((p) => p.slope),
        marker: { color: col, size: 9, line: { color: "#222", width: 1 } },
        name,
        legendgroup: s.technique,
        showlegend: false,
        hovertemplate: `${name} E=%{x}: a=%{y:.4f}<extra></extra>`,
      },
      {
        type: "scatter",
        mode: "lines",
        ...axesOf(pa),
        x: Es,
        y: Es.map((E) => a + c * Math.log10(E)),
        line: { color: col, dash: "dash" },
        name: `${name} bilinear`,
        legendgroup: s.technique,
        showlegend: false,
        hoverinfo: "skip",
      },
    );
  }
  const sizes = slopes[0]?.perN ?? [];
  setAxis(layout, "xaxis", {
    type: "log",
    title: { text: "Dense Model Size N" },
    ...countTicks(sizes.map((p) => p.N)),
  });
  layout.xaxis = { ...(layout.xaxis as object), ticktext: sizes.map((p) => p.label) };
  setAxis(layout, "yaxis", { title: { text: "b(N)" } });
  layout.xaxis2 = log2Axis(1, 512, {
    ...(layout.xaxis2 as object),
    title: { text: "Expert Count E" },
  });
  setAxis(layout, "yaxis2", { title: { text: "a(E)" } });
  return { data, layout };
}

function axesOf(p: { xaxis: string; yaxis: string }) {
  return { xaxis: p.xaxis, yaxis: p.yaxis };
}

/**
 * Residuals (observed / predicted - 1, in %) of every law variant, one box per law and technique
 * (all runs shown as points). One trace per technique.
 */
export function residualsFigure(rows: ResidualRow[]): PlotlyFigure {
  const laws = unique(rows.map((r) => r.law));
  const data: Trace[] = [];
  for (const [t, g] of groupBy(rows, (r) => r.technique)) {
    data.push({
      type: "box",
      x: g.map((r) => r.law),
      y: g.map((r) => r.residual_pct),
      name: displayName(t),
      marker: { color: techniqueColor(t), size: 4 },
      line: { color: techniqueColor(t), width: 1.5 },
      boxpoints: "all",
      jitter: 0.5,
      pointpos: 0,
      text: g.map((r) => `${r.label} E=${r.E}`),
      hovertemplate: `${displayName(t)} %{text}: %{y:.2f}%<extra></extra>`,
    });
  }
  return {
    data,
    layout: baseLayout({
      title: panelTitle(undefined, "Residuals of every law variant (observed / predicted - 1)"),
      boxmode: "group",
      xaxis: axis({ type: "category", categoryarray: laws, title: { text: "law" } }),
      yaxis: axis({ title: { text: "residual (%)" }, zeroline: true, zerolinecolor: "#888" }),
      width: 900,
      height: 460,
    }),
  };
}

/**
 * Technique comparison: N_cutoff, E_max and the slope b per technique, our refit with bootstrap
 * interval bars (filled) beside Table 3 of the paper (hollow diamonds; N_cutoff recomputed from
 * its rounded coefficients) and, for N_cutoff, the values printed in the paper's text (crosses).
 * Traces: per panel "ours", "Table 3"; the N_cutoff panel adds "paper text".
 */
export function comparisonFigure(rows: ComparisonRow[]): PlotlyFigure {
  const layout = baseLayout({
    title: {
      text: "Comparing the techniques: Eq. (1) refit (95% bootstrap intervals) vs Table 3",
      x: 0.5,
    },
    width: 1050,
    height: 430,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const qs = [
    {
      key: "N_cutoff",
      title: "N<sub>cutoff</sub> = 10<sup>-b/c</sup>",
      log: true,
      paper: (p: ComparisonRow) => p.paper && nCutoff(p.paper),
      ours: (r: ComparisonRow) => r.N_cutoff,
    },
    {
      key: "E_max",
      title: "E<sub>max</sub>",
      log: true,
      paper: (p: ComparisonRow) => p.paper?.E_max,
      ours: (r: ComparisonRow) => r.fit.E_max,
    },
    {
      key: "b",
      title: "b (slope in log Ê at N = 1)",
      log: false,
      paper: (p: ComparisonRow) => p.paper?.b,
      ours: (r: ComparisonRow) => r.fit.b,
    },
  ];
  const panels = grid(qs.length, qs.length, layout, qs.map((q) => q.title), 0.09);
  const data: Trace[] = [];
  qs.forEach((q, i) => {
    const p = panels[i];
    const x = rows.map((r) => displayName(r.technique));
    const ours = rows.map(q.ours);
    const iv = rows.map((r) => r.intervals[q.key] ?? [NaN, NaN]);
    data.push({
      type: "scatter",
      mode: "markers",
      ...axesOf(p),
      x,
      y: ours,
      error_y: {
        type: "data",
        symmetric: false,
        array: iv.map((v, j) => v[1] - ours[j]),
        arrayminus: iv.map((v, j) => ours[j] - v[0]),
        color: "#444",
        thickness: 1.5,
        width: 6,
      },
      marker: {
        color: rows.map((r) => techniqueColor(r.technique)),
        size: 12,
        line: { color: "#222", width: 1 },
      },
      name: "our refit (95% interval)",
      legendgroup: "ours",
      showlegend: i === 0,
      hovertemplate: `%{x}: %{y:.4g}<extra>ours</extra>`,
    });
    data.push({
      type: "scatter",
      mode: "markers",
      ...axesOf(p),
      x,
      y: rows.map(q.paper),
      marker: { symbol: "diamond-open", color: "#222", size: 12, line: { width: 2 } },
      name: "Table 3 (paper)",
      legendgroup: "paper",
      showlegend: i === 0,
      hovertemplate: `%{x}: %{y:.4g}<extra>Table 3</extra>`,
    });
    if (q.key === "N_cutoff") {
      const printed = rows.map((r) => PAPER_N_CUTOFF[r.technique] ?? null);
      data.push({
        type: "scatter",
        mode: "markers",
        ...axesOf(p),
        x,
        y: printed,
        marker: { symbol: "x-thin-open", color: "#D55E00", size: 12, line: { width: 2.5 } },
        name: "N_cutoff printed in the paper's text",
        hovertemplate: `%{x}: %{y:.4g}<extra>paper text</extra>`,
      });
    }
    setAxis(layout, `xaxis${p.key}`, { type: "category" });
    setAxis(layout, `yaxis${p.key}`, q.log ? { type: "log", exponentformat: "SI", dtick: 1 } : {});
  });
  return { data, layout };
}

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

/**
 * Eq. (1) refitted at every training step: (a) E_max, (b) N_cutoff, (c) fit RMSE, against tokens
 * seen; one line per technique.
 */
export function lawsOverTrainingFigure(rows: TrainingFitRow[]): PlotlyFigure {
  const layout = baseLayout({
    title: { text: "Eq. (1) refitted at every evaluation step", x: 0.5 },
    width: 1100,
    height: 430,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const qs: { key: keyof TrainingFitRow; title: string; log: boolean }[] = [
    { key: "E_max", title: "E<sub>max</sub>", log: true },
    { key: "N_cutoff", title: "N<sub>cutoff</sub>", log: true },
    { key: "rmse_loss", title: "fit RMSE (nats)", log: false },
  ];
  const panels = grid(3, 3, layout, qs.map((q) => q.title), 0.08);
  const data: Trace[] = [];
  for (const [t, g] of groupBy(rows, (r) => r.technique)) {
    qs.forEach((q, i) => {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        ...axesOf(panels[i]),
        x: g.map((r) => r.tokens),
        y: g.map((r) => r[q.key] as number),
        line: { color: techniqueColor(t) },
        marker: { color: techniqueColor(t), size: 5 },
        name: displayName(t),
        legendgroup: t,
        showlegend: i === 0,
        hovertemplate: `${displayName(t)} step %{customdata}: %{y:.4g}<extra></extra>`,
        customdata: g.map((r) => r.step),
      });
    });
  }
  panels.forEach((p, i) => {
    setAxis(layout, `xaxis${p.key}`, {
      type: "log",
      title: { text: "Training tokens" },
      exponentformat: "SI",
      dtick: 1,
    });
    setAxis(
      layout,
      `yaxis${p.key}`,
      qs[i].log
        ? { type: "log", exponentformat: "SI", ...(qs[i].key === "N_cutoff" ? { dtick: 1 } : {}) }
        : {},
    );
  });
  return { data, layout };
}

/** The release's evaluation sets (loss columns) with readable names. */
export const EVAL_SETS: Record<string, string> = {
  loss_validation: "Validation (training distribution)",
  loss_c4: "C4",
  loss_curation_corpus: "Curation Corpus",
  loss_lambada: "LAMBADA",
  loss_pile: "The Pile (EuroParl)",
  loss_wikitext103: "WikiText-103",
};

/**
 * Downstream evaluation sets: loss against expert count on each set (one panel per set) for one
 * technique, one line per dense size (dense run at E = 1). `frame`: a main-sweep view.
 */
export function downstreamFigure(
  frame: pl.DataFrame,
  opts: { technique?: string } = {},
): PlotlyFigure {
  const technique = opts.technique ?? "S-Base";
  const sets = Object.keys(EVAL_SETS).filter((c) => frame.columns.includes(c));
  const rows = runRows(frame, "downstreamFigure", sets).filter((r) => r.technique === technique);
  if (!rows.length) throw new Error(`downstreamFigure: no rows for technique ${technique}`);
  const layout = baseLayout({
    title: {
      text: `Loss on the evaluation sets against expert count (${displayName(technique)})`,
      x: 0.5,
    },
    width: 1100,
    height: 720,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const panels = grid(sets.length, 3, layout, sets.map((s) => EVAL_SETS[s]), 0.07, 0.16);
  const data: Trace[] = [];
  const bySize = groupBy([...rows].sort((a, b) => a.N - b.N), (r) => r.label);
  const n = bySize.size;
  sets.forEach((col, i) => {
    let j = 0;
    for (const [label, g] of bySize) {
      const pts = g.filter((r) => r[col] !== null && r[col] !== undefined).sort((a, b) =>
        a.E - b.E
      );
      const shade = 0.35 + 0.65 * (j / Math.max(1, n - 1));
      data.push({
        type: "scatter",
        mode: "lines+markers",
        ...axesOf(panels[i]),
        x: pts.map((r) => r.E),
        y: pts.map((r) => Number(r[col])),
        line: { color: techniqueColor(technique), width: 1.5 },
        opacity: shade,
        marker: {
          color: pts.map((r) => (r.dense ? COLORS.Dense : techniqueColor(technique))),
          size: 6,
        },
        name: label,
        legendgroup: label,
        showlegend: i === 0,
        hovertemplate: `${label} E=%{x}: %{y:.4f}<extra>${EVAL_SETS[col]}</extra>`,
      });
      j++;
    }
    layout[`xaxis${panels[i].key}`] = log2Axis(1, 512, {
      ...(layout[`xaxis${panels[i].key}`] as object),
      tickvals: [1, 4, 16, 64, 256],
      ticktext: ["1", "4", "16", "64", "256"],
      title: { text: i >= sets.length - 3 ? "Expert Count" : "" },
    });
    setAxis(layout, `yaxis${panels[i].key}`, {
      type: "log",
      title: { text: i % 3 === 0 ? "Loss" : "" },
    });
  });
  return { data, layout };
}

/**
 * Training curves: validation loss against tokens, one panel per dense size, one line per expert
 * count in `experts` (E = 1 = dense in black, routed in the technique's colour, darker = more
 * experts). `curves`: trainingCurves(df) restricted to one sweep's runs (e.g. joined with mainSweep).
 */
export function trainingCurvesFigure(
  curves: pl.DataFrame,
  opts: { technique?: string; experts?: number[] } = {},
): PlotlyFigure {
  const technique = opts.technique ?? "S-Base";
  const experts = opts.experts ?? [1, 8, 64, 512];
  const rows = runRows(curves, "trainingCurvesFigure", ["tokens", "hyper_id"]).filter((r) =>
    r.technique === technique && experts.includes(r.E) && Number(r.tokens) > 0
  );
  if (!rows.length) {
    throw new Error(`trainingCurvesFigure: no rows for ${technique} with E in ${experts}`);
  }
  const sizes = unique([...rows].sort((a, b) => a.N - b.N).map((r) => r.label));
  const layout = baseLayout({
    title: { text: `Training curves (${displayName(technique)} and dense)`, x: 0.5 },
    width: 1100,
    height: 680,
    margin: { l: 70, r: 20, t: 80, b: 140 },
    legend: bottomLegend(),
  });
  const panels = grid(sizes.length, 3, layout, sizes, 0.07, 0.16);
  const data: Trace[] = [];
  sizes.forEach((size, i) => {
    for (const [id, g] of groupBy(rows.filter((r) => r.label === size), (r) => r.hyper_id)) {
      const E = g[0].E, dense = g[0].dense;
      const k = experts.indexOf(E) / Math.max(1, experts.length - 1);
      data.push({
        type: "scatter",
        mode: "lines",
        ...axesOf(panels[i]),
        x: g.map((r) => Number(r.tokens)),
        y: g.map((r) => r.loss),
        line: {
          color: dense ? COLORS.Dense : techniqueColor(technique),
          width: 1.5,
          dash: dense ? "dash" : "solid",
        },
        opacity: dense ? 1 : 0.4 + 0.6 * k,
        name: dense ? "Dense LM" : `E=${E}`,
        legendgroup: dense ? "dense" : `E${E}`,
        showlegend: i === 0 && !data.some((d) => d.legendgroup === (dense ? "dense" : `E${E}`)),
        hovertemplate: `${size} ${dense ? "dense" : "E=" + E} (run ${id}): %{y:.4f}<extra></extra>`,
      });
    }
    setAxis(layout, `xaxis${panels[i].key}`, {
      type: "log",
      title: { text: i >= sizes.length - 3 ? "Training tokens" : "" },
      exponentformat: "SI",
      dtick: 1,
    });
    setAxis(layout, `yaxis${panels[i].key}`, {
      type: "log",
      title: { text: i % 3 === 0 ? "Validation Loss" : "" },
    });
  });
  return { data, layout };
}
