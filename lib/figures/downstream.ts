/** The release's other evaluation sets: loss against expert count on each. */
import type pl from "nodejs-polars";
import type { PlotlyFigure } from "../export/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { groupBy, runRows } from "./rows.ts";
import {
  baseLayout,
  bottomLegend,
  COLORS,
  displayName,
  log2Axis,
  techniqueColor,
} from "./style.ts";

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
