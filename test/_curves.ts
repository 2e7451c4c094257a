/**
 * Test helper: the authors' release file for tests. env ROUTING_CURVES (CI sets it), else the
 * read-only copy beside the checkout (../shared/paper-data/curves.csv.gz). Throws if neither
 * exists, so the tests fail loudly instead of touching the network.
 */
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

export function curvesPath(): string {
  const env = process.env.ROUTING_CURVES;
  if (env) return env;
  const beside = fileURLToPath(
    new URL("../../shared/paper-data/curves.csv.gz", import.meta.url),
  );
  if (existsSync(beside)) return beside;
  throw new Error(
    "Tests need the authors' release: set ROUTING_CURVES=/path/to/curves.csv.gz (or place it at " +
      `${beside}).`,
  );
}
