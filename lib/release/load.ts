/**
 * Parse the release (gzip CSV bytes) into a typed nodejs-polars DataFrame, with a clear Error for
 * every way the file can be wrong: not gzip, truncated gzip, not CSV, missing or mistyped columns.
 */
import pl from "nodejs-polars";
import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import {
  ALL_COLUMNS,
  FLOAT_COLUMNS,
  INT_COLUMNS,
  LOSS_COLUMNS,
  RELEASE,
  RELEASE_URL,
  ROUTER_TYPES,
  STRING_COLUMNS,
} from "./schema.ts";
import { resolveCurvesPath, type ResolveOptions } from "./source.ts";

function fix(file: string): string {
  return `Re-download ${RELEASE.path} (${RELEASE_URL}) or point ROUTING_CURVES / --curves at an ` +
    `intact copy; delete ${file} if it is the cache.`;
}

/** Cast one column from strings, reporting the first cell that does not parse. */
function castColumn(
  file: string,
  raw: pl.Series,
  kind: "int" | "float" | "loss",
): pl.Series {
  const name = raw.name;
  const parsed = raw.cast(pl.Float64, false); // unparseable text -> null
  const text = raw.toArray() as (string | null)[];
  const vals = parsed.toArray() as (number | null)[];
  for (let i = 0; i < vals.length; i++) {
    const t = text[i];
    const v = vals[i];
    const where = `column "${name}", data row ${i + 1} (line ${i + 2})`;
    if (t === null || t.trim() === "") {
      if (kind !== "loss") {
        throw new Error(
          `${file}: ${where} is empty; "${name}" must hold a number in every row. ${fix(file)}`,
        );
      }
      continue;
    }
    if (v === null || !Number.isFinite(v)) {
      throw new Error(
        `${file}: ${where} holds ${JSON.stringify(t)}, expected ${
          kind === "int" ? "an integer" : "a number"
        }: the column is mistyped. ${fix(file)}`,
      );
    }
    if (kind === "int" && !Number.isInteger(v)) {
      throw new Error(
        `${file}: ${where} holds ${JSON.stringify(t)}, expected an integer. ${fix(file)}`,
      );
    }
  }
  return kind === "int" ? parsed.cast(pl.Int32).rename(name) : parsed.rename(name);
}

/** Parse release bytes; `file` only names the source in error messages. */
export function parseRelease(bytes: Uint8Array, file: string): pl.DataFrame {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw new Error(
      `${file} is not a gzip file (it does not start with the gzip magic bytes 1f 8b); expected ` +
        `the release's curves.csv.gz. ${fix(file)}`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder().decode(gunzipSync(bytes));
  } catch (e) {
    throw new Error(
      `${file} could not be decompressed (${
        (e as Error).message
      }): the gzip file is truncated or damaged. ${fix(file)}`,
    );
  }
  const header = text.slice(0, text.indexOf("\n") >>> 0).trim().split(",");
  const missing = ALL_COLUMNS.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new Error(
      `${file} lacks the column(s) ${missing.join(", ")} (found: ${
        header.slice(0, 30).join(", ")
      }). The release has ${ALL_COLUMNS.length} columns; ${fix(file)}`,
    );
  }
  let raw: pl.DataFrame;
  try {
    raw = pl.readCSV(text, { inferSchemaLength: 0 }); // every column as text; cast below
  } catch (e) {
    throw new Error(`${file} is not a readable CSV (${(e as Error).message}). ${fix(file)}`);
  }
  if (raw.height === 0) throw new Error(`${file} holds a header but no rows. ${fix(file)}`);
  const cols: pl.Series[] = [];
  for (const c of INT_COLUMNS) cols.push(castColumn(file, raw.getColumn(c), "int"));
  for (const c of FLOAT_COLUMNS) cols.push(castColumn(file, raw.getColumn(c), "float"));
  for (const c of STRING_COLUMNS) {
    const s = raw.getColumn(c);
    const nullAt = (s.toArray() as (string | null)[]).findIndex((v) => v === null || v === "");
    if (nullAt >= 0) {
      throw new Error(
        `${file}: column "${c}", data row ${nullAt + 1} (line ${nullAt + 2}) is empty. ${
          fix(file)
        }`,
      );
    }
    cols.push(s);
  }
  const routers = raw.getColumn("router_type").toArray() as string[];
  const badRouter = routers.findIndex((r) => !(ROUTER_TYPES as readonly string[]).includes(r));
  if (badRouter >= 0) {
    throw new Error(
      `${file}: column "router_type", data row ${badRouter + 1} holds ${
        JSON.stringify(routers[badRouter])
      }; expected one of ${ROUTER_TYPES.join(", ")}. ${fix(file)}`,
    );
  }
  for (const c of LOSS_COLUMNS) cols.push(castColumn(file, raw.getColumn(c), "loss"));
  // Release column order, typed.
  const byName = new Map(cols.map((s) => [s.name, s]));
  return pl.DataFrame(header.filter((h) => byName.has(h)).map((h) => byName.get(h)!));
}

/**
 * Every row of the release (5,799 rows, 223 runs), typed: Int32 ids/steps/shape, Float64 counts,
 * FLOPs, routing frequency, flop_increase and the six losses (null where the release cell is
 * empty), String router_type and model_size_label. The file comes from `resolveCurvesPath(opts)`.
 */
export async function loadRelease(opts: ResolveOptions = {}): Promise<pl.DataFrame> {
  const file = await resolveCurvesPath(opts);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new Error(`Could not read the release file ${file}: ${(e as Error).message}`);
  }
  return parseRelease(bytes, file);
}
