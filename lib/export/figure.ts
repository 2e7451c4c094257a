/** A plotly.js figure as plain JSON: what `Plotly.newPlot(div, data, layout, config)` takes. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** Size of a static image in CSS pixels; `scale` multiplies the PNG's pixel size (not the SVG's). */
export interface ImageSize {
  width: number;
  height: number;
  scale: number;
}

const DEFAULT_WIDTH = 800;
const DEFAULT_HEIGHT = 500;

/** The figure's own layout.width/height win, then the caller's, then 800 x 500; scale defaults to 2. */
export function imageSize(fig: PlotlyFigure, opts: Partial<ImageSize> = {}): ImageSize {
  const lw = fig.layout.width, lh = fig.layout.height;
  const width = opts.width ?? (typeof lw === "number" ? lw : DEFAULT_WIDTH);
  const height = opts.height ?? (typeof lh === "number" ? lh : DEFAULT_HEIGHT);
  const scale = opts.scale ?? 2;
  for (const [k, v] of Object.entries({ width, height, scale })) {
    if (!(Number.isFinite(v) && v > 0)) {
      throw new Error(`image ${k} must be a positive number, got ${v}`);
    }
  }
  return { width, height, scale };
}

/** Throws a clear error when `fig` is not {data: [...], layout: {...}}. */
export function assertFigure(fig: unknown, name = "figure"): asserts fig is PlotlyFigure {
  const f = fig as PlotlyFigure | null;
  if (!f || typeof f !== "object" || !Array.isArray(f.data)) {
    throw new Error(
      `${name} is not a plotly figure: expected an object {data: [...], layout: {...}}`,
    );
  }
  if (!f.layout || typeof f.layout !== "object") {
    throw new Error(`${name} has no layout object: give it {layout: {...}} (an empty {} is fine)`);
  }
}
