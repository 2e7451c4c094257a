/**
 * The report as ONE self-contained HTML file: plotly.js inlined once, every figure an interactive
 * div drawn from inline JSON with its PNG (a data: URI) as the fallback when scripts are off or
 * plotting fails; tables and text from the analyses. No external URL is referenced.
 */
import {
  type Analysis,
  type AnalysisInput,
  fmt,
  goodnessCell,
  heldOutCell,
  paperComparison,
  table3Mse,
} from "../analysis/mod.ts";
import { type PlotlyFigure, plotlySource, plotlyVersion } from "../export/mod.ts";
import { displayName } from "../figures/mod.ts";
import { PAPER_DENSE, TABLE3 } from "../laws/mod.ts";
import { carryOver, type ClaimCheck, degenerateFits, verdictWords } from "./claims.ts";

/** One figure of the report. */
export interface ReportFigure {
  /** "release" or "ours". */
  section: "release" | "ours";
  name: string;
  figure: PlotlyFigure;
  /** The exported PNG, embedded as the fallback image. */
  png?: Uint8Array;
}

/** What our sweep did, for its summary section. */
export interface SweepInfo {
  preset: string;
  dir: string;
  /** Where the runs were committed results (data/ours/...), what made them. */
  shipped?: {
    trainingCodeVersion: number;
    machine: string;
    exportedAt: string;
    commands: string[];
    /** Runs of other specs that extend the committed sweep (more seeds), each with its commands. */
    supplements?: { sweep: string; runs: number; sweepWallS: number; commands: string[] }[];
  };
  /** Runs of the preset, runs with a result, diverged ones, runs left out of the fits. */
  planned: number;
  finished: number;
  diverged: number;
  /** Sum of the runs' own training wall times (seconds). */
  trainWallS: number;
  /** Wall time of this invocation's sweep step (0 when every run was already there). */
  sweepWallS: number;
  routers: string[];
  sizes: string[];
  experts: number[];
  tokensPerRun: number;
  NRange: [number, number];
  /** One entry per finished run. */
  runs?: {
    label: string;
    N: number;
    P: number;
    val_loss: number;
    status: string;
    wall_s: number;
    /** The webgpu adapter that trained it ("" on the CPU backends). */
    adapter?: string;
  }[];
}

