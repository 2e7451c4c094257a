/**
 * `deno task reproduce` end to end: a real (tiny) sweep trained by lib/train in two processes, the
 * release and our runs fitted, every figure exported, report.html opened in headless Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { existsSync, readFileSync, statSync } from "node:fs";
import { chromium } from "playwright-core";
import {
  CHROMIUM_FLAGS,
  decodePng,
  findChromium,
  plotlySource,
  toFileUrl,
} from "../lib/export/mod.ts";
import { RELEASE_FIGURES } from "../lib/figures/mod.ts";
import { fmt } from "../lib/analysis/mod.ts";
import { TABLE3 } from "../lib/laws/mod.ts";
import {
  expandSpec,
  loadShippedSweep,
  type SweepSpecInput,
  validateSpec,
} from "../lib/sweep/mod.ts";
import { curvesPath } from "./_curves.ts";

const CLI = new URL("../lib/cli/reproduce.ts", import.meta.url).pathname;

/** 3 sizes x (dense + 3 routers x E in {2, 4}), the smallest over two seeds = 28 runs of 24
 * steps: enough points (9 per technique) for Eq. (1), a held-out check and a measured seed
 * spread, about half a minute on 2 cores. */
const SPEC: SweepSpecInput = {
  name: "report-test",
  routers: ["S-Base", "RL-R", "Hash"],
  sizes: [
    { dModel: 16, layers: 1, heads: 2, seeds: [0, 1] },
    { dModel: 24, layers: 1, heads: 2 },
    { dModel: 32, layers: 1, heads: 2 },
  ],
  experts: [1, 2, 4],
  seeds: [0],
  budget: { steps: 24 },
  train: {
    batchSize: 4,
    seqLen: 32,
    vocabSize: 1024,
    lr: 5e-3,
    warmupSteps: 4,
    evalEvery: 12,
    evalBatches: 2,
  },
  checkpointEvery: 8,
};

const HEADINGS = [
  "What the paper claims",
  "The paper's fits beside the release refit",
  "Goodness of fit per law and technique (release)",
  "Held-out check (release)",
  "Our sweep",
  "Every law on our runs",
  "What carries over at tiny scale",
  "Figures from the release",
  "Figures from our runs",
];

