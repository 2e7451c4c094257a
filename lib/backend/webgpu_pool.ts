/**
 * A bounded buffer pool for tfjs-webgpu 4.22.
 *
 * tfjs-webgpu keeps every freed GPU buffer in a pool keyed by its exact byte size and usage, and
 * never frees one. A routed model's tensors change shape every step (an expert's rows are the
 * tokens routed to it, 0 to capacity), so the pool ends up holding, for every size ever seen, as
 * many buffers as were ever alive at once at that size: its allocated bytes keep creeping up
 * through a run (an E = 16 model at d_model 16 grew 2.97 -> 3.85 MB over 60 steps while the bytes
 * in use at each step's end stayed at 1.00 MB).
 *
 * `useBoundedBufferPool` caps what the pool may hold beyond need: before it creates a buffer that
 * would take the allocated bytes past `(1 + slack)` x the high-water mark of bytes in use, it
 * destroys the free buffers released longest ago (of any size) until the new one fits. Buffers in
 * use are never touched; a destroyed buffer still referenced by submitted GPU work is freed by
 * WebGPU once that work completes (tfjs itself destroys its upload buffers that way). Exact-size
 * reuse is unchanged, so a model with fixed shapes sees no difference; a routed model re-creates
 * a few small buffers a step instead of hoarding them.
 */

/** The parts of tfjs-webgpu 4.22's BufferManager this module drives (its fields are public JS). */
interface BufferManagerLike {
  device: { createBuffer(d: { size: number; usage: number; mappedAtCreation: boolean }): Buf };
  numUsedBuffers: number;
  numFreeBuffers: number;
  freeBuffers: Map<string, Buf[]>;
  usedBuffers: Map<string, Buf[]>;
  numBytesUsed: number;
  numBytesAllocated: number;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): Buf;
  releaseBuffer(buffer: Buf, reuse?: boolean): void;
}

interface Buf {
  size: number;
  usage: number;
  destroy(): void;
}

export interface PoolStats {
  /** Bytes of buffers held by live tensors (and pending uniforms/staging). */
  bytesUsed: number;
  /** Bytes of all buffers the pool owns: in use plus free. */
  bytesAllocated: number;
  /** The most bytes ever in use at once since the pool was bounded. */
  highWater: number;
  /** Free buffers kept for reuse. */
  freeBuffers: number;
  /** Buffers created and free buffers destroyed by the bound since it was installed. */
  created: number;
  evicted: number;
  /** The slack the bound allows over the high-water mark. */
  slack: number;
}

const bounded = new WeakMap<object, () => PoolStats>();

/** Default slack: the pool may hold 25% more than the most bytes ever in use at once. */
export const DEFAULT_POOL_SLACK = 0.25;

const keyOf = (size: number, usage: number) => `${size}_${usage}`;

/** The BufferManager of a tfjs webgpu backend object, or undefined when it has none we know. */
function managerOf(backend: unknown): BufferManagerLike | undefined {
  const bm = (backend as { bufferManager?: Partial<BufferManagerLike> } | undefined)?.bufferManager;
  if (
    !bm || !(bm.freeBuffers instanceof Map) || !(bm.usedBuffers instanceof Map) ||
    typeof bm.acquireBuffer !== "function" || typeof bm.releaseBuffer !== "function" ||
    typeof bm.numBytesAllocated !== "number" || typeof bm.numBytesUsed !== "number" || !bm.device
  ) return undefined;
  return bm as BufferManagerLike;
}

/**
 * Bounds the buffer pool of a tfjs webgpu backend (`tf.backend()` after `setBackend("webgpu")`);
 * idempotent. Returns false (and changes nothing) when the backend's buffer manager is not the
 * one of tfjs-webgpu 4.22 this was written against.
 */
