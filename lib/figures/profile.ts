/**
 * Where the data put Eq. (1)'s saturation: per technique, the profile likelihood of (E_start,
 * E_max) (lib/fit/profile.ts) as 2 x the log-likelihood ratio against the best grid point, its 95%
 * region outlined, and marks at the fitted values (and, for the release, Table 3's).
 */
import type { Analysis } from "../analysis/mod.ts";
import type { PlotlyFigure } from "../export/mod.ts";
import { chi2TwoDof, type ProfileRegion } from "../fit/mod.ts";
import { axesOf, grid, setAxis, type Trace } from "./grid.ts";
import { baseLayout, bottomLegend, displayName, techniqueColor } from "./style.ts";

/** 2 x log-likelihood ratios above this are drawn at this colour (far outside any region). */
const CLIP = 30;

export interface ProfileMark {
  E_start: number;
  E_max: number;
  label: string;
}

/**
 * One panel per technique of `regions`: the heat map of n ln(MSE / MSE_min) over log2 E_start (x)
 * and log2 E_max (y), the 95% region's edge, and `marks[technique]` as points (clamped to the grid
 * so that a fit beyond it still shows at its edge). Traces per panel: [surface, marks...].
 */
export function saturationProfileFigure(
  regions: Record<string, ProfileRegion>,
  opts: { title?: string; marks?: Record<string, ProfileMark[]> } = {},
): PlotlyFigure {
  const techs = Object.keys(regions);
  if (techs.length === 0) throw new Error("saturationProfileFigure: no profile regions given");
  const layout = baseLayout({
    title: { text: opts.title ?? "Eq. (1)'s saturation: profile likelihood of E_start, E_max" },
    width: 360 * techs.length + 80,
    height: 470,
    margin: { l: 70, r: 90, t: 90, b: 120 },
    legend: bottomLegend(),
  });
  const panels = grid(techs.length, techs.length, layout, techs.map(displayName), 0.09);
  const data: Trace[] = [];
  techs.forEach((t, k) => {
    const r = regions[t], p = panels[k];
    const { log2Start, log2Max, mse } = r.surface;
    const z = mse.map((row) =>
      row.map((m) => (m === null ? null : Math.min(CLIP, r.n * Math.log(m / r.mseMin))))
    );
    const level = chi2TwoDof(r.level);
    data.push({
      type: "contour",
      ...axesOf(p),
      x: log2Start,
      y: log2Max,
      z,
      zmin: 0,
      zmax: CLIP,
      colorscale: "Viridis",
      reversescale: true,
      contours: { coloring: "heatmap", start: level, end: level, size: 1, showlabels: false },
      line: { color: "white", width: 2 },
      showscale: k === techs.length - 1,
      colorbar: { title: { text: "2 ln LR" }, len: 0.8 },
      name: `${Math.round(r.level * 100)}% region (white edge)`,
      hovertemplate: `${displayName(t)} log2 E_start %{x}, log2 E_max %{y}: 2 ln LR %{z:.2f}` +
        `<extra></extra>`,
      showlegend: k === 0,
    });
    const clamp = (v: number, axis: number[]) =>
      Math.min(axis[axis.length - 1], Math.max(axis[0], Math.log2(v)));
    (opts.marks?.[t] ?? []).forEach((m, i) => {
      data.push({
        type: "scatter",
        mode: "markers",
        ...axesOf(p),
        x: [clamp(m.E_start, log2Start)],
        y: [clamp(m.E_max, log2Max)],
        marker: {
          symbol: i === 0 ? "x" : "diamond",
          size: 11,
          color: i === 0 ? techniqueColor(t) : "white",
          line: { color: "#222", width: 1.5 },
        },
        name: m.label,
        legendgroup: m.label,
        showlegend: k === 0,
        hovertemplate: `${m.label}: E_start ${m.E_start.toPrecision(3)}, E_max ` +
          `${m.E_max.toPrecision(3)}<extra></extra>`,
      });
    });
    setAxis(layout, `xaxis${p.key}`, { title: { text: "log2 E_start" } });
    setAxis(layout, `yaxis${p.key}`, { title: { text: k === 0 ? "log2 E_max" : "" } });
  });
  return { data, layout };
}

/** The profile figure of an analysis (our runs): every technique with a profile, its fit marked. */
export function analysisProfileFigure(
  analysis: Analysis,
  opts: { title?: string } = {},
): PlotlyFigure {
  const withProfile = Object.entries(analysis.techniques).filter(([, r]) => r.eq1Profile);
  return saturationProfileFigure(
    Object.fromEntries(withProfile.map(([t, r]) => [t, r.eq1Profile!])),
    {
      ...opts,
      marks: Object.fromEntries(withProfile.map(([t, r]) => [
        t,
        [{ E_start: r.eq1.params.E_start, E_max: r.eq1.params.E_max, label: "our Eq. (1) fit" }],
      ])),
    },
  );
}
