/** Small helpers shared by the command-line entry points. */

/** An integer flag >= min, or undefined when absent; a clear error naming the flag otherwise. */
export function intArg(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return n;
}
