/** The law variants: fitted slopes against the bilinear law, and every variant's residuals. */
import type { ResidualRow, SlopeData } from "../analysis/mod.ts";
import type { PlotlyFigure } from "../export/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { groupBy, unique } from "./rows.ts";
import {
  axis,
  baseLayout,
  bottomLegend,
  countTicks,
  displayName,
  log2Axis,
  logGrid,
  panelTitle,
  techniqueColor,
} from "./style.ts";

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
