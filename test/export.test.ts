import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  closeSharedRenderer,
  decodePng,
  exportFigures,
  FigureRenderer,
  findChromium,
  type PlotlyFigure,
  pngInfo,
  standaloneHtml,
} from "../lib/export/mod.ts";
import { figureBundle, PLOTLY_MIME } from "../lib/display/mod.ts";
import { loadRelease, mainSweep } from "../lib/release/mod.ts";
import { fig1a } from "../lib/figures/mod.ts";
import { fitEq1PerTechnique, paramsOf } from "../lib/analysis/mod.ts";
import { curvesPath } from "./_curves.ts";

/** A plain figure (no release data needed) with a known axis title. */
const simple: PlotlyFigure = {
  data: [{ x: [1, 2, 4, 8], y: [3.1, 3.0, 2.9, 2.8], type: "scatter", mode: "lines+markers" }],
  layout: {
    width: 400,
    height: 300,
    xaxis: { type: "log", title: { text: "Expert Count" } },
    yaxis: { title: { text: "Validation Loss" } },
  },
};

/** Pixels that differ from the top-left (background) colour by more than a little. */
function nonBackgroundPixels(png: Uint8Array): { count: number; total: number } {
  const { rgba, width, height } = decodePng(png);
  const [r0, g0, b0] = rgba;
  let count = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (Math.abs(rgba[i] - r0) + Math.abs(rgba[i + 1] - g0) + Math.abs(rgba[i + 2] - b0) > 30) {
      count++;
    }
  }
  return { count, total: width * height };
}

/**
 * Well-formedness of XML: tags balance into one root element (comments, CDATA and processing
 * instructions skipped). Throws on the first mismatch.
 */
