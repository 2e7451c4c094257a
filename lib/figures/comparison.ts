/** The techniques compared: N_cutoff, E_max and b, our refit beside the paper. */
import type { ComparisonRow } from "../analysis/mod.ts";
import type { PlotlyFigure } from "../export/mod.ts";
import { eq1Law, type Eq1Params, nCutoff } from "../laws/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { unique } from "./rows.ts";
import { baseLayout, bottomLegend, displayName, techniqueColor } from "./style.ts";

/**
 * Technique comparison: N_cutoff, E_max and the slope b per technique, our refit with bootstrap
 * interval bars (filled) beside Table 3 of the paper (hollow diamonds; N_cutoff recomputed from
 * its rounded coefficients) and, for N_cutoff, the values printed in the paper's text (crosses).
 * `rows`: lib/analysis's comparison rows (compareTechniques, paperComparison); techniques without
 * Eq. (1) rows (the dense power law's) are left out. Traces: per panel "ours", "Table 3"; the
 * N_cutoff panel adds "paper text".
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
  const row = (t: string, quantity: string) =>
    rows.find((r) => r.technique === t && r.quantity === quantity);
  const techniques = unique(rows.filter((r) => r.quantity === "b").map((r) => r.technique));
  /** Table 3's coefficients of a technique, when the rows carry all of them. */
  const table3 = (t: string): Eq1Params | undefined => {
    const p = eq1Law.paramNames.map((k) => [k, row(t, k)?.paper ?? null] as const);
    return p.every(([, v]) => v !== null) ? Object.fromEntries(p) as Eq1Params : undefined;
  };
  const qs = [
    {
      key: "N_cutoff",
      title: "N<sub>cutoff</sub> = 10<sup>-b/c</sup>",
      log: true,
      paper: (t: string) => {
        const p = table3(t);
        return p ? nCutoff(p) : null;
      },
    },
    { key: "E_max", title: "E<sub>max</sub>", log: true, paper: (t: string) => table3(t)?.E_max },
    {
      key: "b",
      title: "b (slope in log Ê at N = 1)",
      log: false,
      paper: (t: string) => table3(t)?.b,
    },
  ];
  const panels = grid(qs.length, qs.length, layout, qs.map((q) => q.title), 0.09);
  const data: Trace[] = [];
  qs.forEach((q, i) => {
    const p = panels[i];
    const x = techniques.map(displayName);
    const r = techniques.map((t) => row(t, q.key));
    const ours = r.map((v) => v?.ours ?? NaN);
    const iv = r.map((v) => [v?.low ?? NaN, v?.high ?? NaN]);
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
        color: techniques.map(techniqueColor),
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
      y: techniques.map(q.paper),
      marker: { symbol: "diamond-open", color: "#222", size: 12, line: { width: 2 } },
      name: "Table 3 (paper)",
      legendgroup: "paper",
      showlegend: i === 0,
      hovertemplate: `%{x}: %{y:.4g}<extra>Table 3</extra>`,
    });
    if (q.key === "N_cutoff") {
      data.push({
        type: "scatter",
        mode: "markers",
        ...axesOf(p),
        x,
        y: r.map((v) => v?.paper ?? null),
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