async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { ROUTING_CURVES: curvesPath(), NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const FIT_ARGS = ["--restarts", "20", "--bootstrap", "8", "--bootstrap-restarts", "2"];

let tmp: string;
let cliArgs: string[];
let first: { code: number; out: string; err: string };
let html: string;
// deno-lint-ignore no-explicit-any
let summary: any;

beforeAll(async () => {
  tmp = await Deno.makeTempDir({ prefix: "report-test-" });
  await Deno.writeTextFile(join(tmp, "spec.json"), JSON.stringify(SPEC));
  cliArgs = [
    "--out",
    join(tmp, "out"),
    "--spec",
    join(tmp, "spec.json"),
    "--workers",
    "2",
    ...FIT_ARGS,
  ];
  first = await runCli(cliArgs);
  if (first.code !== 0) throw new Error(`reproduce failed:\n${first.err}\n${first.out}`);
  html = readFileSync(join(tmp, "out", "report.html"), "utf8");
  summary = JSON.parse(readFileSync(join(tmp, "out", "summary.json"), "utf8"));
}, 300_000);

afterAll(async () => {
  if (tmp) await Deno.remove(tmp, { recursive: true }).catch(() => {});
});

describe("deno task reproduce", () => {
  it("trains the sweep in two processes and fits every law to every technique of our runs", () => {
    const planned = expandSpec(validateSpec(SPEC)).length;
    expect(planned).toBe(28);
    expect(summary.sweep.finished).toBe(planned);
    expect(summary.sweep.planned).toBe(planned);
    expect(first.err).toMatch(/\[reproduce\] sweep: runs 0\/28 done/);
    expect(first.err).toMatch(/\[reproduce\] sweep: runs 28\/28 done/);
    for (const t of ["S-Base", "RL-R", "Hash"]) {
      const eq1 = summary.ours[t].eq1;
      for (const k of ["a", "b", "c", "d", "E_start", "E_max"]) {
        expect(Number.isFinite(eq1[k])).toBe(true);
      }
      expect(eq1.n).toBe(12); // 4 dense (two seeds at d16) + 8 routed runs
      // Our runs' Eq. (1) is bounded to E_start >= 1, its resamples too; the release's is not.
      expect(eq1.E_start).toBeGreaterThanOrEqual(1);
      expect(eq1.ci95.E_start[0]).toBeGreaterThanOrEqual(1);
      expect(eq1.ci95.c[0]).toBeLessThanOrEqual(eq1.ci95.c[1]);
      expect(summary.ours[t].held_out.eq1.nTest).toBe(3); // the largest size held out
      expect(summary.release[t].eq1.n).toBeGreaterThan(50);
    }
    expect(summary.ours.Dense.alpha_N).toBeGreaterThan(0);
    expect(summary.ours_options.eq1MinEStart).toBe(1);
    expect(summary.options.eq1MinEStart).toBeUndefined();
  });

  it("writes one self-contained HTML file with plotly.js inlined once", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    // No external script, stylesheet or image: every src/href is inline or a fragment.
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
    expect(html).not.toMatch(/<link[^>]*\shref=["']?https?:/i);
    expect(html).not.toMatch(/<img[^>]*\ssrc=["']?https?:/i);
    // The bundle's opening banner appears exactly once.
    expect(html.split(plotlySource().slice(0, 200)).length - 1).toBe(1);
    const nFigs = summary.figures.release.length + summary.figures.ours.length;
    expect(html.match(/class="plotly-target"/g)?.length).toBe(nFigs);
    expect(html.match(/<noscript><img [^>]*src="data:image\/png;base64,/g)?.length).toBe(nFigs);
    for (const h of HEADINGS) expect(html).toContain(`>${h}</h2>`);
  });

  it("shows the paper's Table 3 and dense fit beside the release refit and our numbers", () => {
    for (const t of ["S-Base", "RL-R", "Hash"] as const) {
      const p = TABLE3[t];
      for (const v of [p.a, p.b, p.d, p.E_start, p.E_max]) expect(html).toContain(`>${v}<`);
      // The release refit and our Eq. (1) fit, formatted as the tables print them.
      expect(html).toContain(`>${fmt(summary.release[t].eq1.a, 4)}<`);
      expect(html).toContain(`>${fmt(summary.ours[t].eq1.a, 4)}<`);
      const [lo, hi] = summary.ours[t].eq1.ci95.a;
      expect(html).toContain(`[${fmt(lo)}, ${fmt(hi)}]`);
    }
    expect(html).toContain(">0.078<"); // alpha_N
    expect(html).toContain(`>${fmt(summary.ours.Dense.alpha_N, 4)}<`);
    // The sweep summary: runs finished.
    expect(html).toMatch(/<td>runs finished<\/td><td class="num">28<\/td>/);
  });

  it("concludes from the numbers: each carry-over sentence matches its computed verdict", () => {
    const ours = summary.claims.ours as { id: string; verdict: string; order?: string[] }[];
    expect(ours.map((c) => c.id)).toEqual([
      "routing_helps",
      "dense_scales",
      "loss_falls_with_E",
      "c_positive",
      "eq1_beats_separable",
      "saturation_measured",
      "technique_order",
    ]);
    const section = html.slice(html.indexOf('id="carry-over"'), html.indexOf('id="figures-'));
    const helps = (summary.claims.ours as {
      id: string;
      verdict: string;
      spread?: { sd: number; cells: number };
      counts?: Record<string, { lower: number; level: number; higher: number }>;
    }[]).find((c) => c.id === "routing_helps")!;
    expect(section).toContain(
      helps.verdict === "holds"
        ? "carries over"
        : helps.verdict === "partly"
        ? "for some techniques only"
        : "for no technique",
    );
    // The spread was measured in this sweep (the smallest size's two seeds: 7 configurations) and
    // every verdict names it; each technique's counts cover its 6 configurations.
    expect(helps.spread!.cells).toBe(7);
    expect(Object.keys(helps.counts!).sort()).toEqual(["Hash", "RL-R", "S-Base"]);
    for (const n of Object.values(helps.counts!)) expect(n.lower + n.level + n.higher).toBe(6);
    const table = html.slice(html.indexOf('id="claims"'), html.indexOf('id="carry-over"'));
    expect(table).toContain(`pooled seed sd ${helps.spread!.sd.toPrecision(2)} nats`);
    if (helps.verdict !== "holds") {
      // One pooled sd, or the per-technique range with the pooled one beside it (claims.ts sdWords).
      const sd = helps.spread!.sd.toPrecision(2).replace(/[.+]/g, "\\$&");
      expect(section).toMatch(
        new RegExp(
          `seed sd (${sd} nats|\\S+-\\S+ nats by (technique and )?size \\(pooled ${sd}\\)) ` +
            `measured in the same sweep`,
        ),
      );
    }
    const maxE = Math.max(...summary.sweep.experts);
    const degenerate = ["S-Base", "RL-R", "Hash"].some((t) => {
      const p = summary.ours[t].eq1;
      return p.E_start < 1 || p.E_max <= p.E_start || p.E_max > 4 * maxE || !p.converged;
    });
    expect(section.includes("not identifiable")).toBe(degenerate);
    const c = summary.ours as Record<string, { eq1: { ci95: { c: [number, number] } } }>;
    const confident = ["S-Base", "RL-R", "Hash"].filter((t) => c[t].eq1.ci95.c[0] > 0).length;
    const cVerdict = ours.find((x) => x.id === "c_positive")!.verdict;
    expect(cVerdict).toBe(confident === 3 ? "holds" : confident > 0 ? "partly" : "fails");
    // Release: the paper's claims, checked with the same rules on its data.
    const rel = summary.claims.release as { id: string; verdict: string; order: string[] }[];
    expect(rel.find((x) => x.id === "c_positive")!.verdict).toBe("holds");
    expect(rel.find((x) => x.id === "routing_helps")!.verdict).toBe("holds");
    expect(rel.find((x) => x.id === "technique_order")!.order.at(-1)).toBe("Hash");
  });

  it("exports every figure as HTML, SVG and PNG for the release and our runs", () => {
    expect(summary.figures.release).toEqual([...RELEASE_FIGURES]);
    expect(summary.figures.ours).toEqual(
      expect.arrayContaining(["fig1a", "fig1c", "technique_comparison", "training_curves"]),
    );
    for (const section of ["release", "ours"]) {
      for (const name of summary.figures[section] as string[]) {
        for (const ext of ["html", "svg", "png"]) {
          const p = join(tmp, "out", "figures", section, `${name}.${ext}`);
          expect(existsSync(p), p).toBe(true);
          expect(statSync(p).size).toBeGreaterThan(1000);
        }
      }
    }
  });

  it("renders its figures when opened in headless Chromium", async () => {
    const profile = await Deno.makeTempDir({ prefix: "report-chromium-" });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: findChromium(),
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = context.pages()[0] ?? await context.newPage();
      // Any request leaving the file would fail offline: record them.
      const external: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) external.push(r.url());
      });
      await page.goto(toFileUrl(join(tmp, "out", "report.html")), { waitUntil: "load" });
      const nFigs = summary.figures.release.length + summary.figures.ours.length;
      await page.waitForFunction(
        (n) =>
          // deno-lint-ignore no-explicit-any
          (globalThis as any).document.querySelectorAll(".js-plotly-plot svg.main-svg").length >=
            n,
        nFigs,
        { timeout: 120_000 },
      );
      const drawn = await page.evaluate(() =>
        // deno-lint-ignore no-explicit-any
        [...(globalThis as any).document.querySelectorAll(".plotly-target")].filter((d: any) =>
          d.classList.contains("js-plotly-plot") && d.querySelector("svg.main-svg") &&
          d.querySelectorAll(".point, .scatterlayer path, .bars path").length > 0
        ).length
      );
      expect(drawn).toBe(nFigs);
      expect(external).toEqual([]);
      // A screenshot of the first figure of each section has drawn pixels, not a blank box.
      for (const section of ["release", "ours"]) {
        const el = page.locator(`#figures-${section} + figure .plotly-target`);
        await el.scrollIntoViewIfNeeded();
        const png = await el.screenshot();
        const path = join(tmp, `first-${section}-figure.png`);
        await Deno.writeFile(path, png);
        const { rgba, width, height } = decodePng(png);
        let ink = 0;
        for (let i = 0; i < rgba.length; i += 4) {
          if (rgba[i] + rgba[i + 1] + rgba[i + 2] < 600) ink++;
        }
        expect(width).toBeGreaterThan(300);
        expect(ink / (width * height)).toBeGreaterThan(0.01);
      }
      const keep = Deno.env.get("REPORT_TEST_SCREENSHOTS");
      if (keep) {
        await page.screenshot({ path: join(keep, "report-page.png") });
        for (const s of ["release", "ours"]) {
          await Deno.copyFile(join(tmp, `first-${s}-figure.png`), join(keep, `first-${s}.png`));
        }
      }
    } finally {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  }, 180_000);

  it("a rerun resumes: no run is trained again and the report is replaced whole", async () => {
    const runsDir = join(tmp, "out", "sweep", "runs");
    const mtimes = () =>
      Object.fromEntries(
        [...Deno.readDirSync(runsDir)].filter((e) => !e.name.startsWith(".")).map((e) => [
          e.name,
          statSync(join(runsDir, e.name, "result.parquet")).mtimeMs,
        ]),
      );
    const before = mtimes();
    expect(Object.keys(before).length).toBe(28);
    const again = await runCli(cliArgs);
    expect(again.code, again.err).toBe(0);
    expect(mtimes()).toEqual(before);
    expect(again.err).not.toMatch(/worker \d: \[sweep\] done/);
    const s2 = JSON.parse(readFileSync(join(tmp, "out", "summary.json"), "utf8"));
    expect(s2.generated_at > summary.generated_at).toBe(true);
    expect(s2.ours["S-Base"].eq1.a).toBe(summary.ours["S-Base"].eq1.a); // same seed, same fit
    const html2 = readFileSync(join(tmp, "out", "report.html"), "utf8");
    expect(html2.trimEnd().endsWith("</html>")).toBe(true);
    expect([...Deno.readDirSync(join(tmp, "out"))].filter((e) => e.name.includes(".tmp-")))
      .toEqual([]);
  }, 180_000);

  it("names the valid presets for a bad one, before doing any work", async () => {
    const r = await runCli(["--out", join(tmp, "bad"), "--preset", "nope"]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('Unknown sweep preset "nope"');
    for (const p of ["smoke", "mini", "quick", "standard", "standard-seeds", "full", "gpu"]) {
      expect(r.err).toContain(p);
    }
    expect(existsSync(join(tmp, "bad"))).toBe(false);
  });

  it("says how to install Chromium when there is none, before doing any work", async () => {
    const r = await runCli(["--out", join(tmp, "nochrome"), "--preset", "smoke"], {
      CHROMIUM_PATH: join(tmp, "no-such-chromium"),
    });
    expect(r.code).toBe(1);
    expect(r.err).toContain("apt-get install -y chromium");
    expect(existsSync(join(tmp, "nochrome"))).toBe(false);
  });

  it("reports the committed standard sweep with --shipped, training nothing", async () => {
    const out = join(tmp, "shipped");
    const root = new URL("..", import.meta.url).pathname;
    const r = await runCli([
      "--out",
      out,
      "--shipped",
      join(root, "data/ours/standard"),
      ...FIT_ARGS,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(out, "sweep"))).toBe(false);
    const page = readFileSync(join(out, "report.html"), "utf8");
    expect(page).toContain("These are the kit's committed results");
    const s = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(s.preset).toBe("standard");
    expect(page).toContain("Supplemented by <code>standard-seeds</code>");
    const helps = s.claims.ours.find((c: { id: string }) => c.id === "routing_helps");
    // The spread is measured on every configuration run with two seeds or more, counted here
    // from the committed runs' labels (the sweep and its seeds supplement together).
    const shipped = loadShippedSweep(join(root, "data/ours/standard"), () => {});
    const seeds = new Map<string, number>();
    for (const label of shipped.results.getColumn("label").toArray() as string[]) {
      const cell = label.replace(/ seed\d+$/, "");
      seeds.set(cell, (seeds.get(cell) ?? 0) + 1);
    }
    expect(helps.spread.cells).toBe([...seeds.values()].filter((n) => n >= 2).length);
    expect(helps.spread.runs).toBe(
      [...seeds.values()].filter((n) => n >= 2).reduce((a, b) => a + b, 0),
    );
    const both = await runCli(["--out", out, "--shipped", "x", "--preset", "quick"]);
    expect(both.code).toBe(1);
    expect(both.err).toContain("--shipped reports a committed sweep under its own spec");
  }, 300_000);

  it("refuses --skip-sweep on a folder without runs of the preset, naming the fix", async () => {
    const r = await runCli([
      "--out",
      join(tmp, "empty"),
      "--preset",
      "smoke",
      "--skip-sweep",
      ...FIT_ARGS,
    ]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("no runs of preset smoke");
    expect(r.err).toContain("run without --skip-sweep");
  });
});
