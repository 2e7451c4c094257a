/**
 * The per-router table of a sweep as Markdown, for README and closing notes: one row per
 * (technique, size), one column per E, each cell the mean loss over seeds and the gain over the
 * dense run of that size, marked by its verdict against the seed spread ("~" within it, "!"
 * worse beyond it, unmarked: beats dense beyond it). Built from gainTable, so it says what the
 * report says. changeMarkdown sets two such tables side by side (a before and after of a fix).
 */
import { displayName } from "../figures/mod.ts";
import type { GainRow } from "./claims.ts";

/** `sizeLabel` names a size (e.g. N -> "d_model 64"); the default prints N. */
export function gainMarkdown(
  rows: GainRow[],
  sizeLabel: (N: number) => string = (N) => N.toExponential(2),
): string {
  if (rows.length === 0) return "(no routed configuration with a dense run of its size)";
  const Es = [...new Set(rows.map((r) => r.E))].sort((a, b) => a - b);
  const Ns = [...new Set(rows.map((r) => r.N))].sort((a, b) => a - b);
  const techs = [...new Set(rows.map((r) => r.technique))];
  const f3 = (x: number) => x.toFixed(3);
  const mark = (r: GainRow) => r.verdict === "level" ? "~" : r.verdict === "worse" ? "!" : "";
  const header = ["router", "size", "dense", ...Es.map((E) => `E = ${E}`)];
  const lines = [header, header.map(() => "---")];
  for (const t of techs) {
    for (const N of Ns) {
      const here = rows.filter((r) => r.technique === t && r.N === N);
      if (here.length === 0) continue;
      lines.push([
        displayName(t),
        sizeLabel(N),
        f3(here[0].dense),
        ...Es.map((E) => {
          const r = here.find((x) => x.E === E);
          if (!r) return "";
          return `${f3(r.loss)} (${r.gain >= 0 ? "+" : ""}${f3(r.gain)}${mark(r)})`;
        }),
      ]);
    }
  }
  return lines.map((l) => `| ${l.join(" | ")} |`).join("\n");
}

/**
 * Two sweeps' per-router tables cell by cell (before and after a change to the training code):
 * one row per (technique, size), with dense, one column per E, each cell "before -> after" with
 * the change of loss (negative: the change lowered it). Cells only one sweep has are left out.
 */
export function changeMarkdown(
  before: GainRow[],
  after: GainRow[],
  sizeLabel: (N: number) => string = (N) => N.toExponential(2),
): string {
  const key = (r: GainRow) => `${r.technique}|${r.N}|${r.E}`;
  const old = new Map(before.map((r) => [key(r), r]));
  const pairs = after.filter((r) => old.has(key(r))).map((r) => ({ b: old.get(key(r))!, a: r }));
  if (pairs.length === 0) return "(the two sweeps share no routed configuration)";
  const Es = [...new Set(pairs.map((p) => p.a.E))].sort((x, y) => x - y);
  const Ns = [...new Set(pairs.map((p) => p.a.N))].sort((x, y) => x - y);
  const techs = [...new Set(pairs.map((p) => p.a.technique))];
  const f3 = (x: number) => x.toFixed(3);
  const delta = (b: number, a: number) => `${a - b >= 0 ? "+" : ""}${f3(a - b)}`;
  const header = ["router", "size", "dense", ...Es.map((E) => `E = ${E}`)];
  const lines = [header, header.map(() => "---")];
  for (const t of techs) {
    for (const N of Ns) {
      const here = pairs.filter((p) => p.a.technique === t && p.a.N === N);
      if (here.length === 0) continue;
      const d = here[0];
      lines.push([
        displayName(t),
        sizeLabel(N),
        `${f3(d.b.dense)} -> ${f3(d.a.dense)}`,
        ...Es.map((E) => {
          const p = here.find((x) => x.a.E === E);
          return p ? `${f3(p.b.loss)} -> ${f3(p.a.loss)} (${delta(p.b.loss, p.a.loss)})` : "";
        }),
      ]);
    }
  }
  return lines.map((l) => `| ${l.join(" | ")} |`).join("\n");
}
