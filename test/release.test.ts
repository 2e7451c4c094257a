import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import pl from "nodejs-polars";
import { createServer, type Server } from "node:http";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { gunzipSync, gzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import {
  finalSteps,
  fitData,
  loadRelease,
  LOSS_COLUMNS,
  mainSweep,
  RELEASE,
  resolveCurvesPath,
  routingFrequencySweep,
  sha256Hex,
  type Technique,
  TECHNIQUES,
  topKSweep,
  trainingCurves,
} from "../lib/release/mod.ts";
import { curvesPath } from "./_curves.ts";

const PATH = curvesPath();

/** Independent reading of the release: plain split of the decompressed CSV (it has no quotes). */
async function plainRows(): Promise<Record<string, string>[]> {
  const text = new TextDecoder().decode(gunzipSync(await readFile(PATH)));
  const lines = text.trim().split("\n");
  const head = lines[0].split(",");
  return lines.slice(1).map((l) => {
    const v = l.split(",");
    return Object.fromEntries(head.map((h, i) => [h, v[i]]));
  });
}

let df: pl.DataFrame;
let rows: Record<string, string>[];
let tmp: string;
const savedEnv: Record<string, string | undefined> = {};
const ENV_VARS = ["ROUTING_CURVES", "ROUTING_CURVES_NO_VERIFY", "ROUTING_CURVES_URL"];

beforeAll(async () => {
  df = await loadRelease({ path: PATH });
  rows = await plainRows();
  tmp = await mkdtemp(join(tmpdir(), "release-test-"));
  for (const v of ENV_VARS) savedEnv[v] = process.env[v];
});
afterEach(() => {
  for (const v of ENV_VARS) {
    if (savedEnv[v] === undefined) delete process.env[v];
    else process.env[v] = savedEnv[v];
  }
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const col = (f: pl.DataFrame, c: string) => f.getColumn(c).toArray() as (number | string | null)[];

describe("loading the release", () => {
  it("file matches the pinned sha256", async () => {
    expect(sha256Hex(await readFile(PATH))).toBe(RELEASE.sha256);
  });

  it("has every row and 223 runs, with typed columns", () => {
    expect(df.height).toBe(rows.length);
    expect(df.height).toBe(5799);
    expect(new Set(col(df, "hyper_id")).size).toBe(223);
    const types = Object.fromEntries(df.columns.map((c, i) => [c, String(df.dtypes[i])]));
    for (const c of ["hyper_id", "step", "num_experts", "d_model", "k", "seed", "kqv_size"]) {
      expect(types[c]).toContain("Int32");
    }
    for (const c of [...LOSS_COLUMNS, "flops_per_step", "dense_parameter_count"]) {
      expect(types[c]).toContain("Float64");
    }
    expect(types.router_type).toContain("String");
    expect(types.model_size_label).toContain("String");
  });

  it("values equal an independent plain parse, empty cells as null", () => {
    const loss = col(df, "loss_pile");
    const fl = col(df, "flops_per_step");
    let nulls = 0;
    rows.forEach((r, i) => {
      if (r.loss_pile === "") {
        expect(loss[i]).toBeNull();
        nulls++;
      } else expect(loss[i]).toBe(Number(r.loss_pile));
      expect(fl[i]).toBe(Number(r.flops_per_step));
    });
    expect(nulls).toBe(15);
  });
});

describe("views", () => {
  it("finalSteps: one row per run at its largest step, losses as the authors' groupby.last()", () => {
    const f = finalSteps(df);
    expect(f.height).toBe(223);
    const byRun = new Map<number, Record<string, string>[]>();
    for (const r of rows) {
      const id = Number(r.hyper_id);
      byRun.set(id, [...(byRun.get(id) ?? []), r]);
    }
    const ids = col(f, "hyper_id") as number[];
    for (const c of ["step", ...LOSS_COLUMNS]) {
      const got = col(f, c);
      ids.forEach((id, i) => {
        const rs = [...byRun.get(id)!].sort((a, b) => Number(a.step) - Number(b.step));
        const want = c === "step"
          ? Math.max(...rs.map((r) => Number(r.step)))
          : Number(rs.filter((r) => r[c] !== "").at(-1)![c]);
        expect(got[i]).toBe(want);
      });
    }
    // loss_validation is present at the final step of every run.
    const last = new Map(ids.map((id, i) => [id, col(f, "step")[i]]));
    for (const r of rows) {
      if (Number(r.step) === last.get(Number(r.hyper_id))) expect(r.loss_validation).not.toBe("");
    }
    expect(col(f, "loss")).toEqual(col(f, "loss_validation"));
  });

  it("mainSweep seed42: the paper's grid minus the missing cells docs/release-data.md lists", () => {
    const m = mainSweep(df);
    const sizes = ["15M", "25M", "55M", "130M", "370M", "1.3B"];
    const Es = [2, 4, 8, 16, 32, 64, 128, 256, 512];
    const missing = new Set(["S-Base 130M 256", "Hash 25M 32", "Hash 130M 8", "Hash 130M 256"]);
    const tech = col(m, "technique"), rt = col(m, "router_type");
    const size = col(m, "model_size_label"), E = col(m, "E");
    for (const t of TECHNIQUES) {
      const keys = m.height === 0
        ? []
        : tech.map((x, i) => x === t ? `${rt[i]} ${size[i]} ${E[i]}` : "").filter((k) => k !== "");
      expect(new Set(keys).size).toBe(keys.length); // one row per cell
      const want: string[] = [];
      for (const s of sizes) {
        if (s !== "130M") want.push(`Dense ${s} 1`); // Dense 130M has no seed 42
        for (const e of Es) if (!missing.has(`${t} ${s} ${e}`)) want.push(`${t} ${s} ${e}`);
      }
      expect(keys.sort()).toEqual(want.sort());
    }
    expect(m.height).toBe(53 + 54 + 51 + 3 * 5);
    // Invariants: R = 0.5, k = 1, seed 42, dense rows are E = 1, N = dense_parameter_count.
    expect(new Set(col(m, "R"))).toEqual(new Set([0.5]));
    expect(new Set(col(m, "k"))).toEqual(new Set([1]));
    expect(new Set(col(m, "seed"))).toEqual(new Set([42]));
    rt.forEach((r, i) => {
      if (r === "Dense") expect(E[i]).toBe(1);
      else expect(r).toBe(tech[i]);
    });
    expect(col(m, "N")).toEqual(col(m, "dense_parameter_count"));
    const one = mainSweep(df, { technique: "RL-R" });
    expect(one.height).toBe(59);
    expect(new Set(col(one, "technique"))).toEqual(new Set(["RL-R"]));
  });

  it("mainSweep mean-dense-seeds: 130M dense is the mean of seeds 1, 2, 3; the rest unchanged", () => {
    const a = mainSweep(df, { technique: "Hash" });
    const b = mainSweep(df, { technique: "Hash", seedPolicy: "mean-dense-seeds" });
    expect(b.height).toBe(a.height + 1);
    const d130 = b.filter(
      pl.col("router_type").eq(pl.lit("Dense")).and(pl.col("model_size_label").eq(pl.lit("130M"))),
    );
    expect(d130.height).toBe(1);
    const finals = finalSteps(df).filter(pl.col("hyper_id").isIn([9, 10, 11]));
    expect(new Set(col(finals, "seed"))).toEqual(new Set([1, 2, 3]));
    for (const c of LOSS_COLUMNS) {
      const xs = col(finals, c) as number[];
      const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
      expect(col(d130, c)[0]).toBeCloseTo(mean, 12);
    }
    expect(col(d130, "n_runs")[0]).toBe(3);
    expect(col(d130, "seed")[0]).toBeNull();
    expect(col(d130, "E")[0]).toBe(1);
    const rest = b.filter(pl.col("n_runs").eq(1));
    expect(rest.select("hyper_id", "loss", "E").sort("hyper_id").toRecords()).toEqual(
      a.select("hyper_id", "loss", "E").sort("hyper_id").toRecords(),
    );
  });

  it("unknown technique and seed policy: errors list the valid ones", () => {
    expect(() => mainSweep(df, { technique: "BASE" as Technique })).toThrow(
      /Unknown technique "BASE".*S-Base, RL-R, Hash/,
    );
    expect(() => mainSweep(df, { seedPolicy: "median" as unknown as "seed42" })).toThrow(
      /seed42, mean-dense-seeds/,
    );
    expect(() => mainSweep(pl.DataFrame({ a: [1] }))).toThrow(/lacks column/);
  });

  it("routingFrequencySweep: S-Base and Hash, 25M and 370M, E 8/64/256, the R values of docs/release-data.md", () => {
    const r = routingFrequencySweep(df);
    expect(r.height).toBe(52);
    expect(new Set(col(r, "technique"))).toEqual(new Set(["S-Base", "Hash"]));
    expect(new Set(col(r, "E"))).toEqual(new Set([8, 64, 256]));
    const recs = r.select("technique", "model_size_label", "E", "R").toRecords();
    for (const t of ["S-Base", "Hash"]) {
      for (const [size, Rs] of [["25M", [1, 0.5, 0.25, 0.125]], ["370M", [1, 0.5, 0.25, 1 / 12]]]) {
        for (const E of [8, 64, 256]) {
          const got = recs.filter((x) =>
            x.technique === t && x.model_size_label === size && x.E === E
          ).map((x) => x.R as number);
          expect(new Set(got)).toEqual(new Set(Rs as number[]));
        }
      }
    }
    // Identical-settings duplicates are kept as separate runs (S-Base 25M E=256 R=1: 28 and 67).
    expect(col(r, "hyper_id")).toEqual(expect.arrayContaining([28, 67, 47, 56, 49, 57, 54, 66]));
    expect(new Set(col(r, "k"))).toEqual(new Set([1]));
    const withDense = routingFrequencySweep(df, { includeDense: true });
    expect(withDense.height).toBe(52 + 2 * 2); // dense 25M and 370M, once per technique
  });

  it("topKSweep: S-Base k 1/2/4 and the FLOP-matched dense baselines", () => {
    const t = topKSweep(df);
    expect(t.height).toBe(26);
    const recs = t.toRecords();
    const routed = recs.filter((x) => x.router_type !== "Dense");
    expect(routed.length).toBe(18);
    for (const x of routed) {
      expect(x.router_type).toBe("S-Base");
      expect(["25M", "370M"]).toContain(x.model_size_label);
      expect([8, 64, 256]).toContain(x.E);
      expect([1, 2, 4]).toContain(x.k);
    }
    const dense = recs.filter((x) => x.router_type === "Dense")
      .map((x) => `${x.model_size_label} ${x.flop_increase} ${x.k}`).sort();
    expect(dense).toEqual(
      ["25M 1 1", "25M 2 2", "25M 4 4", "55M 1 1", "55M 4 4", "370M 1 1", "370M 2 2", "370M 4 4"]
        .sort(),
    );
    // FLOP-matched: dense flop_increase f costs the same forward FLOPs as S-Base k = f (to 0.1%).
    for (const f of [2, 4]) {
      for (const size of ["25M", "370M"]) {
        const d = recs.find((x) =>
          x.router_type === "Dense" && x.model_size_label === size && x.flop_increase === f
        )!;
        const s = recs.find((x) =>
          x.router_type === "S-Base" && x.model_size_label === size && x.k === f && x.E === 8
        )!;
        expect(Math.abs((d.F as number) / (s.F as number) - 1)).toBeLessThan(1e-3);
      }
    }
  });

  it("trainingCurves: every evaluation, sorted, with tokens = step x 256 x 2048", () => {
    const c = trainingCurves(df);
    expect(c.height).toBe(5799);
    const id = col(c, "hyper_id") as number[], st = col(c, "step") as number[];
    for (let i = 1; i < id.length; i++) {
      expect(id[i] > id[i - 1] || (id[i] === id[i - 1] && st[i] > st[i - 1])).toBe(true);
    }
    const tok = col(c, "tokens") as number[];
    st.forEach((s, i) => expect(tok[i]).toBe(s * 524288));
  });

  it("fitData: plain arrays equal to the frame's columns; null loss is an error", () => {
    const m = mainSweep(df, { technique: "S-Base" });
    const d = fitData(m);
    expect(d.N.length).toBe(58);
    expect(d.N).toEqual(col(m, "N"));
    expect(d.E).toEqual(col(m, "E"));
    expect(d.loss).toEqual(col(m, "loss_validation"));
    expect(d.F).toEqual(col(m, "flops_per_step"));
    expect(d.P).toEqual(col(m, "total_parameter_count"));
    const withNull = trainingCurves(df).filter(pl.col("hyper_id").eq(82));
    expect(() => fitData(withNull)).toThrow(/loss = null.*positive number/);
  });
});

describe("bad input", () => {
  const csvText = () => new TextDecoder().decode(gunzipSync(rawGz));
  let rawGz: Uint8Array;
  beforeAll(async () => {
    rawGz = await readFile(PATH);
  });
  async function write(name: string, bytes: Uint8Array): Promise<string> {
    const p = join(tmp, name);
    await writeFile(p, bytes);
    return p;
  }
  const gz = (s: string) => gzipSync(new TextEncoder().encode(s));

  it("missing file: names the file and the fix", async () => {
    const p = join(tmp, "nope.csv.gz");
    await expect(loadRelease({ path: p })).rejects.toThrow(
      new RegExp(`${p}.*does not exist.*ROUTING_CURVES`),
    );
    process.env.ROUTING_CURVES = p;
    await expect(loadRelease()).rejects.toThrow(/from env ROUTING_CURVES\) does not exist/);
  });

  it("wrong checksum: file, expected and actual hash, and the fix; NO_VERIFY loads it", async () => {
    const text = csvText().replace("10.748786796823032", "10.748786796823033");
    const bytes = gz(text);
    const p = await write("modified.csv.gz", bytes);
    const actual = sha256Hex(bytes);
    const err = await loadRelease({ path: p }).then(() => null, (e: Error) => e.message);
    expect(err).toContain(p);
    expect(err).toContain(actual);
    expect(err).toContain(RELEASE.sha256);
    expect(err).toMatch(/Re-download.*ROUTING_CURVES_NO_VERIFY=1/);
    process.env.ROUTING_CURVES_NO_VERIFY = "1";
    const mod = await loadRelease({ path: p });
    expect(mod.height).toBe(5799);
    expect(col(mod, "loss_c4")[0]).toBe(10.748786796823033);
  });

  it("truncated gzip", async () => {
    const p = await write("trunc.csv.gz", rawGz.slice(0, Math.floor(rawGz.length / 2)));
    await expect(loadRelease({ path: p, verify: false })).rejects.toThrow(
      new RegExp(`${p} could not be decompressed.*truncated or damaged.*Re-download`),
    );
  });

  it("not gzip (plain CSV bytes)", async () => {
    const p = await write("plain.csv.gz", new TextEncoder().encode(csvText()));
    await expect(loadRelease({ path: p, verify: false })).rejects.toThrow(
      new RegExp(`${p} is not a gzip file`),
    );
  });

  it("a missing column", async () => {
    const lines = csvText().split("\n");
    const head = lines[0].split(",");
    const drop = head.indexOf("loss_lambada");
    const text = lines.map((l) => l.split(",").filter((_, i) => i !== drop).join(",")).join("\n");
    const p = await write("nocol.csv.gz", gz(text));
    await expect(loadRelease({ path: p, verify: false })).rejects.toThrow(
      new RegExp(`${p} lacks the column\\(s\\) loss_lambada`),
    );
  });

  it("a mistyped column: text in a loss column, a fraction in an integer column", async () => {
    const lines = csvText().split("\n");
    const head = lines[0].split(",");
    const li = head.indexOf("loss_validation");
    const cells = lines[3].split(",");
    cells[li] = "n/a?";
    const text = [...lines.slice(0, 3), cells.join(","), ...lines.slice(4)].join("\n");
    const p = await write("mistyped.csv.gz", gz(text));
    await expect(loadRelease({ path: p, verify: false })).rejects.toThrow(
      new RegExp(
        `${p}: column "loss_validation", data row 3 \\(line 4\\) holds "n/a\\?".*mistyped`,
      ),
    );
    const c2 = lines[5].split(",");
    c2[head.indexOf("d_model")] = "1536.5";
    const t2 = [...lines.slice(0, 5), c2.join(","), ...lines.slice(6)].join("\n");
    const p2 = await write("frac.csv.gz", gz(t2));
    await expect(loadRelease({ path: p2, verify: false })).rejects.toThrow(
      /column "d_model", data row 5 \(line 6\) holds "1536.5", expected an integer/,
    );
  });
});

describe("resolution order and download", () => {
  let server: Server;
  let base: string;
  let mode: "good" | "bad" | "404" = "good";
  let requests = 0;
  let good: Uint8Array;
  beforeAll(async () => {
    good = await readFile(PATH);
    server = createServer((_req, res) => {
      requests++;
      if (mode === "404") {
        res.writeHead(404).end("not found");
      } else {
        const body = mode === "good" ? good : good.slice(0, good.length - 100);
        res.writeHead(200, { "content-type": "application/gzip" }).end(body);
      }
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((ok) => server.close(ok));
  });

  it("explicit path beats env ROUTING_CURVES, which beats the cache", async () => {
    process.env.ROUTING_CURVES = join(tmp, "env-missing.csv.gz");
    expect(await resolveCurvesPath({ path: PATH })).toBe(resolve(PATH));
    await expect(resolveCurvesPath({ cacheDir: join(tmp, "unused") })).rejects.toThrow(
      /env-missing.csv.gz \(from env ROUTING_CURVES\)/,
    );
  });

  it("downloads into an empty cache, verified, atomically; then reuses it", async () => {
    delete process.env.ROUTING_CURVES;
    const dir = join(tmp, "cache-good");
    mode = "good";
    requests = 0;
    const url = `${base}/data/curves.csv.gz`;
    const p = await resolveCurvesPath({ cacheDir: dir, url });
    expect(p).toBe(join(dir, "curves.csv.gz"));
    expect(sha256Hex(await readFile(p))).toBe(RELEASE.sha256);
    expect(await readdir(dir)).toEqual(["curves.csv.gz"]); // no temp file left
    expect(requests).toBe(1);
    expect(await resolveCurvesPath({ cacheDir: dir, url })).toBe(p);
    expect(requests).toBe(1); // cached: no second request
    const loaded = await loadRelease({ cacheDir: dir, url });
    expect(loaded.height).toBe(5799);
    // A damaged cached copy is replaced by a verified download.
    await writeFile(p, new Uint8Array([1, 2, 3]));
    await resolveCurvesPath({ cacheDir: dir, url });
    expect(requests).toBe(2);
    expect(sha256Hex(await readFile(p))).toBe(RELEASE.sha256);
  });

  it("wrong bytes from the server: a checksum error and no file in the cache", async () => {
    delete process.env.ROUTING_CURVES;
    const dir = join(tmp, "cache-bad");
    mode = "bad";
    const url = `${base}/x.csv.gz`;
    const err = await resolveCurvesPath({ cacheDir: dir, url }).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(err).toContain(url);
    expect(err).toContain(`expected ${RELEASE.sha256}`);
    expect(err).toContain("nothing was written");
    const left = await readdir(dir).catch(() => [] as string[]);
    expect(left).toEqual([]);
  });

  it("an HTTP error and an unreachable server: clear errors, no file", async () => {
    delete process.env.ROUTING_CURVES;
    const dir = join(tmp, "cache-404");
    mode = "404";
    await expect(resolveCurvesPath({ cacheDir: dir, url: `${base}/missing` })).rejects.toThrow(
      /HTTP 404.*ROUTING_CURVES/,
    );
    process.env.ROUTING_CURVES_URL = "http://127.0.0.1:9/curves.csv.gz"; // discard port: refused
    await expect(resolveCurvesPath({ cacheDir: dir })).rejects.toThrow(
      /Could not download the release from http:\/\/127.0.0.1:9\/curves.csv.gz/,
    );
    expect(await readdir(dir).catch(() => [] as string[])).toEqual([]);
  });
});
