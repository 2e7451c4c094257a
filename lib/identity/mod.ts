/**
 * What identifies a trained run: the training code's version, canonical JSON, and the run id (a
 * stable hash of both). A leaf below lib/train and lib/sweep, so that naming a run loads no
 * tensor library.
 */
import { createHash } from "node:crypto";

/**
 * Version of what a config trains to. Bump it whenever a change to lib/model, lib/routers,
 * lib/train or lib/corpus changes the result of a config (an init, a default, a router's
 * behaviour, the tokenizer): sweeps key runs by a hash of the config AND this version, so results
 * made by older code are retrained instead of silently reused. 2: S-BASE Sinkhorn temperature 0.1.
 * 3: host-backend cross-entropy from one softmax kernel, GELU backward fused in JS, OpenBLAS
 * matMuls (last-bit differences on wasm and cpu). 4: S-BASE temperature 1; RL-R's new defaults
 * (lib/routers/rlr.ts), its baseline on batch-centred rewards and clipped on its own.
 * 5: no change of algorithm. The standard sweep committed under 4 was trained by a working tree
 * between two commits; the committed code of version 4 reproduces its dense runs exactly but its
 * routed runs only to 1e-8 (HASH) and 0.001 nats (S-BASE, whose top-1 choices amplify last-bit
 * differences). 5 names the code that retrains the committed sweep exactly
 * (test/shipped.test.ts retrains a dense and an S-BASE run). 6: evaluation drops no choice for
 * capacity (lib/model/model.ts; training keeps capacity factor 2).
 */
export const TRAINING_CODE_VERSION = 6;

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
export function runIdOf(config: unknown, codeVersion = TRAINING_CODE_VERSION): string {
  return createHash("sha256").update(`train-v${codeVersion}\n`)
    .update(canonicalJson(config)).digest("hex").slice(0, 16);
}
