/**
 * Sweep specs: validation with clear errors, loading from JSON, and expansion into runs keyed by
 * the hash of their full config.
 */
import { BACKEND_NAMES, DEFAULT_CONFIG } from "../config/mod.ts";
import { BLAS_CHOICES, type BlasChoice, resolveBlasChoice } from "../openblas/mod.ts";
import { runIdOf } from "../identity/mod.ts";
import type {
  Budget,
  RunConfig,
  SharedTrainSettings,
  SweepRun,
  SweepSpec,
  SweepSpecInput,
} from "./spec_types.ts";

/** Training settings a spec does not name. Every run config carries all of them explicitly. */
export const DEFAULT_TRAIN: SharedTrainSettings = {
  batchSize: DEFAULT_CONFIG.batchSize,
  lr: DEFAULT_CONFIG.lr,
  lrMinRatio: DEFAULT_CONFIG.lrMinRatio,
  warmupSteps: DEFAULT_CONFIG.warmupSteps,
  weightDecay: DEFAULT_CONFIG.weightDecay,
  beta1: DEFAULT_CONFIG.beta1,
  beta2: DEFAULT_CONFIG.beta2,
  gradClip: DEFAULT_CONFIG.gradClip,
  vocabSize: DEFAULT_CONFIG.vocabSize,
  evalBatches: DEFAULT_CONFIG.evalBatches,
  // Where a sweep differs from a single run: shorter sequences, a fixed backend (results must not
  // depend on the machine), the capacity factor spelled out, evaluation only at the end.
  seqLen: 64,
  capacityFactor: 2,
  backend: "wasm",
  // "auto" is resolved when runs are expanded (to "openblas" or "off", whichever this machine
  // runs), so that a run's id names the matMul path its numbers came from.
  blas: "auto",
  evalEvery: 0,
};

const SPEC_KEYS = [
  "name",
  "routers",
  "sizes",
  "experts",
  "routingFrequency",
  "k",
  "seeds",
  "budget",
  "train",
  "checkpointEvery",
  "routerOptions",
  "$schema",
  "description",
] as const;

class SpecError extends Error {}

