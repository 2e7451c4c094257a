/**
 * Live training display for notebooks: an onProgress callback that keeps one output updated in
 * place (progress, losses and an inline SVG loss curve) in the Deno Jupyter kernel, and prints a
 * line every few seconds elsewhere. No browser needed: the chart is plain SVG.
 */
import type { TrainProgress } from "../train/mod.ts";
import { displayBundle, inKernel } from "./kernel.ts";

export interface LiveOptions {
  /** Title above the chart (e.g. the router). */
  title?: string;
  /** Minimum seconds between updates (default 1); the last step always shows. */
  everyS?: number;
  width?: number;
  height?: number;
}

/** An SVG line chart of train loss (line) and validation loss (dots) against the step. */
export function lossChartSvg(
  train: [number, number][],
  val: [number, number][],
  opts: { width?: number; height?: number; steps?: number } = {},
): string {
  const W = opts.width ?? 480, H = opts.height ?? 200, pad = 36;
  const all = [...train, ...val].filter(([, y]) => Number.isFinite(y));
  if (!all.length) return `<svg width="${W}" height="${H}"></svg>`;
  const xmax = Math.max(opts.steps ?? 1, ...all.map(([x]) => x));
  let ymin = Math.min(...all.map(([, y]) => y)), ymax = Math.max(...all.map(([, y]) => y));
  if (ymax - ymin < 1e-6) ymin -= 0.5, ymax += 0.5;
  const sx = (x: number) => pad + ((W - pad - 8) * x) / xmax;
  const sy = (y: number) => 8 + ((H - pad - 8) * (ymax - y)) / (ymax - ymin);
  const path = train.filter(([, y]) => Number.isFinite(y))
    .map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join("");
  const dots = val.filter(([, y]) => Number.isFinite(y)).map(([x, y]) =>
    `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="#d55e00"/>`
  ).join("");
  const tick = (y: number) =>
    `<text x="${pad - 4}" y="${sy(y) + 4}" font-size="10" text-anchor="end">${y.toFixed(2)}</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `style="font-family:sans-serif">` +
    `<rect x="${pad}" y="8" width="${W - pad - 8}" height="${H - pad - 8}" fill="none" ` +
    `stroke="#ccc"/>${tick(ymax)}${tick(ymin)}` +
    `<text x="${W / 2}" y="${H - 6}" font-size="11" text-anchor="middle">step (of ${xmax})</text>` +
    `<path d="${path}" fill="none" stroke="#0072b2" stroke-width="1.5"/>${dots}` +
    `<text x="${W - 10}" y="22" font-size="11" text-anchor="end" fill="#0072b2">train loss</text>` +
    `<text x="${W - 10}" y="36" font-size="11" text-anchor="end" fill="#d55e00">val loss</text>` +
    `</svg>`;
}

/** onProgress callback for train(): a live-updating display in notebooks, a log line elsewhere. */
export function liveProgress(opts: LiveOptions = {}): (p: TrainProgress) => void {
  const id = `train-live-${crypto.randomUUID()}`;
  const train: [number, number][] = [], val: [number, number][] = [];
  let last = -Infinity, first = true;
  const kernel = inKernel();
  return (p) => {
    train.push([p.step, p.trainLoss]);
    if (p.valLoss !== undefined) val.push([p.step, p.valLoss]);
    const now = performance.now();
    const done = p.step === p.steps;
    if (!done && p.valLoss === undefined && now - last < (opts.everyS ?? (kernel ? 1 : 5)) * 1000) {
      return;
    }
    last = now;
    const text = `${opts.title ? opts.title + ": " : ""}step ${p.step}/${p.steps}  loss ${
      p.trainLoss.toFixed(3)
    }${val.length ? `  val ${val[val.length - 1][1].toFixed(3)}` : ""}  ${
      p.tokensPerS.toFixed(0)
    } tok/s  eta ${p.etaS.toFixed(0)} s`;
    if (!kernel) {
      console.log(text);
      return;
    }
    const html = `<div style="font-family:monospace">` +
      `<progress value="${p.step}" max="${p.steps}" style="width:20em"></progress> ${
        text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
      }</div>${lossChartSvg(train, val, { ...opts, steps: p.steps })}`;
    void displayBundle({ "text/plain": text, "text/html": html }, {
      displayId: id,
      update: !first,
    });
    first = false;
  };
}
