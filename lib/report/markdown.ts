/**
 * The per-router table of a sweep as Markdown, for README and closing notes: one row per
 * (technique, size), one column per E, each cell the mean loss over seeds and the gain over the
 * dense run of that size, marked by its verdict against the seed spread ("~" within it, "!"
 * worse beyond it, unmarked: beats dense beyond it). Built from gainTable, so it says what the
 * report says.
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
