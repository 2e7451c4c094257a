/**
 * Figure export: standalone offline HTML (plotly.js inlined) and static SVG/PNG drawn by headless
 * Chromium (playwright-core) with plotly.js loaded once into one page.
 */
export { assertFigure, type ImageSize, imageSize, type PlotlyFigure } from "./figure.ts";
export { fromFileUrl, toFileUrl } from "./paths.ts";
export { plotlyPath, plotlySource, plotlyVersion } from "./plotly.ts";
export { CHROMIUM_FLAGS, findChromium } from "./chromium.ts";
export {
  closeSharedRenderer,
  FigureRenderer,
  type ImageFormat,
  type RendererOptions,
  sharedRenderer,
} from "./renderer.ts";
export { standaloneHtml } from "./html.ts";
export {
  type ExportedFigure,
  exportFigures,
  type ExportFormat,
  type ExportOptions,
} from "./files.ts";
export { type DecodedPng, decodePng, type PngInfo, pngInfo } from "./png.ts";
