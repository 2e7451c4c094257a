/**
 * One optimisation step (trainStep) and the evaluation loss (evaluate), each written once and run
 * two ways: synchronously on the host backends (wasm, cpu), whose tensors are read with
 * `dataSync()`, and asynchronously on any backend (trainStepAsync, evaluateAsync), where values
 * are awaited and the routers' read-backs replayed (lib/model/readback.ts). On wasm and cpu the
 * async functions are the sync ones.
 *
 * The step is a generator (`stepCore`) that yields the scalars it needs and is resumed with their
 * values; `readSync` and `readAsync` drive it. Same seed and batch: the same routing decisions,
 * loss and update either way.
 */
import * as tf from "@tensorflow/tfjs-core";
import { blasActive, sumSquares } from "../backend/mod.ts";
import type { ForwardResult, LayerRouting, ReadCache, TransformerLM } from "../model/mod.ts";
import { hostView, isHostBackend } from "../nn/mod.ts";
import { Rng } from "../util/random.ts";
import type { AdamW } from "./adamw.ts";

export interface StepResult {
  /** The language-model loss (NaN/Infinity when the step diverged: then nothing was updated). */
  loss: number;
  routing: LayerRouting[];
  /** Global gradient norm of the model (before clipping). */
  gradNorm: number;
  /** Gradient norm of the auxiliary-only variables (0 when there are none). */
  auxGradNorm: number;
}

export interface StepOptions {
  lr: number;
  gradClip: number;
  /** The run's routing RNG. */
  rng: Rng;
  /** The variables to train (default: every variable of the model). */
  varList?: tf.Variable[];
}

/** A value a computation needs: a number already known, or a tensor whose first value it reads. */
type Needed = number | tf.Tensor;

/** A computation that yields the values it needs and is resumed with them. */
type Reading<R> = Generator<Needed[], R, number[]>;

/** Runs `g`, reading every tensor it asks for with dataSync() (host backends). */
function readSync<R>(g: Reading<R>): R {
  try {
    let s = g.next();
    while (!s.done) s = g.next(s.value.map((v) => typeof v === "number" ? v : v.dataSync()[0]));
    return s.value;
  } finally {
    g.return(undefined as R); // a no-op once done; else runs the generator's clean-up
  }
}

/** Runs `g`, awaiting every tensor it asks for, all of one request together (any backend). */
async function readAsync<R>(g: Reading<R>): Promise<R> {
  try {
    let s = g.next();
    while (!s.done) {
      const values = await Promise.all(
        s.value.map(async (v) => typeof v === "number" ? v : (await v.data())[0]),
      );
      s = g.next(values);
    }
    return s.value;
  } finally {
    g.return(undefined as R);
  }
}

/**
 * The squared norm of a group of gradients: OpenBLAS's sdot over heap views where it runs (one
 * pass, 2 threads: 56 -> ~10 ms over 70M parameters), else one tfjs scalar to read: AddN on the
 * host, a pairwise sum elsewhere (tfjs-webgpu 4.22's AddN of many inputs exceeds the adapter's
 * storage buffers per shader, and the failed pipeline turns the whole submission's results to 0).
 */
function squaredNorm(grads: tf.Tensor[]): Needed {
  if (grads.length === 0) return 0;
  if (blasActive()) {
    let s = 0;
    for (const g of grads) s += sumSquares(hostView(g));
    return s;
  }
  const squares = grads.map((g) => tf.sum(tf.square(g)));
  if (isHostBackend()) return tf.addN(squares);
  return squares.reduce((a, b) => tf.add(a, b));
}

/**
 * Gradient-norm clipping in two groups: the model (everything the language-model loss trains,
 * routers included) and the auxiliary-only variables (those a router lists in `auxVariables`,
 * e.g. RL-R's baseline head). Each group is clipped to `gradClip` by its own norm, so a large
 * auxiliary gradient (a baseline regressing rewards of ~6 nats) never scales the model's update
 * down. Returns the two scales and norms, or null when a norm is not finite.
 */
function clipFromNorms(
  norm: number,
  auxNorm: number,
  gradClip: number,
): { scale: number; auxScale: number; norm: number; auxNorm: number } | null {
  if (!Number.isFinite(norm) || !Number.isFinite(auxNorm)) return null;
  const scaleOf = (n: number) => (gradClip > 0 && n > gradClip ? gradClip / n : 1);
  return { scale: scaleOf(norm), auxScale: scaleOf(auxNorm), norm, auxNorm };
}

const auxNamesOf = new WeakMap<TransformerLM, Set<string>>();

/** Names of a model's auxiliary-only variables (clipped as their own group), once per model. */
function auxNames(model: TransformerLM): Set<string> {
  let names = auxNamesOf.get(model);
  if (!names) {
    names = new Set(
      model.namedVariables().filter((n) => n.auxiliary).map((n) => n.variable.name),
    );
    auxNamesOf.set(model, names);
  }
  return names;
}