function fail(where: string, msg: string): never {
  throw new SpecError(`Invalid sweep spec (${where}): ${msg}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function posInt(where: string, field: string, v: unknown, min = 1): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    fail(where, `${field} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function finiteNum(where: string, field: string, v: unknown, min = 0): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
    fail(where, `${field} must be a finite number >= ${min}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function list<T>(
  where: string,
  field: string,
  v: unknown,
  item: (x: unknown, name: string) => T,
): T[] {
  if (!Array.isArray(v) || v.length === 0) {
    fail(where, `${field} must be a non-empty array, got ${JSON.stringify(v)}`);
  }
  const out = v.map((x, i) => item(x, `${field}[${i}]`));
  const seen = new Set<string>();
  for (const x of out) {
    const key = JSON.stringify(x);
    if (seen.has(key)) fail(where, `${field} lists ${key} twice; remove the duplicate`);
    seen.add(key);
  }
  return out;
}

function validateTrain(where: string, v: unknown): SharedTrainSettings {
  if (v === undefined) return { ...DEFAULT_TRAIN };
  if (!isRecord(v)) fail(where, `train must be an object of training settings`);
  const known = Object.keys(DEFAULT_TRAIN);
  for (const key of Object.keys(v)) {
    if (!known.includes(key)) {
      const extra = ["steps", "seed", "experts", "router", "dModel", "layers", "heads", "k"]
          .includes(key)
        ? ` (${key} is set per run: use the spec's budget, seeds, experts, routers or sizes)`
        : "";
      fail(where, `unknown field train.${key}${extra}; known: ${known.join(", ")}`);
    }
  }
  const t = { ...DEFAULT_TRAIN, ...v } as Record<string, unknown>;
  const backend = t.backend as string;
  if (!(BACKEND_NAMES as readonly string[]).includes(backend)) {
    fail(
      where,
      `train.backend must be one of ${BACKEND_NAMES.join(", ")}, got ${JSON.stringify(backend)}`,
    );
  }
  return {
    batchSize: posInt(where, "train.batchSize", t.batchSize),
    seqLen: posInt(where, "train.seqLen", t.seqLen),
    lr: finiteNum(where, "train.lr", t.lr),
    lrMinRatio: finiteNum(where, "train.lrMinRatio", t.lrMinRatio),
    warmupSteps: posInt(where, "train.warmupSteps", t.warmupSteps, 0),
    weightDecay: finiteNum(where, "train.weightDecay", t.weightDecay),
    beta1: finiteNum(where, "train.beta1", t.beta1),
    beta2: finiteNum(where, "train.beta2", t.beta2),
    gradClip: finiteNum(where, "train.gradClip", t.gradClip),
    vocabSize: posInt(where, "train.vocabSize", t.vocabSize, 257),
    capacityFactor: finiteNum(where, "train.capacityFactor", t.capacityFactor),
    backend: backend as SharedTrainSettings["backend"],
    blas: blasOf(where, t.blas, backend),
    evalEvery: posInt(where, "train.evalEvery", t.evalEvery, 0),
    evalBatches: posInt(where, "train.evalBatches", t.evalBatches),
  };
}

/**
 * The spec's `train.blas`, with "auto" resolved to what this machine runs ("openblas" when the
 * library loads and the backend is wasm, else "off"). OpenBLAS and XNNPACK differ in the last bits
 * of every loss, so the resolved choice is part of each run's id.
 */
function blasOf(where: string, v: unknown, backend: string): "openblas" | "off" {
  if (!(BLAS_CHOICES as readonly unknown[]).includes(v)) {
    fail(where, `train.blas must be one of ${BLAS_CHOICES.join(", ")}, got ${JSON.stringify(v)}`);
  }
  if (backend !== "wasm") {
    if (v === "openblas") fail(where, `train.blas "openblas" needs train.backend "wasm"`);
    return "off";
  }
  return resolveBlasChoice(v as BlasChoice);
}

function validateBudget(where: string, v: unknown): Budget {
  if (!isRecord(v)) {
    fail(where, `budget must be {"steps": n} or {"tokens": n}, got ${JSON.stringify(v)}`);
  }
  const keys = Object.keys(v);
  if (keys.length !== 1 || !["steps", "tokens"].includes(keys[0])) {
    fail(where, `budget must have exactly one of "steps" or "tokens", got ${JSON.stringify(v)}`);
  }
  return keys[0] === "steps"
    ? { steps: posInt(where, "budget.steps", v.steps) }
    : { tokens: posInt(where, "budget.tokens", v.tokens) };
}

/**
 * Checks a spec (a parsed JSON value or a TS object) and fills defaults. `where` names the source
 * in error messages (e.g. the file path).
 */
export function validateSpec(input: unknown, where = "object"): SweepSpec {
  if (!isRecord(input)) fail(where, `a spec must be a JSON object, got ${JSON.stringify(input)}`);
  for (const key of Object.keys(input)) {
    if (!(SPEC_KEYS as readonly string[]).includes(key)) {
      fail(where, `unknown field "${key}"; known fields: ${SPEC_KEYS.slice(0, 10).join(", ")}`);
    }
  }
  for (const key of ["name", "routers", "sizes", "experts", "budget"]) {
    if (input[key] === undefined) fail(where, `missing required field "${key}"`);
  }
  const name = input.name;
  if (typeof name !== "string" || !/^[A-Za-z0-9._-]+$/.test(name)) {
    fail(
      where,
      `name must be a non-empty string of letters, digits, '.', '_' or '-', got ${
        JSON.stringify(name)
      }`,
    );
  }
  const routers = list(where, "routers", input.routers, (x, f) => {
    if (typeof x !== "string" || x.trim() === "") fail(where, `${f} must be a router name`);
    if (x.toLowerCase() === "dense") {
      fail(where, `${f} is "${x}": dense runs come from putting 1 into experts, not from routers`);
    }
    return x;
  });
  const sizes = list(where, "sizes", input.sizes, (x, f) => {
    if (!isRecord(x)) fail(where, `${f} must be {dModel, layers, heads}, got ${JSON.stringify(x)}`);
    for (const key of Object.keys(x)) {
      if (!["dModel", "layers", "heads", "seeds"].includes(key)) {
        fail(
          where,
          `${f} has unknown field "${key}"; a size is {dModel, layers, heads} and may set seeds`,
        );
      }
    }
    const dModel = posInt(where, `${f}.dModel`, x.dModel);
    const layers = posInt(where, `${f}.layers`, x.layers);
    const heads = posInt(where, `${f}.heads`, x.heads);
    if (dModel % heads !== 0) {
      fail(where, `${f}: dModel ${dModel} is not divisible by heads ${heads}`);
    }
    if (x.seeds === undefined) return { dModel, layers, heads };
    // A size may run more (or other) seeds than the spec's: the seed spread is measured where it
    // is cheapest and where it matters most without paying for it at every size.
    const seeds = list(where, `${f}.seeds`, x.seeds, (s, g) => posInt(where, g, s, 0));
    return { dModel, layers, heads, seeds };
  });
  const experts = list(where, "experts", input.experts, (x, f) => posInt(where, f, x));
  const routingFrequency = list(
    where,
    "routingFrequency",
    input.routingFrequency ?? [1],
    (x, f) => {
      if (typeof x !== "number" || !(x > 0 && x <= 1)) {
        fail(where, `${f} must be a fraction of routed blocks in (0, 1], got ${JSON.stringify(x)}`);
      }
      return x;
    },
  );
  const k = list(where, "k", input.k ?? [1], (x, f) => posInt(where, f, x));
  const seeds = list(where, "seeds", input.seeds ?? [0], (x, f) => posInt(where, f, x, 0));
  const routed = experts.filter((e) => e > 1);
  if (routed.length > 0 && Math.max(...k) > Math.min(...routed)) {
    fail(
      where,
      `k = ${Math.max(...k)} exceeds the smallest routed expert count ${Math.min(...routed)}; ` +
        `each token can only go to k <= E experts`,
    );
  }
  for (const R of routingFrequency) {
    for (const s of sizes) {
      if (routed.length > 0 && Math.floor(s.layers * R + 1e-9) < 1) {
        fail(
          where,
          `routingFrequency ${R} x layers ${s.layers} of size d${s.dModel} < 1: no block ` +
            `would be routed; raise R or layers`,
        );
      }
    }
  }
  const routerOptions: Record<string, Record<string, unknown>> = {};
  if (input.routerOptions !== undefined) {
    if (!isRecord(input.routerOptions)) {
      fail(where, `routerOptions must be an object {router name: {option: value}}`);
    }
    for (const [r, o] of Object.entries(input.routerOptions)) {
      if (!routers.includes(r)) {
        fail(where, `routerOptions names "${r}", which is not in routers (${routers.join(", ")})`);
      }
      if (!isRecord(o)) fail(where, `routerOptions.${r} must be an object of options`);
      routerOptions[r] = o;
    }
  }
  const checkpointEvery = posInt(where, "checkpointEvery", input.checkpointEvery ?? 50);
  return {
    name,
    routers,
    sizes,
    experts,
    routingFrequency,
    k,
    seeds,
    budget: validateBudget(where, input.budget),
    train: validateTrain(where, input.train),
    routerOptions,
    checkpointEvery,
  };
}

/** Reads and validates a JSON spec file. */
export async function loadSpecFile(path: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read sweep spec ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`Sweep spec ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return validateSpec(parsed, path);
}

/** Steps of every run under the spec's budget. */
export function stepsOf(spec: SweepSpec): number {
  return "steps" in spec.budget
    ? spec.budget.steps
    : Math.ceil(spec.budget.tokens / (spec.train.batchSize * spec.train.seqLen));
}

function labelOf(c: RunConfig): string {
  const base = `${c.router} d${c.dModel}L${c.layers}`;
  const routed = c.experts > 1 ? ` E${c.experts} R${c.routingFrequency} k${c.k}` : "";
  return `${base}${routed} seed${c.seed}`;
}

/**
 * All runs of a spec in a deterministic order: per size, per seed, the dense run (if 1 is in
 * experts), then router x E x R x k. Sharding takes index % n == i of this order.
 */
export function expandSpec(input: SweepSpec | SweepSpecInput): SweepRun[] {
  const spec = validateSpec(input);
  const steps = stepsOf(spec);
  const configs: RunConfig[] = [];
  for (const { seeds, ...size } of spec.sizes) {
    for (const seed of seeds ?? spec.seeds) {
      const common = { ...spec.train, ...size, steps, seed };
      if (spec.experts.includes(1)) {
        configs.push({
          ...common,
          router: "Dense",
          routerOptions: {},
          experts: 1,
          routingFrequency: 1,
          k: 1,
        });
      }
      for (const router of spec.routers) {
        for (const E of spec.experts.filter((e) => e > 1)) {
          for (const R of spec.routingFrequency) {
            for (const k of spec.k) {
              const routerOptions = spec.routerOptions[router] ?? {};
              configs.push({
                ...common,
                router,
                routerOptions,
                experts: E,
                routingFrequency: R,
                k,
              });
            }
          }
        }
      }
    }
  }
  return configs.map((config, index) => ({
    runId: runIdOf(config),
    index,
    label: labelOf(config),
    config,
  }));
}