function assertWellFormedXml(xml: string): string {
  const body = xml.replace(/<!--[\s\S]*?-->/g, "").replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "")
    .replace(/<\?[\s\S]*?\?>/g, "");
  const stack: string[] = [];
  let root = "", roots = 0;
  for (const m of body.matchAll(/<(\/?)([A-Za-z_][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (stack.length === 0) {
        roots++;
        root = name;
      }
      if (!self) stack.push(name);
    }
  }
  if (stack.length) throw new Error(`unclosed <${stack.at(-1)}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return root;
}

/** The text of every <text> element of an SVG, parsed as XML by the browser-independent DOMParser-free route. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([\s\S]*?)<\/text>/g)].map((m) =>
    m[1].replace(/<[^>]*>/g, "")
  );
}

describe("findChromium", () => {
  it("names the install command when the binary is missing", () => {
    expect(() => findChromium("/nonexistent/chromium")).toThrow(/apt-get install -y chromium/);
  });
});

describe("standaloneHtml", () => {
  it("inlines plotly.js and references no external script", () => {
    const html = standaloneHtml(simple);
    expect(html.length).toBeGreaterThan(4_000_000);
    expect(html).not.toMatch(/<script[^>]*\bsrc\s*=/i);
    expect(html).not.toMatch(/<link[^>]*\bhref\s*=\s*["']https?:/i);
    expect(html).toContain("Expert Count");
    // exactly two script elements: the library and the newPlot call
    expect(html.match(/<script>/g)?.length).toBe(2);
    expect(html.match(/<\/script>/g)?.length).toBe(2);
  });
});

describe("exportFigures (headless Chromium)", () => {
  it("writes html, svg and png: valid PNG of the right size, parseable SVG with the axis titles", async () => {
    const dir = await Deno.makeTempDir({ prefix: "export-" });
    const done = await exportFigures({ simple }, dir, { scale: 2 });
    expect(done.map((d) => d.files.map((f) => f.split("/").pop()))).toEqual([
      ["simple.html", "simple.svg", "simple.png"],
    ]);
    const png = await Deno.readFile(join(dir, "simple.png"));
    const info = pngInfo(png);
    expect([info.width, info.height]).toEqual([800, 600]);
    const { count, total } = nonBackgroundPixels(png);
    expect(count).toBeGreaterThan(total * 0.005);
    expect(count).toBeLessThan(total * 0.5);
    const svg = await Deno.readTextFile(join(dir, "simple.svg"));
    expect(assertWellFormedXml(svg)).toBe("svg");
    expect(svg).toMatch(/width="400" height="300"/);
    expect(svgTexts(svg)).toEqual(expect.arrayContaining(["Expert Count", "Validation Loss"]));
    const html = await Deno.readTextFile(join(dir, "simple.html"));
    expect(html).not.toMatch(/<script[^>]*\bsrc\s*=/i);
    await Deno.remove(dir, { recursive: true });
  });

  it("rejects unsafe names and non-figures before starting a browser", async () => {
    await expect(exportFigures({ "../x": simple }, "/tmp/x")).rejects.toThrow(/safe file name/);
    await expect(exportFigures({ a: { data: 1 } as unknown as PlotlyFigure }, "/tmp/x")).rejects
      .toThrow(/not a plotly figure/);
  });

  it("renders a different picture for different data (not a blank or cached image)", async () => {
    const r = await FigureRenderer.launch();
    try {
      const a = await r.toPng(simple, { scale: 1 });
      const b = await r.toPng(
        { ...simple, data: [{ ...simple.data[0], y: [2.8, 2.9, 3.0, 3.1] }] },
        {
          scale: 1,
        },
      );
      expect(pngInfo(a).width).toBe(400);
      const da = decodePng(a).rgba, db = decodePng(b).rgba;
      let diff = 0;
      for (let i = 0; i < da.length; i += 4) if (da[i] !== db[i]) diff++;
      expect(diff).toBeGreaterThan(100);
    } finally {
      await r.close();
    }
  });
});

describe("Fig. 1a exported", () => {
  it("to html, svg and png: right size, drawn pixels in the technique colour, axis titles, labels", async () => {
    const df = await loadRelease({ path: curvesPath() });
    const fits = paramsOf(fitEq1PerTechnique(mainSweep(df), { restarts: 30, seed: 2 }));
    const fig = fig1a(mainSweep(df, { seedPolicy: "mean-dense-seeds" }), fits);
    const dir = await Deno.makeTempDir({ prefix: "export-fig1a-" });
    await exportFigures({ fig1a: fig }, dir, { scale: 2 });
    const png = await Deno.readFile(join(dir, "fig1a.png"));
    const { width, height, rgba } = decodePng(png);
    expect([width, height]).toEqual([2 * 560, 2 * 440]);
    const { count, total } = nonBackgroundPixels(png);
    expect(count).toBeGreaterThan(total * 0.02);
    // S-BASE blue #0072B2 is drawn (dots and dashed lines)
    let blue = 0;
    for (let i = 0; i < rgba.length; i += 4) {
      if (
        Math.abs(rgba[i] - 0x00) < 12 && Math.abs(rgba[i + 1] - 0x72) < 12 &&
        Math.abs(rgba[i + 2] - 0xb2) < 12
      ) blue++;
    }
    expect(blue).toBeGreaterThan(2000);
    const svg = await Deno.readTextFile(join(dir, "fig1a.svg"));
    expect(assertWellFormedXml(svg)).toBe("svg");
    const texts = svgTexts(svg);
    expect(texts).toEqual(
      expect.arrayContaining(["Expert Count", "Validation Loss", "15M", "1.3B", "512"]),
    );
    const html = await Deno.readTextFile(join(dir, "fig1a.html"));
    expect(html).not.toMatch(/<script[^>]*\bsrc\s*=/i);
    expect(html).toContain("Predicting Loss for Varying Expert Count");
    await Deno.remove(dir, { recursive: true });
  });
});

describe("figureBundle (display)", () => {
  afterAll(closeSharedRenderer);
  it("holds the plotly JSON, a PNG and an SVG, and the text/plain title", async () => {
    const fig = { ...simple, layout: { ...simple.layout, title: { text: "<b>a)</b> Test" } } };
    const b = await figureBundle(fig, { static: "both", scale: 1 });
    expect((b[PLOTLY_MIME] as PlotlyFigure).data).toEqual(fig.data);
    const png = Uint8Array.from(atob(b["image/png"] as string), (c) => c.charCodeAt(0));
    expect(pngInfo(png)).toMatchObject({ width: 400, height: 300 });
    expect(String(b["image/svg+xml"])).toContain("Expert Count");
    expect(b["text/plain"]).toBe("Figure: a) Test (1 traces)");
  });
});
