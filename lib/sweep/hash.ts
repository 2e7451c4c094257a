/**
 * Canonical JSON and the run id: a stable hash of a run's full config, independent of key order.
 */
import { createHash } from "node:crypto";
import { TRAINING_CODE_VERSION } from "../train/mod.ts";

/** JSON with object keys sorted at every level; rejects values JSON cannot represent exactly. */
export function canonicalJson(value: unknown, path = "config"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "number":
      if (!Number.isFinite(value)) {
        throw new Error(`${path} is ${value}: only finite numbers can be part of a run config`);
      }
      return JSON.stringify(value);
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => canonicalJson(v, `${path}[${i}]`)).join(",")}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${
        keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k], `${path}.${k}`)}`)
          .join(",")
      }}`;
    }
    default:
      throw new Error(
        `${path} is a ${typeof value}: a run config holds only JSON values (a custom router goes ` +
          `in by name, with its factory passed to runSweep's routerFactories)`,
      );
  }
}

/**
 * 16 hex digits (64 bits) of SHA-256 over the training code's version and the canonical JSON: the
 * same config trained by code that gives other results gets another id (TRAINING_CODE_VERSION).
 */
export function runIdOf(config: unknown): string {
  return createHash("sha256").update(`train-v${TRAINING_CODE_VERSION}\n`)
    .update(canonicalJson(config)).digest("hex").slice(0, 16);
}
