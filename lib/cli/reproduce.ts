/**
 * `deno task reproduce`: fit the release, run (or resume) a preset sweep, fit every law to our
 * runs, export every figure for both and write OUT/report.html (one self-contained file) and
 * OUT/summary.json. Rerunning resumes the sweep and rewrites the report.
 *
 *   deno task reproduce [--out out/reproduce] [--preset quick | --spec FILE] [--curves PATH] [--restarts 500]
 *                       [--bootstrap 200] [--bootstrap-restarts 20] [--seed 0] [--skip-sweep]
 *                       [--sweep-dir DIR] [--workers N] [--scale 2] [--allow-other-spec]
 *                       [--shipped data/ours/standard]
 */
import { bootstrapArg, intArg, MAX_RESTARTS, parseCommandLine, restartsArg } from "./args.ts";
import { reproduce } from "../report/mod.ts";
import { PRESET_NAMES } from "../sweep/mod.ts";

const USAGE = `usage: deno task reproduce [options]
  --out DIR               output folder (default out/reproduce): report.html, summary.json,
                          figures/release/*, figures/ours/*, sweep/
  --preset NAME           sweep preset: ${PRESET_NAMES.join(", ")} (default quick)
  --spec FILE             a sweep spec (JSON, see deploy/specs/example.json) instead of a preset
  --curves PATH           the authors' curves.csv.gz (default: $ROUTING_CURVES, else the cached download)
  --restarts N            random restarts per nonlinear fit, at most ${MAX_RESTARTS} (default 500)
  --bootstrap N           bootstrap resamples per law, 0 for no intervals (default 200)
  --bootstrap-restarts N  random restarts per bootstrap refit (default 20)
  --seed N                seed of restarts and resampling (default 0)
  --skip-sweep            do not train: use the runs already in the sweep folder
  --shipped DIR           report committed results (data/ours/standard) under their own spec;
                          trains nothing, excludes --preset and --spec
  --sweep-dir DIR         sweep folder (default OUT/sweep)
  --workers N             sweep processes (default 2 on a machine with 2+ cores)
  --allow-other-spec      run the sweep into a sweep folder that belongs to another spec (its
                          sweep-spec.json names it); without it such a folder is refused
  --scale S               PNG pixel density of the exported figures (default 2)`;

export async function main(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      out: { type: "string" },
      preset: { type: "string" },
      spec: { type: "string" },
      curves: { type: "string" },
      restarts: { type: "string" },
      bootstrap: { type: "string" },
      "bootstrap-restarts": { type: "string" },
      seed: { type: "string" },
      "skip-sweep": { type: "boolean", default: false },
      shipped: { type: "string" },
      "sweep-dir": { type: "string" },
      "allow-other-spec": { type: "boolean", default: false },
      workers: { type: "string" },
      scale: { type: "string" },
    },
    USAGE,
  );
  if ("exitCode" in parsed) return parsed.exitCode;
  const { values } = parsed;
  const t0 = performance.now();
  try {
    const scale = values.scale === undefined ? undefined : Number(values.scale);
    if (scale !== undefined && !(Number.isFinite(scale) && scale > 0)) {
      throw new Error(`--scale must be a positive number, got ${JSON.stringify(values.scale)}`);
    }
    const bootstrap = bootstrapArg(values.bootstrap);
    const r = await reproduce({
      out: values.out ?? "out/reproduce",
      preset: values.preset,
      spec: values.spec,
      curves: values.curves,
      restarts: restartsArg("restarts", values.restarts),
      bootstrap,
      bootstrapRestarts: restartsArg("bootstrap-restarts", values["bootstrap-restarts"]),
      seed: intArg("seed", values.seed, 0),
      skipSweep: values["skip-sweep"],
      shipped: values.shipped,
      sweepDir: values["sweep-dir"],
      workers: intArg("workers", values.workers, 1),
      allowOtherSpec: values["allow-other-spec"],
      scale,
      command: `deno task reproduce ${args.join(" ")}`.trim(),
    });
    const s = (performance.now() - t0) / 1000;
    console.log(
      `report: ${r.report} (${(r.reportBytes / 1e6).toFixed(1)} MB, ${
        r.figures.release.length + r.figures.ours.length
      } figures)\nsummary: ${r.summary}\ntotal ${s.toFixed(1)} s`,
    );
    return 0;
  } catch (e) {
    console.error(`reproduce: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