export interface ReportContent {
  generatedAt: string;
  command: string;
  release: { analysis: Analysis; input: AnalysisInput; claims: ClaimCheck[]; NSpan: number };
  ours?: {
    analysis: Analysis;
    input: AnalysisInput;
    claims: ClaimCheck[];
    sweep: SweepInfo;
    NSpan: number;
  };
  /** Our sweep's summary (also when its runs could not be fitted). */
  sweep?: SweepInfo;
  /** Why our runs could not be fitted, when they could not. */
  fitError?: string;
  figures: ReportFigure[];
  skippedFigures: Record<string, string>;
  timings: Record<string, number>;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** JSON safe inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

function table(header: string[], rows: string[][], caption?: string): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) =>
    `<tr>${
      r.map((c, j) => `<td${j > 0 ? ' class="num"' : ""}>${escapeHtml(c)}</td>`).join("")
    }</tr>`
  ).join("\n");
  return `<table>${caption ? `<caption>${escapeHtml(caption)}</caption>` : ""}<thead><tr>${th}` +
    `</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const interval = (lo: number | null | undefined, hi: number | null | undefined) =>
  lo === null || hi === null || lo === undefined || hi === undefined
    ? "-"
    : `[${fmt(lo)}, ${fmt(hi)}]`;

/** The paper's numbers as printed (3 decimals), large ones in exponent form. */
const paperNum = (x: number | null) => (x !== null && Math.abs(x) < 1e5 ? String(x) : fmt(x));

function comparisonTable(a: Analysis, paperLabel: string, oursLabel: string): string {
  return table(
    ["technique", "quantity", paperLabel, oursLabel, "95% interval"],
    paperComparison(a).map((r) => [
      displayName(r.technique),
      r.quantity,
      paperNum(r.paper),
      fmt(r.ours, 4),
      interval(r.low, r.high),
    ]),
  );
}

const LAWS = ["eq1", "separable", "bilinear", "generalised"] as const;
const LAW_NAMES: Record<string, string> = {
  eq1: "Eq. (1)",
  separable: "separable",
  bilinear: "bilinear",
  generalised: "generalised (F, B)",
};

function goodnessTable(a: Analysis): string {
  const laws = LAWS.filter((k) => Object.values(a.techniques).some((r) => r[k]));
  const rows = Object.entries(a.techniques).map(([t, r]) => [
    displayName(t),
    String(r.n),
    ...laws.map((k) => goodnessCell(r[k])),
  ]);
  if (a.dense) {
    rows.push([
      "Dense (power law)",
      String(a.dense.n),
      ...laws.map((_k, i) =>
        i === 0
          ? `${fmt(a.dense!.mse_log10)} / ${fmt(a.dense!.rmse_loss)} / ${
            fmt(a.dense!.max_residual_loss)
          }`
          : "-"
      ),
    ]);
  }
  return table(["technique", "runs", ...laws.map((k) => LAW_NAMES[k])], rows) +
    `<p class="note">Each cell: MSE of log10 L / RMSE in nats / largest |residual| in nats.</p>`;
}

function heldOutTable(a: Analysis): string {
  const withHeld = Object.entries(a.techniques).filter(([, r]) => r.heldOut);
  if (withHeld.length === 0) {
    return `<p class="note">No held-out check: it needs runs on both sides of N = ${
      fmt(a.options.heldOutMaxN)
    } (at least three sizes).</p>`;
  }
  return `<p>Fit on the runs with N &le; ${
    escapeHtml(fmt(a.options.heldOutMaxN))
  }, predict the larger ones. Each cell: RMSE / largest error in nats / mean |relative error|.</p>` +
    table(
      ["technique", "train runs", "test runs", "Eq. (1)", "separable", "bilinear"],
      withHeld.map(([t, r]) => [
        displayName(t),
        String(r.heldOut!.eq1.nTrain),
        String(r.heldOut!.eq1.nTest),
        ...(["eq1", "separable", "bilinear"] as const).map((k) => heldOutCell(r.heldOut![k])),
      ]),
    );
}

function claimsTable(release: ClaimCheck[], ours?: ClaimCheck[]): string {
  const cell = (c: ClaimCheck | undefined) =>
    c
      ? `<strong>${escapeHtml(c.verdict === "n/a" ? "" : verdictWords(c.verdict, c.id))}</strong>` +
        `<ul>${c.details.map((d) => `<li>${escapeHtml(d)}</li>`).join("")}</ul>`
      : "-";
  const rows = release.map((r) =>
    `<tr><td>${escapeHtml(r.claim)}</td><td>${cell(r)}</td><td>${
      cell(ours?.find((o) => o.id === r.id))
    }</td></tr>`
  ).join("\n");
  return `<table class="claims"><thead><tr><th>claim</th><th>the release (same rules)</th>` +
    `<th>our runs</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function figureBlock(f: ReportFigure, index: number): string {
  const id = `fig-${index}`;
  const title = String(
    (f.figure.layout.title as { text?: string } | undefined)?.text ?? f.name,
  ).replace(/<[^>]*>/g, " ");
  const img = f.png
    ? `<img alt="${escapeHtml(`${f.name} (static image)`)}" src="data:image/png;base64,${
      toBase64(f.png)
    }">`
    : "<p>(no static image)</p>";
  return `<figure class="plot" data-name="${escapeHtml(f.name)}">
<div class="plotly-target" id="${id}"></div>
<noscript>${img}</noscript>
<figcaption>${escapeHtml(f.name)}: ${escapeHtml(title)}</figcaption>
</figure>`;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

const CSS = `
body{font-family:Arial,'DejaVu Sans',sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;vertical-align:top}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
table.claims td{text-align:left}table.claims ul{margin:.2em 0;padding-left:1.2em}
.note{color:#555;font-size:.9em}figure.plot{margin:1.5em 0;overflow-x:auto}
figure.plot img{max-width:100%}figcaption{color:#555;font-size:.85em}
.plotly-target{min-height:200px}code{background:#f5f5f5;padding:0 .2em}
`;

const e = escapeHtml;
const h2 = (id: string, text: string) => `<h2 id="${id}">${escapeHtml(text)}</h2>`;
const para = (html: string) => `<p>${html}</p>`;

/** A plot of the page: the div it is drawn in, and what plotly draws there. */
interface PagePlot {
  id: string;
  data: unknown;
  layout: unknown;
  config: unknown;
}

/** The title and what made the report (command, fit settings, plotly version). */
function headerSection(c: ReportContent): string[] {
  const o = c.release.analysis.options;
  return [
    `<h1>Unified Scaling Laws for Routed Language Models: reproduction report</h1>`,
    `<p class="note">Generated ${e(c.generatedAt)} by <code>${
      e(c.command)
    }</code>. Fits: ${o.restarts} random restarts, ${o.bootstrap} bootstrap resamples (${o.bootstrapRestarts} restarts each), MSE of log10 L, seed ${o.seed}. ` +
    `Figures drawn with plotly.js ${e(plotlyVersion())}, inlined; this file needs no network.</p>`,
  ];
}

/** The paper's claims and Table 3, then the verdicts of the same rules on both data sets. */
function claimsSection(c: ReportContent): string[] {
  const t3 = Object.entries(TABLE3).map(([t, q]) =>
    `${
      displayName(t)
    }: a ${q.a}, b ${q.b}, c ${q.c}, d ${q.d}, E_start ${q.E_start}, E_max ${q.E_max}`
  );
  return [
    h2("claims", "What the paper claims"),
    `<p>Clark et al. (2022) fit the final validation loss L of dense and routed transformers (S-BASE, RL-R, Hash; 15M-1.3B dense parameters N, 1-512 experts E, 130B tokens) with one law,</p>`,
    `<p style="text-align:center"><code>log10 L = a log10 N + b log10 &Ecirc; + c log10 N log10 &Ecirc; + d</code>, with &Ecirc; a saturating transform of E (E_start, E_max) &mdash; Eq. (1),</p>`,
    `<ul><li>routing improves the loss at every size they trained, for every technique;</li>` +
    `<li>c &gt; 0: the improvement shrinks as N grows, and vanishes at N_cutoff (937B for S-BASE, 85B RL-R, 83B Hash);</li>` +
    `<li>Eq. (1)'s interaction term is needed: it fits better than a separable law;</li>` +
    `<li>S-BASE and RL-R are close and ahead of Hash; a 5M model with 128 experts matches a 55M dense one (its Effective Parameter Count);</li>` +
    `<li>dense models follow L = (N_c / N)^alpha_N with alpha_N = ${PAPER_DENSE.alpha_N}, N_c = ${
      fmt(PAPER_DENSE.N_c)
    }.</li></ul>`,
    `<p>Table 3 of the paper: ${t3.map(e).join("; ")}.</p>`,
    `<p>The same simple rules check these claims on the authors' released losses and on our own runs (verdicts and the numbers behind them):</p>`,
    claimsTable(c.release.claims, c.ours?.claims),
  ];
}

/** Eq. (1) refitted to the release beside Table 3, and both coefficient sets' error. */
function releaseFitsSection(c: ReportContent): string[] {
  const rel = c.release;
  const parts = [
    h2("release-fits", "The paper's fits beside the release refit"),
    para(
      `Eq. (1) refitted to ${
        e(rel.analysis.source)
      } (the seed-42 main sweep, as the authors fit) ` +
        `with 95% bootstrap intervals, beside Table 3, the dense fit, N_cutoff and the EPC example.`,
    ),
    comparisonTable(rel.analysis, "paper", "release refit"),
  ];
  const mse = table3Mse(rel.analysis, rel.input);
  if (mse.length) {
    parts.push(
      table(
        ["technique", "MSE(log10 L), Table 3 coefficients", "MSE(log10 L), our refit"],
        mse.map((r) => [displayName(r.technique), fmt(r.paper_mse_log10), fmt(r.ours_mse_log10)]),
        "The published coefficients and ours on the same data",
      ),
    );
  }
  return parts;
}

/** Goodness of fit of every law on the release. */
function releaseGoodnessSection(c: ReportContent): string[] {
  return [
    h2("goodness", "Goodness of fit per law and technique (release)"),
    goodnessTable(c.release.analysis),
  ];
}

/** The held-out check on the release. */
function releaseHeldOutSection(c: ReportContent): string[] {
  return [h2("held-out", "Held-out check (release)"), heldOutTable(c.release.analysis)];
}

/** What our sweep ran: preset, grid, run counts and times, where committed results came from. */
function sweepSection(c: ReportContent): string[] {
  const parts = [h2("sweep", "Our sweep")];
  const s = c.ours?.sweep ?? c.sweep;
  if (!s) return [...parts, para("No sweep results: this report covers the release only.")];
  parts.push(
    `<p>Preset <code>${e(s.preset)}</code> in <code>${e(s.dir)}</code>: routers ${
      e(s.routers.map(displayName).join(", "))
    }; sizes ${e(s.sizes.join(", "))} (N ${e(fmt(s.NRange[0]))} to ${
      e(fmt(s.NRange[1]))
    } dense parameters); E in {${s.experts.join(", ")}}; ${
      e(fmt(s.tokensPerRun))
    } tokens a run.</p>`,
    table(["quantity", "value"], [
      ["runs planned", String(s.planned)],
      ["runs finished", String(s.finished)],
      ["diverged (left out of the fits)", String(s.diverged)],
      ["training wall time, sum over runs", `${(s.trainWallS / 60).toFixed(1)} min`],
      [
        s.shipped ? "sweep wall time when it ran" : "sweep wall time in this invocation",
        `${(s.sweepWallS / 60).toFixed(1)} min`,
      ],
    ]),
  );
  if (s.shipped) {
    parts.push(
      `<p>These are the kit's committed results (nothing was trained for this report): ` +
        `training code version ${s.shipped.trainingCodeVersion}, run on ${
          e(s.shipped.machine)
        }, exported ${e(s.shipped.exportedAt)}. To train them again: ${
          s.shipped.commands.map((cmd) => `<code>${e(cmd)}</code>`).join(", then ")
        }.</p>`,
      ...(s.shipped.supplements ?? []).map((x) =>
        `<p>Supplemented by <code>${e(x.sweep)}</code>: ${x.runs} more runs of the same code on ` +
        `the same machine (${(x.sweepWallS / 60).toFixed(1)} min of sweep), counted among the ` +
        `runs above. To train them again: ${
          x.commands.map((cmd) => `<code>${e(cmd)}</code>`).join(", then ")
        }.</p>`
      ),
    );
  }
  if (s.runs?.length) {
    // Where the runs trained: a "GPU" run on a software adapter ran on the CPU, and says so.
    const devices = [...new Set(s.runs.map((r) => r.adapter || "the CPU (wasm)"))].map((d) =>
      /\bsoftware\b/.test(d) ? `${d} (a CPU-emulated GPU)` : d
    );
    parts.push(
      `<p>Trained on: ${devices.map(e).join("; ")}.</p>`,
      `<details><summary>Every run (${s.runs.length})</summary>`,
      table(
        ["run", "N (dense params)", "P (all params)", "val loss", "status", "train s", "adapter"],
        s.runs.map((r) => [
          r.label,
          fmt(r.N),
          fmt(r.P),
          fmt(r.val_loss, 5),
          r.status,
          fmt(r.wall_s),
          r.adapter || "-",
        ]),
      ),
      `</details>`,
    );
  }
  return parts;
}

/** Every law on our runs, or why they could not be fitted. */
function oursFitsSection(c: ReportContent): string[] {
  const head = h2("ours-fits", "Every law on our runs");
  const ours = c.ours;
  if (!ours) {
    return [
      head,
      para(c.fitError ? `Our runs could not be fitted: ${e(c.fitError)}.` : "No sweep results."),
    ];
  }
  return [
    head,
    para(
      `The same code fits our runs (${e(ours.analysis.source)}): Eq. (1) with 95% bootstrap ` +
        `intervals beside Table 3 (fitted at 1000x our sizes and a million times our tokens, so ` +
        `the coefficients are not expected to agree; the signs and the fit quality are the test)` +
        (ours.analysis.options.eq1MinEStart > 0
          ? `, with E_start &ge; ${ours.analysis.options.eq1MinEStart} imposed: without it our ` +
            `few expert counts let the fit slide to E_start &rarr; 0, where Eq. (1) degenerates.`
          : "."),
    ),
    comparisonTable(ours.analysis, "paper (Table 3)", "our runs"),
    goodnessTable(ours.analysis),
    `<h3>Held-out check (our runs)</h3>`,
    heldOutTable(ours.analysis),
  ];
}

/** The sentences, chosen by rule from both sets of verdicts, on what carries over. */
function carryOverSection(c: ReportContent): string[] {
  const head = h2("carry-over", "What carries over at tiny scale");
  const rel = c.release, ours = c.ours;
  if (!ours) return [head, para("Needs fits of our sweep's runs (see above).")];
  const sentences = carryOver(
    rel.claims,
    ours.claims,
    { release: rel.NSpan, ours: ours.NSpan },
    degenerateFits(ours.analysis, ours.input),
  );
  return [
    head,
    `<ul>${sentences.map((s) => `<li>${e(s)}</li>`).join("\n")}</ul>`,
    `<p class="note">Each sentence is chosen by a rule from the verdicts in the first table; ` +
    `single-seed runs at this size differ by a few hundredths of a nat from seed to seed.</p>`,
  ];
}

/** The figures of the release, then of our runs, and the plots the page script draws. */
function figureSections(c: ReportContent): { parts: string[]; plots: PagePlot[] } {
  const sections = [["release", "Figures from the release"], ["ours", "Figures from our runs"]];
  const parts: string[] = [];
  const plots: PagePlot[] = [];
  for (const [key, title] of sections) {
    parts.push(h2(`figures-${key}`, title));
    for (const f of c.figures.filter((f) => f.section === key)) {
      const index = plots.length;
      parts.push(figureBlock(f, index));
      plots.push({
        id: `fig-${index}`,
        data: f.figure.data,
        layout: f.figure.layout,
        config: { displaylogo: false, responsive: true, ...(f.figure.config ?? {}) },
      });
    }
    const skipped = Object.entries(c.skippedFigures).filter(([k]) => k.startsWith(`${key}/`));
    if (skipped.length) {
      parts.push(
        `<p class="note">Not drawn: ${
          skipped.map(([k, why]) => `${e(k.slice(key.length + 1))} (${e(why)})`).join("; ")
        }.</p>`,
      );
    }
  }
  return { parts, plots };
}

/** How long each step of the invocation took. */
function timingsSection(c: ReportContent): string[] {
  return [
    h2("timings", "How long each step took"),
    table(["step", "seconds"], Object.entries(c.timings).map(([k, v]) => [k, v.toFixed(1)])),
  ];
}

/** The page around the sections: plotly.js inlined, then a script drawing every plot. */
function page(body: string, plots: PagePlot[]): string {
  // The bundle is inlined verbatim; a literal "</script" in it would end the element early.
  const lib = plotlySource().replace(/<\/script/gi, "<\\/script");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Routed scaling laws: reproduction report</title>
<style>${CSS}</style>
<script>${lib}</script>
</head><body>
${body}
<script>
(function () {
  var plots = ${scriptJson(plots)};
  plots.forEach(function (p) {
    var div = document.getElementById(p.id);
    var fallback = function () {
      var ns = div.parentNode.querySelector("noscript");
      if (ns) div.innerHTML = ns.textContent;
    };
    try {
      if (typeof Plotly === "undefined") return fallback();
      Plotly.newPlot(div, p.data, p.layout, p.config).catch(fallback);
    } catch (err) { fallback(); }
  });
})();
</script>
</body></html>
`;
}

/** The whole report as one HTML string: its sections in order, in one page. */
export function reportHtml(c: ReportContent): string {
  const figures = figureSections(c);
  const parts = [
    ...headerSection(c),
    ...claimsSection(c),
    ...releaseFitsSection(c),
    ...releaseGoodnessSection(c),
    ...releaseHeldOutSection(c),
    ...sweepSection(c),
    ...oursFitsSection(c),
    ...carryOverSection(c),
    ...figures.parts,
    ...timingsSection(c),
  ];
  return page(parts.join("\n"), figures.plots);
}
