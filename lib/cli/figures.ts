/**
 * `deno task figures`: build every figure from the authors' release and write figures/NAME.html
 * (standalone, offline), NAME.svg and NAME.png, drawn in one headless Chromium page.
 *
 *   deno task figures [--curves PATH] [--out DIR] [--only NAME ...] [--format html|svg|png ...]
 *                     [--scale 2] [--restarts 500] [--resamples 200] [--seed 0]
 */
import { parseCommandLine } from "./args.ts";
import { join } from "node:path";
import { exportFigures, type ExportFormat } from "../export/mod.ts";
import { RELEASE_FIGURES, releaseFigures } from "../figures/mod.ts";
import { loadRelease } from "../release/mod.ts";
import { REPO_ROOT } from "../notebook/mod.ts";

const USAGE = `usage: deno task figures [options]
  --curves PATH     the authors' curves.csv.gz (default: $ROUTING_CURVES, else the cached download)
  --out DIR         output folder (default figures/)
  --only NAME       only this figure (repeatable); names: ${RELEASE_FIGURES.join(", ")}
  --format F        html, svg or png (repeatable; default all three)
  --scale S         PNG pixel density (default 2)
  --restarts N      random restarts per Eq. (1) fit (default 500)
  --resamples N     bootstrap resamples for the comparison intervals (default 200)
  --seed N          seed of restarts and resampling (default 0)`;

function num(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) {
    throw new Error(`--${name} must be a positive number, got ${v}`);
  }
  return n;
}

const parsed = parseCommandLine(Deno.args, {
  curves: { type: "string" },
  out: { type: "string" },
  only: { type: "string", multiple: true },
  format: { type: "string", multiple: true },
  scale: { type: "string" },
  restarts: { type: "string" },
  resamples: { type: "string" },
  seed: { type: "string" },
}, USAGE);
if ("exitCode" in parsed) Deno.exit(parsed.exitCode);
const args = parsed.values;
try {
  const formats = (args.format ?? ["html", "svg", "png"]) as ExportFormat[];
  const out = args.out ?? join(REPO_ROOT, "figures");
  const t0 = performance.now();
  const df = await loadRelease({ path: args.curves });
  const figs = releaseFigures(df, {
    only: args.only,
    restarts: Math.round(num("restarts", args.restarts, 500)),
    resamples: Math.round(num("resamples", args.resamples, 200)),
    seed: args.seed === undefined ? 0 : Number(args.seed),
  });
  const t1 = performance.now();
  console.log(
    `built ${Object.keys(figs).length} figures in ${((t1 - t0) / 1000).toFixed(1)} s (load + fits)`,
  );
  const done = await exportFigures(figs, out, {
    formats,
    scale: num("scale", args.scale, 2),
    onFigure: (name, s) => console.log(`  ${name}: ${s.toFixed(2)} s`),
  });
  const t2 = performance.now();
  console.log(
    `wrote ${done.reduce((n, d) => n + d.files.length, 0)} files (${
      formats.join(", ")
    }) to ${out} ` +
      `in ${((t2 - t1) / 1000).toFixed(1)} s (browser start included); total ${
        ((t2 - t0) / 1000).toFixed(1)
      } s`,
  );
} catch (e) {
  console.error(`figures: ${(e as Error).message}`);
  Deno.exit(1);
}
