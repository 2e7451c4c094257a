import { assertFigure, type PlotlyFigure } from "./figure.ts";
import { plotlySource } from "./plotly.ts";

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/**
 * A standalone HTML page that draws `fig` offline: plotly.js is inlined (about 4.8 MB), no external
 * script or stylesheet is referenced. The plot is responsive unless the layout fixes its size.
 */
export function standaloneHtml(fig: PlotlyFigure, opts: { title?: string } = {}): string {
  assertFigure(fig);
  const title = opts.title ?? String((fig.layout.title as { text?: string })?.text ?? "figure");
  // The bundle is inlined verbatim; a literal "</script" in it would end the element early.
  const lib = plotlySource().replace(/<\/script/gi, "<\\/script");
  const config = { responsive: true, displaylogo: false, ...(fig.config ?? {}) };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title.replace(/<[^>]*>/g, ""))}</title>
<style>html,body{margin:0;height:100%}#figure{width:100%;height:100%;min-height:480px}</style>
<script>${lib}</script>
</head><body><div id="figure"></div>
<script>
Plotly.newPlot("figure", ${scriptJson(fig.data)}, ${scriptJson(fig.layout)}, ${scriptJson(config)});
</script>
</body></html>
`;
}
