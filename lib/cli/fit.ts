/**
 * `deno task fit`: fit every law variant for every technique and print a readable table, or with
 * `--json` one JSON object keyed by technique ("S-Base", "RL-R", "Hash", ...) plus "Dense".
 *
 *   deno task fit [--curves PATH | --input FILE] [--json] [--restarts 500] [--bootstrap 200]
 *                 [--bootstrap-restarts 20] [--seed 0] [--loss mse|huber] [--technique NAME ...]
 *                 [--seed-policy seed42|mean-dense-seeds]
 */
import { bootstrapArg, intArg, MAX_RESTARTS, parseCommandLine, restartsArg } from "./args.ts";
import {
  analyse,
  analysisJson,
  analysisText,
  type BootstrapProgress,
  frameAnalysisInput,
  MAX_BOOTSTRAP,
  readFitFrame,
  releaseAnalysisInput,
} from "../analysis/mod.ts";
import { loadRelease, resolveCurvesPath, type SeedPolicy } from "../release/mod.ts";
import type { LossKind } from "../fit/mod.ts";
import { formatDuration } from "../util/duration.ts";

const USAGE = `usage: deno task fit [options]
  --curves PATH          the authors' curves.csv.gz (default: $ROUTING_CURVES, else the cached download)
  --input FILE           fit your own CSV or Parquet with columns technique (optional), N, E, loss
  --json                 print one JSON object instead of tables
  --restarts N           random restarts per nonlinear fit, at most ${MAX_RESTARTS} (default 500)
  --bootstrap N          bootstrap resamples per law, 0 for none, at most ${MAX_BOOTSTRAP} (default 200)
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
    // Flags first: a bad one fails before the data is read.
    const restarts = restartsArg("restarts", values.restarts) ?? 500;
    const bootstrap = bootstrapArg(values.bootstrap) ?? 200;
    const bootstrapRestarts = restartsArg("bootstrap-restarts", values["bootstrap-restarts"]) ?? 20;
    const seed = intArg("seed", values.seed, 0) ?? 0;
    const input = values.input
      ? frameAnalysisInput(readFitFrame(values.input), values.input, {
        warn: (m) => console.error(`warning: ${m}`),
      })
      : releaseAnalysisInput(
        await loadRelease({ path: await resolveCurvesPath({ path: values.curves }) }),
        {
          seedPolicy: values["seed-policy"] as SeedPolicy | undefined,
          source: "the authors' release",
        },
      );
    const tty = Deno.stderr.isTerminal();
    const quiet = values.json || !tty;
    const enc = new TextEncoder();
    const analysis = analyse(input, {
      restarts,
      bootstrap,
      bootstrapRestarts,
      seed,
      loss,
      techniques: values.technique,
      onProgress: quiet ? undefined : (m) => console.error(`fitting ${m} ...`),
      // On stderr even with --json: stdout carries only the result.
      onBootstrap: bootstrapReporter({ tty, write: (t) => Deno.stderr.writeSync(enc.encode(t)) }),
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

/**
 * Progress of long bootstraps, for stderr: nothing while a law's resamples have run less than
 * `afterS`; after that, every `everyS`, resamples done and the time left for the law at the rate
 * measured so far (from its first resamples on). On a terminal one line is rewritten in place.
 */
export function bootstrapReporter(opts: {
  write: (text: string) => void;
  tty: boolean;
  /** Clock in milliseconds (default performance.now). */
  now?: () => number;
  afterS?: number;
  everyS?: number;
}): (p: BootstrapProgress) => void {
  const now = opts.now ?? (() => performance.now());
  const afterS = opts.afterS ?? 3, everyS = opts.everyS ?? (opts.tty ? 1 : 30);
  let t0 = 0, last = 0, shown = false;
  const line = (text: string, end: boolean) =>
    opts.write(opts.tty ? `\r\x1b[K${text}${end ? "\n" : ""}` : `${text}\n`);
  return (p) => {
    const t = now();
    if (p.done === 0) {
      t0 = t;
      shown = false;
      return;
    }
    const elapsedS = (t - t0) / 1000;
    const head = `[fit] bootstrap ${p.label} (law ${p.index} of ${p.count}): ` +
      `${p.done}/${p.total} resamples, ${formatDuration(elapsedS)}`;
    if (p.done === p.total) {
      if (shown) line(`${head}, done`, true);
      return;
    }
    if (elapsedS < afterS || (shown && t - last < everyS * 1000)) return;
    const leftS = (p.total - p.done) * elapsedS / p.done;
    line(`${head}, about ${formatDuration(leftS)} left for this law`, false);
    shown = true;
    last = t;
  };
}

if (import.meta.main) Deno.exit(await main(Deno.args));
