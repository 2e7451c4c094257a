/** Figure 1 of the paper (a, b, c) and loss against expert count for every technique. */
import type pl from "nodejs-polars";
import type { PlotlyFigure } from "../export/mod.ts";
import {
  effectiveParameterCount,
  eq1Loss,
  type Eq1Params,
  isoLossN,
  unifiedDenseLine,
} from "../laws/mod.ts";
import type { Fits } from "../analysis/mod.ts";
import { groupBy, type RunRow, runRows, unique } from "./rows.ts";
import {
  axis,
  baseLayout,
  bottomLegend,
  COLORS,
  countTicks,
  displayName,
  insideLegend,
  log2Axis,
  logGrid,
  lossAxis,
  panelTitle,
  techniqueColor,
} from "./style.ts";

const E_GRID = logGrid(1, 512, 60);

function lossRange(rows: RunRow[]): [number, number] {
  const ls = rows.map((r) => r.loss);
  return [Math.min(...ls) * 0.97, Math.max(...ls) * 1.02];
}

export interface LossVsExpertsOptions {
  /** Technique to draw (default: the frame's only technique, or "S-Base"). */
  technique?: string;
  title?: string;
  /** Panel letter, e.g. "a". */
  letter?: string;
  /** Which coefficients drew the dashed lines (shown in the legend), e.g. "our refit". */
  fitLabel?: string;
  width?: number;
  height?: number;
}

/**
 * Loss against expert count for one technique (Fig. 1a for S-BASE): per dense size, the routed runs
 * as dots in the technique's colour, the dense run at E = 1 in black, and the dashed Eq. (1) curve;
 * each size labelled at E = 1 (15M ... 1.3B). `frame`: a main-sweep view (dense rows as E = 1).
 * Traces: per size, [fit line, routed dots]; then one trace of all dense dots.
 */
export function lossVsExperts(
  frame: pl.DataFrame,
  fit: Eq1Params,
  opts: LossVsExpertsOptions = {},
): PlotlyFigure {
  const all = runRows(frame, "lossVsExperts");
  const techs = unique(all.map((r) => r.technique));
  const technique = opts.technique ?? (techs.length === 1 ? techs[0] : "S-Base");
  const rows = all.filter((r) => r.technique === technique);
  if (rows.length === 0) {
    throw new Error(
      `lossVsExperts: no rows for technique ${technique}; the frame has ${techs.join(", ")}`,
    );
  }
  const color = techniqueColor(technique);
  const bySize = groupBy([...rows].sort((a, b) => a.N - b.N), (r) => r.N);
  const data: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  let first = true;
  for (const [N, g] of bySize) {
    const label = g[0].label;
    data.push({
      type: "scatter",
      mode: "lines",
      x: E_GRID,
      y: E_GRID.map((E) => eq1Loss(fit, N, E)),
      line: { color, dash: "dash", width: 2.5 },
      name: opts.fitLabel ? `Eq. (1), ${opts.fitLabel}` : "Eq. (1) fit",
      legendgroup: "fit",
      showlegend: first,
      hovertemplate: `${label}, E=%{x:.0f}: fit %{y:.3f}<extra></extra>`,
    });
    const routed = g.filter((r) => !r.dense);
    data.push({
      type: "scatter",
      mode: "markers",
      x: routed.map((r) => r.E),
      y: routed.map((r) => r.loss),
      marker: { color, size: 8, line: { color: "#222", width: 1 } },
      name: displayName(technique),
      legendgroup: "runs",
      showlegend: first,
      hovertemplate: `${label}, E=%{x}: %{y:.4f}<extra></extra>`,
    });
    annotations.push({
      x: Math.log10(1),
      y: Math.log10(eq1Loss(fit, N, 1)),
      xref: "x",
      yref: "y",
      text: label,
      showarrow: false,
      xanchor: "right",
      xshift: -10,
      font: { size: 11, color: "#555" },
    });
    first = false;
  }
  const dense = rows.filter((r) => r.dense);
  data.push({
    type: "scatter",
    mode: "markers",
    x: dense.map((r) => r.E),
    y: dense.map((r) => r.loss),
    marker: { color: COLORS.Dense, size: 8 },
    name: displayName("Dense"),
    hovertemplate: "dense %{text}: %{y:.4f}<extra></extra>",
    text: dense.map((r) => r.label),
  });
  const [lo, hi] = lossRange(rows);
  return {
    data,
    layout: baseLayout({
      title: panelTitle(opts.letter, opts.title ?? "Predicting Loss for Varying Expert Count"),
      xaxis: log2Axis(1, 512, {
        title: { text: "Expert Count" },
        range: [Math.log10(0.45), Math.log10(650)],
      }),
      yaxis: lossAxis(lo, hi),
      annotations,
      width: opts.width ?? 560,
      height: opts.height ?? 440,
    }),
  };
}