/**
 * One step: the taped forward (its routers replaying `reads` when given) and backward, then the
 * loss and the two groups' squared gradient norms are read (one request), then clipping and
 * AdamW. Frees every tensor it made, however it ends.
 */
function* stepCore(
  model: TransformerLM,
  opt: AdamW,
  batch: Int32Array,
  o: StepOptions,
  reads?: ReadCache,
): Reading<StepResult> {
  const aux = auxNames(model);
  const varList = o.varList ?? model.namedVariables().map((n) => n.variable);
  let routing: LayerRouting[] = [];
  const { grads, loss, norms } = tf.tidy(() => {
    let lmLoss: tf.Scalar | null = null;
    const { grads } = tf.variableGrads(() => {
      const out = model.forward(batch, { training: true, rng: o.rng, reads });
      routing = out.routing;
      lmLoss = tf.keep(out.loss);
      return out.objective;
    }, varList); // grads: variable name -> gradient, the variable's shape
    const main: tf.Tensor[] = [], side: tf.Tensor[] = [];
    for (const [name, g] of Object.entries(grads)) (aux.has(name) ? side : main).push(g);
    return { grads, loss: lmLoss! as tf.Scalar, norms: [squaredNorm(main), squaredNorm(side)] };
  });
  try {
    const [l, sq, auxSq] = yield [loss, ...norms];
    const failed = { routing, gradNorm: NaN, auxGradNorm: NaN };
    if (!Number.isFinite(l)) return { loss: l, ...failed };
    const c = clipFromNorms(Math.sqrt(sq), Math.sqrt(auxSq), o.gradClip);
    if (!c) return { loss: NaN, ...failed };
    opt.apply(grads, o.lr, c.scale, c.auxScale);
    return { loss: l, routing, gradNorm: c.norm, auxGradNorm: c.auxNorm };
  } finally {
    tf.dispose([loss, ...norms.filter((n) => n instanceof tf.Tensor), ...Object.values(grads)]);
  }
}

/**
 * One optimisation step on one batch on a host backend (wasm, cpu): forward, backward,
 * gradient-norm clipping (model and auxiliary-only variables apart), AdamW.
 */
export function trainStep(
  model: TransformerLM,
  opt: AdamW,
  batch: Int32Array,
  o: StepOptions,
): StepResult {
  return readSync(stepCore(model, opt, batch, o));
}

/**
 * trainStep on any backend. On wasm/cpu it is trainStep. On backends without synchronous
 * read-back (webgpu) an untaped forward up to the last routed block first awaits the routers'
 * read-backs and records them (the routing RNG is rewound after it); the taped step then replays
 * those decisions, and its loss and gradient norms are awaited before the update.
 */
export async function trainStepAsync(
  model: TransformerLM,
  opt: AdamW,
  batch: Int32Array,
  o: StepOptions,
): Promise<StepResult> {
  if (isHostBackend()) return trainStep(model, opt, batch, o);
  const rngState = o.rng.getState();
  const { reads } = await model.forwardAsync(batch, {
    training: true,
    rng: o.rng,
    routingOnly: true,
  });
  o.rng.setState(rngState);
  return readAsync(stepCore(model, opt, batch, o, reads));
}

/** Each batch's summed token loss (a scalar tensor) from its forward pass. */
const lossSum = (out: ForwardResult) => tf.sum(out.tokenLoss);

/** The mean cross-entropy per token of `batches` from their summed token losses. */
function meanTokenLoss(model: TransformerLM, batches: Int32Array[], sums: number[]): number {
  const { seqLen } = model.config;
  let sum = 0, n = 0;
  batches.forEach((b, i) => {
    sum += sums[i];
    n += (b.length / (seqLen + 1)) * seqLen;
  });
  return sum / n;
}

/** Mean cross-entropy over the given evaluation batches (host backends; no routing randomness). */
export function evaluate(model: TransformerLM, batches: Int32Array[]): number {
  const rng = new Rng(0); // unused in evaluation (routers route deterministically)
  const sums = batches.map((b) =>
    tf.tidy(() => lossSum(model.forward(b, { training: false, rng })).dataSync()[0])
  );
  return meanTokenLoss(model, batches, sums);
}

/** evaluate on any backend (read-backs awaited; on wasm/cpu it is evaluate). */
export async function evaluateAsync(model: TransformerLM, batches: Int32Array[]): Promise<number> {
  if (isHostBackend()) return evaluate(model, batches);
  const rng = new Rng(0);
  const sums: number[] = [];
  for (const b of batches) {
    const { value } = await model.forwardAsync(
      b,
      { training: false, rng },
      async (out) => (await lossSum(out).data())[0],
    );
    sums.push(value!);
  }
  return meanTokenLoss(model, batches, sums);
}
