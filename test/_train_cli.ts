/**
 * Test helper: runs `lib/cli/train.ts` on a tiny model (d_model 16, 2 layers, 2 heads, 3 steps of
 * 2 x 16 tokens, one evaluation batch) with `--json --quiet` plus `args`, and returns the JSON
 * object it prints last.
 */
import { execFileSync } from "node:child_process";

export function trainCliJson(args: string[]): Record<string, unknown> {
  const out = execFileSync(Deno.execPath(), [
    "run",
    "-A",
    "lib/cli/train.ts",
    ...["--d-model", "16", "--layers", "2", "--heads", "2", "--seq-len", "16"],
    ...["--batch-size", "2", "--steps", "3", "--eval-batches", "1", "--json", "--quiet"],
    ...args,
  ], { encoding: "utf8", env: { ...Deno.env.toObject(), NO_COLOR: "1" } });
  return JSON.parse(out.trim().split("\n").pop()!);
}
