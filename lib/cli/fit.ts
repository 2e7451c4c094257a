/**
 * `deno task fit`: fit every law variant for every technique and print a readable table, or with
 * `--json` one JSON object keyed by technique ("S-Base", "RL-R", "Hash", ...) plus "Dense".
 *
 *   deno task fit [--curves PATH | --input FILE] [--json] [--restarts 500] [--bootstrap 200]
 *                 [--bootstrap-restarts 20] [--seed 0] [--loss mse|huber] [--technique NAME ...]
 *                 [--seed-policy seed42|mean-dense-seeds]
 */
import { intArg, parseCommandLine } from "./args.ts";
import {
  analyse,
  analysisJson,
  analysisText,
  frameAnalysisInput,
  readFitFrame,
  releaseAnalysisInput,
} from "../analysis/mod.ts";
import { loadRelease, resolveCurvesPath, type SeedPolicy } from "../release/mod.ts";
import type { LossKind } from "../fit/mod.ts";

const USAGE = `usage: deno task fit [options]
  --curves PATH          the authors' curves.csv.gz (default: $ROUTING_CURVES, else the cached download)
  --input FILE           fit your own CSV or Parquet with columns technique (optional), N, E, loss
  --json                 print one JSON object instead of tables
  --restarts N           random restarts per nonlinear fit (default 500)
  --bootstrap N          bootstrap resamples per law, 0 for none (default 200)
  --bootstrap-restarts N random restarts per bootstrap refit (default 20)
  --seed N               seed of restarts and resampling (default 0)
  --loss mse|huber       objective on log10 L (default mse, the authors')
  --technique NAME       only this technique (repeatable)
  --seed-policy P        release only: seed42 (default, the authors') or mean-dense-seeds`;

export async function main(args: string[]): Promise<number> {
  const parsed = parseCommandLine(
    args,
    {
      curves: { type: "string" },
      input: { type: "string" },
      json: { type: "boolean", default: false },
      restarts: { type: "string" },
      bootstrap: { type: "string" },
      "bootstrap-restarts": { type: "string" },
      seed: { type: "string" },
      loss: { type: "string" },
      technique: { type: "string", multiple: true },
      "seed-policy": { type: "string" },
    },
    USAGE,
  );
  if ("exitCode" in parsed) return parsed.exitCode;
  const { values } = parsed;
  try {
    if (values.curves && values.input) {
      throw new Error(
        "give either --curves (the authors' release) or --input (your own runs), not both",
      );
    }
    const loss = (values.loss ?? "mse") as LossKind;
    if (loss !== "mse" && loss !== "huber") {
      throw new Error(`--loss must be mse or huber, got ${JSON.stringify(values.loss)}`);
    }
    const input = values.input
      ? frameAnalysisInput(readFitFrame(values.input), values.input)
      : releaseAnalysisInput(
        await loadRelease({ path: await resolveCurvesPath({ path: values.curves }) }),
        {
          seedPolicy: values["seed-policy"] as SeedPolicy | undefined,
          source: "the authors' release",
        },
      );
    const quiet = values.json || !Deno.stderr.isTerminal();
    const analysis = analyse(input, {
      restarts: intArg("restarts", values.restarts, 1) ?? 500,
      bootstrap: intArg("bootstrap", values.bootstrap, 0) ?? 200,
      bootstrapRestarts: intArg("bootstrap-restarts", values["bootstrap-restarts"], 1) ?? 20,
      seed: intArg("seed", values.seed, 0) ?? 0,
      loss,
      techniques: values.technique,
      onProgress: quiet ? undefined : (m) => console.error(`fitting ${m} ...`),
    });
    // Everything is computed before anything is printed: a failing fit prints no partial output.
    console.log(
      values.json ? JSON.stringify(analysisJson(analysis), null, 2) : analysisText(analysis, input),
    );
    return 0;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
