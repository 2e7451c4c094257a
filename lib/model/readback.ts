/**
 * Routers on backends without synchronous read-back (webgpu under Deno).
 *
 * A router decides on the host: it reads tensor values (router logits) with `dataSync()` in the
 * middle of the forward pass, and the next layers depend on the decision. tfjs-webgpu cannot read
 * synchronously under Deno, so the model runs such passes in two:
 *
 * 1. a forward pass outside any gradient tape (`TransformerLM.forwardAsync`) that, whenever a
 *    router calls `dataSync()` on a tensor whose values are not yet known, throws `PendingRead`;
 *    the model rewinds the router's RNG, yields, the caller `await`s the tensor's values into a
 *    `ReadCache`, and the router call is retried (only the router call: the layers before it are
 *    not recomputed);
 * 2. the taped forward/backward with the filled cache: every router `dataSync()` returns the
 *    recorded values in order, so each router takes exactly the decisions of pass 1.
 *
 * The routers' own code is unchanged (a user's router that calls `dataSync()` works too): during
 * a router call `Tensor.prototype.dataSync` is served from the cache. On host backends (wasm, cpu)
 * none of this is used: one pass reads synchronously.
 */
import * as tf from "@tensorflow/tfjs-core";

type Values = Float32Array | Int32Array | Uint8Array;

/** The values a pass's routers read, in the order they read them. */
export class ReadCache {
  readonly values: Values[] = [];
  /** Next read to serve. */
  pos = 0;
  /** True while pass 1 fills the cache (a miss is a PendingRead); false when replaying. */
  filling = true;
}

/** Thrown by `dataSync()` inside a router in pass 1: `tensor` (a kept copy) must be read first. */
export class PendingRead extends Error {
  constructor(readonly tensor: tf.Tensor) {
    super("a router read a tensor synchronously; its values are being fetched asynchronously");
  }
}

const proto = tf.Tensor.prototype as unknown as { dataSync: () => Values };

/** Runs f (a router call) with `dataSync()` served from `cache`. */
export function withReadCache<T>(cache: ReadCache, f: () => T): T {
  const original = proto.dataSync;
  proto.dataSync = function (this: tf.Tensor): Values {
    if (cache.pos < cache.values.length) {
      const v = cache.values[cache.pos];
      if (v.length !== this.size) {
        throw new Error(
          `router read ${this.size} values where the pre-pass read ${v.length}: the router must ` +
            `read the same tensors in the same order in every pass for the same input`,
        );
      }
      cache.pos++;
      return v.slice();
    }
    if (cache.filling) throw new PendingRead(tf.keep(tf.clone(this)));
    throw new Error(
      "router read more tensors in the gradient pass than in the pre-pass: its reads must not " +
        "depend on anything but its input and the routing RNG",
    );
  };
  try {
    return f();
  } finally {
    proto.dataSync = original;
  }
}
