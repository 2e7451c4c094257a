/** The layout the multi-panel figures share: panel domains and titles, axis helpers. */
import { axis } from "./style.ts";

/** A plotly trace. */
export type Trace = Record<string, unknown>;

/** Side-by-side panels: domains for n columns (and rows), axis names x, x2, ... */
export function grid(
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

/** Merges `extra` into the layout's axis `name` (x, x2, ...), as a boxed axis. */
export function setAxis(
  layout: Record<string, unknown>,
  name: string,
  extra: Record<string, unknown>,
) {
  layout[name] = axis({ ...(layout[name] as object), ...extra });
}

/** The axis names of a panel, to spread into a trace. */
export function axesOf(p: { xaxis: string; yaxis: string }) {
  return { xaxis: p.xaxis, yaxis: p.yaxis };
}