/** Fig. 1a: S-BASE, loss against expert count per dense size, with the dashed Eq. (1) fit. */
export function fig1a(
  frame: pl.DataFrame,
  fits: Fits | Eq1Params,
  opts: LossVsExpertsOptions = {},
) {
  const fit = "a" in fits ? (fits as Eq1Params) : (fits as Fits)[opts.technique ?? "S-Base"];
  if (!fit) throw new Error(`fig1a: no fit for ${opts.technique ?? "S-Base"} in the fits given`);
  return lossVsExperts(frame, fit, { technique: "S-Base", letter: "a", ...opts });
}

export interface Fig1bOptions {
  width?: number;
  height?: number;
}

/** The distinct model sizes {N, label} of a frame, smallest first. */
export function modelSizes(frame: pl.DataFrame): { N: number; label: string }[] {
  const rows = runRows(frame, "modelSizes");
  const m = new Map<number, string>();
  for (const r of rows) if (!m.has(r.N)) m.set(r.N, r.label);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([N, label]) => ({ N, label }));
}

/**
 * Fig. 1b, curves of constant loss: for each technique and each level (the loss its Eq. (1) fit
 * predicts for a dense model of 25M ... 1.3B), the dense size N that reaches that loss with E experts
 * (isoLossN), E from 1 to 512 on a log2 y axis, N on a log x axis. One trace per technique per level.
 */
export function fig1b(
  fits: Fits,
  levelSizes: { N: number; label: string }[],
  opts: Fig1bOptions = {},
) {
  if (levelSizes.length === 0) {
    throw new Error("fig1b: give at least one dense size for the levels");
  }
  const data: Record<string, unknown>[] = [];
  const Es = logGrid(1, 600, 80);
  for (const [t, p] of Object.entries(fits)) {
    levelSizes.forEach(({ N, label }, i) => {
      const L = eq1Loss(p, N, 1);
      const xs: number[] = [], ys: number[] = [];
      for (const E of Es) {
        const n = isoLossN(p, E, L);
        if (Number.isFinite(n) && n > 0) {
          xs.push(n);
          ys.push(E);
        }
      }
      data.push({
        type: "scatter",
        mode: "lines",
        x: xs,
        y: ys,
        line: { color: techniqueColor(t), width: 2.5 },
        name: displayName(t),
        legendgroup: t,
        showlegend: i === 0,
        hovertemplate: `${displayName(t)}, loss ${
          L.toFixed(3)
        } (dense ${label}): N=%{x:.3s}, E=%{y:.0f}<extra></extra>`,
      });
    });
  }
  const sizes = levelSizes.map((s) => s.N);
  const ticks = countTicks([5e6, ...sizes]);
  ticks.ticktext = ["5M", ...levelSizes.map((s) => s.label)];
  return {
    data,
    layout: baseLayout({
      title: panelTitle("b", "Curves of Constant Loss Value"),
      xaxis: axis({
        type: "log",
        title: { text: "Dense Model Size" },
        range: [Math.log10(4e6), Math.log10(Math.max(...sizes) * 1.25)],
        ...ticks,
      }),
      yaxis: log2Axis(1, 512, { title: { text: "Expert Count" }, range: [0, Math.log10(700)] }),
      width: opts.width ?? 560,
      height: opts.height ?? 440,
    }),
  } as PlotlyFigure;
}

export interface Fig1cOptions {
  /** Technique whose unified dense line is drawn (default the first in `fits`). */
  lineFrom?: string;
  width?: number;
  height?: number;
}

