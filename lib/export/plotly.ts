import { createRequire } from "node:module";
import { fromFileUrl } from "./paths.ts";

let cachedPath: string | undefined;
let cachedSource: string | undefined;

/** Absolute path of plotly.min.js from the `plotly.js-dist-min` package (node_modules). */
export function plotlyPath(): string {
  if (cachedPath) return cachedPath;
  let path: string | undefined;
  try {
    const url = import.meta.resolve("plotly.js-dist-min");
    if (url.startsWith("file:")) path = fromFileUrl(url);
  } catch { /* fall through to Node's resolution (vitest) */ }
  if (!path) {
    try {
      path = createRequire(import.meta.url).resolve("plotly.js-dist-min");
    } catch {
      throw new Error(
        "cannot find plotly.js-dist-min: run `deno install` in the project root " +
          "(deno.json maps it to npm:plotly.js-dist-min)",
      );
    }
  }
  cachedPath = path;
  return path;
}

/** The plotly.js bundle's source text (about 4.8 MB), read once per process. */
export function plotlySource(): string {
  cachedSource ??= Deno.readTextFileSync(plotlyPath());
  return cachedSource;
}

/** Version of the bundled plotly.js, e.g. "3.7.0". */
export function plotlyVersion(): string {
  const m = /plotly\.js v(\d+\.\d+\.\d+)/.exec(plotlySource().slice(0, 400));
  return m ? m[1] : "unknown";
}
