/** Small helpers shared by the command-line entry points. */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { MAX_BOOTSTRAP } from "../analysis/mod.ts";

/** An integer flag >= min, or undefined when absent; a clear error naming the flag otherwise. */
export function intArg(
  name: string,
  v: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  why = "",
): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new Error(`--${name} must be an integer ${range}, got ${JSON.stringify(v)}${why}`);
  }
  return n;
}

/** The most random restarts per nonlinear fit a command accepts (the default is 500). */
export const MAX_RESTARTS = 100_000;
const RESTARTS_WHY = ": the default 500 already reaches scipy's optimum on the release " +
  "(README), and each restart is a whole L-BFGS run";

/** --restarts and --bootstrap-restarts: 1 to MAX_RESTARTS; undefined when absent. */
export function restartsArg(name: string, v: string | undefined): number | undefined {
  return intArg(name, v, 1, MAX_RESTARTS, RESTARTS_WHY);
}

/** --bootstrap: 0 (no intervals) or 2 to MAX_BOOTSTRAP resamples; undefined when absent. */
export function bootstrapArg(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n === 1 || n > MAX_BOOTSTRAP) {
    throw new Error(
      `--bootstrap must be 0 (no intervals) or an integer from 2 to ${MAX_BOOTSTRAP}, got ` +
        `${JSON.stringify(v)}: 95% intervals settle within a few thousand resamples (the ` +
        `default is 200), and every resample refits every law`,
    );
  }
  return n;
}

const HELP = { help: { type: "boolean", short: "h", default: false } } as const;

/**
 * Parses `args` strictly against `options` plus -h/--help. A parse error prints the message and
 * `usage` on stderr and gives exit code 2; --help prints `usage` and gives 0; otherwise the values.
 */
export function parseCommandLine<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  usage: string,
): { exitCode: number } | { values: ParsedValues<T & typeof HELP> } {
  let values: ParsedValues<T & typeof HELP>;
  try {
    values = parseArgs({ args, options: { ...options, ...HELP }, strict: true })
      .values as ParsedValues<T & typeof HELP>;
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`);
    return { exitCode: 2 };
  }
  if ((values as { help?: boolean }).help) {
    console.log(usage);
    return { exitCode: 0 };
  }
  return { values };
}

/** The values parseArgs gives for `options` (strict, no positionals). */
type ParsedValues<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true }>
>["values"];