/**
 * Fig. 1c, unified scaling: every run of every technique at its Effective Parameter Count (from its
 * own technique's Eq. (1) fit; dense runs at EPC = N) against its loss, plus the unified dense line
 * log L = a(E_start) log Nbar + d + b log E_start of one fit (dashed). `frame`: the main sweep of all
 * techniques. Traces: one per technique, one for dense, one line.
 */
export function fig1c(frame: pl.DataFrame, fits: Fits, opts: Fig1cOptions = {}): PlotlyFigure {
  const rows = runRows(frame, "fig1c");
  const data: Record<string, unknown>[] = [];
  const seenDense = new Set<number>();
  const dense: RunRow[] = [];
  let xmin = Infinity, xmax = 0;
  for (const [t, p] of Object.entries(fits)) {
    const g = rows.filter((r) => r.technique === t && !r.dense);
    const x = g.map((r) => effectiveParameterCount(p, r.N, r.E));
    x.forEach((v) => {
      xmin = Math.min(xmin, v);
      xmax = Math.max(xmax, v);
    });
    data.push({
      type: "scatter",
      mode: "markers",
      x,
      y: g.map((r) => r.loss),
      marker: { color: techniqueColor(t), size: 8, opacity: 0.9 },
      name: displayName(t),
      text: g.map((r) => `${r.label}, E=${r.E}`),
      hovertemplate: `${displayName(t)} %{text}: EPC=%{x:.3s}, loss %{y:.4f}<extra></extra>`,
    });
    for (const r of rows.filter((r) => r.technique === t && r.dense)) {
      if (!seenDense.has(r.N)) {
        seenDense.add(r.N);
        dense.push(r);
      }
    }
  }
  dense.forEach((r) => {
    xmin = Math.min(xmin, r.N);
    xmax = Math.max(xmax, r.N);
  });
  data.push({
    type: "scatter",
    mode: "markers",
    x: dense.map((r) => r.N),
    y: dense.map((r) => r.loss),
    marker: { color: COLORS.Dense, size: 9 },
    name: displayName("Dense"),
    text: dense.map((r) => r.label),
    hovertemplate: "dense %{text}: loss %{y:.4f}<extra></extra>",
  });
  const lineFrom = opts.lineFrom ?? Object.keys(fits)[0];
  const line = unifiedDenseLine(fits[lineFrom]);
  const xs = [xmin / 1.3, xmax * 1.3];
  data.push({
    type: "scatter",
    mode: "lines",
    x: xs,
    y: xs.map((x) => Math.pow(10, line.slope * Math.log10(x) + line.intercept)),
    line: { color: "#666", dash: "dash", width: 1.5 },
    name: `unified line (${displayName(lineFrom)} fit)`,
    hovertemplate: `unified dense line, alpha = ${line.alpha_N.toFixed(4)}<extra></extra>`,
  });
  const [lo, hi] = lossRange(rows);
  return {
    data,
    layout: baseLayout({
      title: panelTitle("c", "Unified Model Scaling"),
      legend: { ...insideLegend("bl"), font: { size: 11 } },
      margin: { l: 70, r: 20, t: 50, b: 60 },
      xaxis: axis({
        type: "log",
        title: { text: "Effective Parameter Count" },
        range: [Math.log10(xmin / 1.4), Math.log10(xmax * 1.7)],
        ...countTicks([1e7, 1e8, 1e9, 1e10].filter((v) => v >= xmin / 3 && v <= xmax * 3)),
      }),
      yaxis: lossAxis(lo, hi),
      width: opts.width ?? 560,
      height: opts.height ?? 440,
    }),
  };
}

/**
 * Loss against expert count for every technique: one panel per technique (as Fig. 1a) plus an
 * overlay panel with every technique's fit curves and runs in its colour. Axes x/y, x2/y2, ...
 */
