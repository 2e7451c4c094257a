import { chromium } from "playwright-core";
import type { BrowserContext, Page } from "playwright-core";
import { CHROMIUM_FLAGS, findChromium } from "./chromium.ts";
import { assertFigure, type ImageSize, imageSize, type PlotlyFigure } from "./figure.ts";
import { plotlyPath } from "./plotly.ts";
import { toFileUrl } from "./paths.ts";

export type ImageFormat = "png" | "svg";

export interface RendererOptions {
  /** Chromium binary; default: env CHROMIUM_PATH or /usr/bin/chromium. */
  executablePath?: string;
  /** Milliseconds allowed for one figure (default 60 s). */
  timeoutMs?: number;
}

/**
 * One headless Chromium with one page that has plotly.js loaded once; every figure is drawn in it
 * with Plotly.toImage. The first figure costs seconds (browser start + 4.8 MB bundle), later ones
 * about 0.1-0.2 s. Call close() when done, or the process keeps the browser alive.
 */
export class FigureRenderer {
  #context: BrowserContext;
  #page: Page;
  #profile: string;
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(context: BrowserContext, page: Page, profile: string) {
    this.#context = context;
    this.#page = page;
    this.#profile = profile;
  }

  /** Starts Chromium with a fresh profile directory and loads plotly.js into a blank page. */
  static async launch(opts: RendererOptions = {}): Promise<FigureRenderer> {
    const executablePath = findChromium(opts.executablePath);
    const profile = await Deno.makeTempDir({ prefix: "figures-chromium-" });
    let context: BrowserContext | undefined;
    try {
      context = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        args: CHROMIUM_FLAGS,
        timeout: 60_000,
      });
      const page = context.pages()[0] ?? await context.newPage();
      page.setDefaultTimeout(opts.timeoutMs ?? 60_000);
      // A file: page that loads the bundle with a <script src>: the browser reads it natively,
      // much faster than pushing 4.8 MB of source through the DevTools protocol.
      const html = `${profile}/plotly-page.html`;
      await Deno.writeTextFile(
        html,
        `<!doctype html><html><head><meta charset="utf-8"><script src="${
          toFileUrl(plotlyPath())
        }"></script></head><body></body></html>`,
      );
      await page.goto(toFileUrl(html), { waitUntil: "load" });
      const ok = await page.evaluate(() =>
        typeof (globalThis as unknown as { Plotly?: unknown }).Plotly === "object"
      );
      if (!ok) throw new Error(`plotly.js did not load in Chromium from ${plotlyPath()}`);
      return new FigureRenderer(context, page, profile);
    } catch (e) {
      await context?.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Renders `fig` to a data URL; calls are serialised (one page). */
  #render(fig: PlotlyFigure, format: ImageFormat, size: ImageSize): Promise<string> {
    if (this.#closed) throw new Error("FigureRenderer is closed; launch a new one");
    const job = this.#queue.then(() =>
      this.#page.evaluate(
        async ({ fig, format, size }) => {
          // deno-lint-ignore no-explicit-any
          const { Plotly, document } = globalThis as any; // browser globals (no DOM types here)
          const div = document.createElement("div");
          document.body.appendChild(div);
          try {
            await Plotly.newPlot(div, fig.data, {
              ...fig.layout,
              width: size.width,
              height: size.height,
            }, {
              ...(fig.config ?? {}),
              staticPlot: true,
            });
            return await Plotly.toImage(div, {
              format,
              width: size.width,
              height: size.height,
              scale: format === "png" ? size.scale : 1,
            }) as string;
          } finally {
            Plotly.purge(div);
            div.remove();
          }
        },
        { fig, format, size },
      )
    );
    this.#queue = job.catch(() => {});
    return job;
  }

  /** PNG bytes of `fig` at width*scale x height*scale pixels. */
  async toPng(fig: PlotlyFigure, opts: Partial<ImageSize> = {}): Promise<Uint8Array> {
    assertFigure(fig);
    const url = await this.#render(fig, "png", imageSize(fig, opts));
    const b64 = url.slice(url.indexOf(",") + 1);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  }

  /** SVG text of `fig` (width x height). */
  async toSvg(fig: PlotlyFigure, opts: Partial<ImageSize> = {}): Promise<string> {
    assertFigure(fig);
    const url = await this.#render(fig, "svg", imageSize(fig, opts));
    const body = url.slice(url.indexOf(",") + 1);
    return url.slice(0, url.indexOf(",")).endsWith(";base64")
      ? atob(body)
      : decodeURIComponent(body);
  }

  /** Closes the browser and deletes its profile directory. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => {});
    await this.#context.close().catch(() => {});
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

let shared: Promise<FigureRenderer> | undefined;

/**
 * The process-wide renderer, launched on first use and kept alive (one browser per kernel).
 * A closed or failed one is replaced on the next call.
 */
export async function sharedRenderer(opts: RendererOptions = {}): Promise<FigureRenderer> {
  if (shared) {
    try {
      const r = await shared;
      if (!r.closed) return r;
    } catch { /* a failed launch: try again below */ }
  }
  shared = FigureRenderer.launch(opts);
  return await shared;
}

/** Closes the shared renderer if one was started (lets a script exit). */
export async function closeSharedRenderer(): Promise<void> {
  const s = shared;
  shared = undefined;
  if (s) await (await s.catch(() => undefined))?.close();
}