export function useBoundedBufferPool(backend: unknown, slack = DEFAULT_POOL_SLACK): boolean {
  if (!(slack >= 0) || !Number.isFinite(slack)) {
    throw new Error(`buffer pool slack must be a finite number >= 0, got ${slack}`);
  }
  const bm = managerOf(backend);
  if (!bm) return false;
  if (bounded.has(bm)) return true;
  // Free buffers in release order (oldest first): a Set keeps insertion order.
  const lru = new Set<Buf>();
  for (const list of bm.freeBuffers.values()) for (const b of list) lru.add(b);
  let highWater = bm.numBytesUsed, created = 0, evicted = 0;

  const evictOne = (): boolean => {
    const oldest = lru.values().next();
    if (oldest.done) return false;
    const b = oldest.value;
    lru.delete(b);
    const list = bm.freeBuffers.get(keyOf(b.size, b.usage));
    const i = list ? list.indexOf(b) : -1;
    if (i < 0) return true; // not in the pool any more (reused): nothing to free
    list![i] = list![list!.length - 1];
    list!.pop();
    bm.numFreeBuffers--;
    bm.numBytesAllocated -= b.size;
    b.destroy();
    evicted++;
    return true;
  };

  bm.acquireBuffer = (size, usage, mappedAtCreation = false, reuse = true) => {
    const key = keyOf(size, usage);
    let buffer: Buf | undefined;
    if (reuse) {
      let free = bm.freeBuffers.get(key);
      if (!free) bm.freeBuffers.set(key, free = []);
      if (free.length > 0) {
        buffer = free.pop()!;
        lru.delete(buffer);
        bm.numFreeBuffers--;
      }
    }
    if (!buffer) {
      const limit = (1 + slack) * Math.max(highWater, bm.numBytesUsed + size);
      while (bm.numBytesAllocated + size > limit && evictOne());
      buffer = bm.device.createBuffer({ size, usage, mappedAtCreation });
      bm.numBytesAllocated += size;
      created++;
    }
    let used = bm.usedBuffers.get(key);
    if (!used) bm.usedBuffers.set(key, used = []);
    used.push(buffer);
    bm.numUsedBuffers++;
    bm.numBytesUsed += size;
    if (bm.numBytesUsed > highWater) highWater = bm.numBytesUsed;
    return buffer;
  };

  bm.releaseBuffer = (buffer, reuse = true) => {
    if (bm.freeBuffers.size === 0) return; // tfjs: the manager was disposed
    const key = keyOf(buffer.size, buffer.usage);
    const used = bm.usedBuffers.get(key);
    const i = used ? used.indexOf(buffer) : -1;
    if (i < 0) throw new Error("Cannot find the buffer in buffer manager");
    used![i] = used![used!.length - 1];
    used!.pop();
    bm.numUsedBuffers--;
    bm.numBytesUsed -= buffer.size;
    if (reuse) {
      let free = bm.freeBuffers.get(key);
      if (!free) bm.freeBuffers.set(key, free = []);
      free.push(buffer);
      lru.add(buffer);
      bm.numFreeBuffers++;
    } else {
      buffer.destroy();
      bm.numBytesAllocated -= buffer.size;
    }
  };

  bounded.set(bm, () => ({
    bytesUsed: bm.numBytesUsed,
    bytesAllocated: bm.numBytesAllocated,
    highWater,
    freeBuffers: bm.numFreeBuffers,
    created,
    evicted,
    slack,
  }));
  return true;
}

/**
 * The pool figures of a tfjs webgpu backend: bytes in use and allocated (tfjs's own counters),
 * plus the bound's high-water mark and counts when `useBoundedBufferPool` runs on it.
 */
export function bufferPoolStats(backend: unknown): PoolStats | undefined {
  const bm = managerOf(backend);
  if (!bm) return undefined;
  const stats = bounded.get(bm);
  if (stats) return stats();
  return {
    bytesUsed: bm.numBytesUsed,
    bytesAllocated: bm.numBytesAllocated,
    highWater: NaN,
    freeBuffers: bm.numFreeBuffers,
    created: NaN,
    evicted: NaN,
    slack: Infinity,
  };
}
