/** Along training: Eq. (1) refitted at every step, and the release's training curves. */
import type pl from "nodejs-polars";
import type { TrainingFitRow } from "../analysis/mod.ts";
import type { PlotlyFigure } from "../export/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { groupBy, runRows, unique } from "./rows.ts";
import { baseLayout, bottomLegend, COLORS, displayName, techniqueColor } from "./style.ts";

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