export function lossVsExpertsPanels(frame: pl.DataFrame, fits: Fits): PlotlyFigure {
  const techs = Object.keys(fits);
  const n = techs.length + 1;
  const gap = 0.05, w = (1 - gap * (n - 1)) / n;
  const data: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = baseLayout({
    title: {
      text: "Validation loss against expert count: each technique, and all overlaid",
      x: 0.5,
    },
    width: 330 * n,
    height: 470,
    margin: { l: 60, r: 20, t: 90, b: 130 },
    // Under the panels: above them a wrapped legend would run into the title.
    legend: { ...bottomLegend(), traceorder: "normal" },
  });
  const annotations: Record<string, unknown>[] = [];
  const rowsAll = runRows(frame, "lossVsExpertsPanels");
  const [lo, hi] = lossRange(rowsAll);
  const panel = (i: number, title: string) => {
    const ax = i === 0 ? "" : String(i + 1);
    layout[`xaxis${ax}`] = log2Axis(1, 512, {
      domain: [i * (w + gap), i * (w + gap) + w],
      title: { text: "Expert Count" },
      tickvals: [1, 4, 16, 64, 256],
      ticktext: ["1", "4", "16", "64", "256"],
      anchor: `y${ax}`,
    });
    layout[`yaxis${ax}`] = lossAxis(lo, hi, {
      anchor: `x${ax}`,
      ...(i === 0 ? {} : { title: { text: "" }, matches: "y" }),
    });
    annotations.push({
      text: `<b>${title}</b>`,
      x: i * (w + gap) + w / 2,
      y: 1.0,
      xref: "paper",
      yref: "paper",
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
    });
    return { xaxis: `x${ax}`, yaxis: `y${ax}` };
  };
  techs.forEach((t, i) => {
    const axes = panel(i, displayName(t));
    const f = lossVsExperts(frame, fits[t], { technique: t });
    for (const tr of f.data) {
      data.push({ ...tr, ...axes, showlegend: false });
    }
  });
  const axes = panel(techs.length, "Overlay");
  for (const t of techs) {
    const f = lossVsExperts(frame, fits[t], { technique: t });
    f.data.forEach((tr, j) => {
      const isDenseTrace = j === f.data.length - 1;
      if (isDenseTrace && t !== techs[0]) return;
      data.push({
        ...tr,
        ...axes,
        showlegend: tr.mode === "markers" && tr.showlegend !== false,
        marker: { ...(tr.marker as object), size: 6 },
        line: { ...(tr.line as object), width: 1.5 },
      });
    });
  }
  layout.annotations = annotations;
  return { data, layout };
}

/**
 * The whole of Figure 1 as in the paper: panels a, b, c side by side with one legend (S-BASE, RL-R,
 * Hash, Dense LM) on top. Built from fig1a/fig1b/fig1c, so it shows exactly the same data.
 */
export function fig1(
  shownFrame: pl.DataFrame,
  fits: Fits,
  levelSizes: { N: number; label: string }[],
): PlotlyFigure {
  const parts = [fig1a(shownFrame, fits), fig1b(fits, levelSizes), fig1c(shownFrame, fits)];
  const gap = 0.07, w = (1 - 2 * gap) / 3;
  const layout: Record<string, unknown> = baseLayout({
    width: 1500,
    height: 470,
    margin: { l: 70, r: 20, t: 110, b: 60 },
    legend: {
      orientation: "h",
      x: 0.5,
      xanchor: "center",
      y: 1.2,
      yanchor: "bottom",
      traceorder: "normal",
    },
  });
  const annotations: Record<string, unknown>[] = [];
  const data: Record<string, unknown>[] = [];
  parts.forEach((p, i) => {
    const k = i === 0 ? "" : String(i + 1);
    const domain = [i * (w + gap), i * (w + gap) + w];
    layout[`xaxis${k}`] = { ...(p.layout.xaxis as object), domain, anchor: `y${k}` };
    layout[`yaxis${k}`] = { ...(p.layout.yaxis as object), anchor: `x${k}` };
    const title = (p.layout.title as { text: string }).text;
    annotations.push({
      text: title,
      x: domain[0] + w / 2,
      y: 1.0,
      xref: "paper",
      yref: "paper",
      xanchor: "center",
      yanchor: "bottom",
      showarrow: false,
      yshift: 6,
      font: { size: 15 },
    });
    for (const a of (p.layout.annotations as Record<string, unknown>[] | undefined) ?? []) {
      annotations.push({ ...a, xref: `x${k}`, yref: `y${k}` });
    }
    for (const t of p.data) {
      const name = String(t.name ?? "");
      // One legend: the technique dots of panel c and its dense dots.
      const showlegend = i === 2 && t.mode === "markers" && !name.startsWith("unified");
      data.push({ ...t, xaxis: `x${k}`, yaxis: `y${k}`, showlegend });
    }
  });
  layout.annotations = annotations;
  return { data, layout };
}
