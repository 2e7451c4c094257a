/**
 * The AdamW update as one wasm SIMD loop over tfjs-wasm's own heap.
 *
 * Why: the update reads and writes every parameter, its gradient and two moments once a step, and
 * the JS loop that did it is bound by scalar double-precision sqrt and division (~3.8 ns a
 * parameter: 270 ms a step at d_model 256, E = 64, 70M parameters). Four float32 lanes at a time
 * do the same work in a fraction of that (`deno task bench:profile`, "adam").
 *
 * How: a tiny module, encoded below byte by byte (no toolchain needed), imports the wasm backend's
 * `WebAssembly.Memory` and runs
 *   g' = g s;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
 *   w = p - lr ((m c1) / (sqrt(v c2) + eps) + wd p)
 * on [w_out, p, g, m, v] given as byte offsets into that memory, 4 floats at a time, in float32.
 * Only the single-threaded build's (unshared) memory is supported; elsewhere `adamwKernel()`
 * returns undefined and the caller keeps its JS loop.
 */

/** Unsigned LEB128. */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const str = (s: string) => [...leb(s.length), ...new TextEncoder().encode(s)];
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()];

// Opcodes (WebAssembly core + fixed-width SIMD).
const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const LOCAL_GET = 0x20, LOCAL_SET = 0x21, LOCAL_TEE = 0x22;
const I32_ADD = 0x6a, I32_GE_U = 0x4f, I32_CONST = 0x41;
const BLOCK = 0x02, LOOP = 0x03, VOID = 0x40, BR = 0x0c, BR_IF = 0x0d, END = 0x0b;
const simd = (op: number) => [0xfd, ...leb(op)];
const V128_LOAD = [...simd(0x00), 0, 0], V128_STORE = [...simd(0x0b), 0, 0]; // memarg align 0
const F32X4_SPLAT = simd(0x13), F32X4_SQRT = simd(0xe3), F32X4_ADD = simd(0xe4);
const F32X4_SUB = simd(0xe5), F32X4_MUL = simd(0xe6), F32X4_DIV = simd(0xe7);

// Parameters: 0 wOut, 1 p, 2 g, 3 m, 4 v, 5 bytes (a multiple of 16), then f32: 6 gradScale,
// 7 b1, 8 1-b1, 9 b2, 10 1-b2, 11 lr, 12 c1, 13 c2, 14 eps, 15 wd.
const PARAMS = [I32, I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32, F32, F32];
// Locals: 16 i (byte offset); 17..26 the ten f32 parameters splatted; 27 g', 28 m, 29 v, 30 p.
const I = 16, SPLAT0 = 17, GS = 17, B1 = 18, OMB1 = 19, B2 = 20, OMB2 = 21, LR = 22, C1 = 23;
const C2 = 24, EPS = 25, WD = 26, G = 27, M = 28, V = 29, P = 30;

const get = (l: number) => [LOCAL_GET, l];
/** The v128 at byte offset (local `base` + i). */
const load = (base: number) => [...get(base), ...get(I), I32_ADD, ...V128_LOAD];
const addr = (base: number) => [...get(base), ...get(I), I32_ADD];

function body(): number[] {
  const code: number[] = [];
  for (let k = 0; k < 10; k++) code.push(...get(6 + k), ...F32X4_SPLAT, LOCAL_SET, SPLAT0 + k);
  code.push(
    BLOCK,
    VOID,
    LOOP,
    VOID,
    ...get(I),
    ...get(5),
    I32_GE_U,
    BR_IF,
    1,
    // g' = g * s
    ...load(2),
    ...get(GS),
    ...F32X4_MUL,
    LOCAL_SET,
    G,
    // m = b1 m + (1 - b1) g'
    ...addr(3),
    ...load(3),
    ...get(B1),
    ...F32X4_MUL,
    ...get(G),
    ...get(OMB1),
    ...F32X4_MUL,
    ...F32X4_ADD,
    LOCAL_TEE,
    M,
    ...V128_STORE,
    // v = b2 v + (1 - b2) g'^2
    ...addr(4),
    ...load(4),
    ...get(B2),
    ...F32X4_MUL,
    ...get(G),
    ...get(G),
    ...F32X4_MUL,
    ...get(OMB2),
    ...F32X4_MUL,
    ...F32X4_ADD,
    LOCAL_TEE,
    V,
    ...V128_STORE,
    // p
    ...load(1),
    LOCAL_SET,
    P,
    // w = p - lr ((m c1) / (sqrt(v c2) + eps) + wd p)
    ...addr(0),
    ...get(P),
    ...get(M),
    ...get(C1),
    ...F32X4_MUL,
    ...get(V),
    ...get(C2),
    ...F32X4_MUL,
    ...F32X4_SQRT,
    ...get(EPS),
    ...F32X4_ADD,
    ...F32X4_DIV,
    ...get(WD),
    ...get(P),
    ...F32X4_MUL,
    ...F32X4_ADD,
    ...get(LR),
    ...F32X4_MUL,
    ...F32X4_SUB,
    ...V128_STORE,
    // i += 16
    ...get(I),
    I32_CONST,
    16,
    I32_ADD,
    LOCAL_SET,
    I,
    BR,
    0,
    END,
    END,
    END,
  );
  const locals = vec([[1, I32], [14, V128]]);
  const fn = [...locals, ...code];
  return [...leb(fn.length), ...fn];
}

/** The module's bytes. */
export function adamwModuleBytes(): Uint8Array {
  const type = section(1, vec([[0x60, ...vec(PARAMS.map((t) => [t])), 0]]));
  const imports = section(2, vec([[...str("env"), ...str("memory"), 0x02, 0x00, ...leb(1)]]));
  const funcs = section(3, vec([[0]]));
  const exports = section(7, vec([[...str("adamw"), 0x00, 0]]));
  const code = section(10, vec([body()]));
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...type,
    ...imports,
    ...funcs,
    ...exports,
    ...code,
  ]);
}

/** One AdamW update over n float32s; offsets in bytes. See the module comment for the maths. */
export type AdamWKernel = (
  wOut: number,
  p: number,
  g: number,
  m: number,
  v: number,
  n: number,
  h: {
    gradScale: number;
    b1: number;
    b2: number;
    lr: number;
    c1: number;
    c2: number;
    eps: number;
    wd: number;
  },
) => void;

const kernels = new WeakMap<WebAssembly.Memory, AdamWKernel | null>();

/**
 * The SIMD AdamW over `memory` (the wasm backend's heap), or undefined where it cannot run (a
 * shared memory, no wasm SIMD). n must be a multiple of 4 (the caller does the rest).
 */
export function adamwKernel(memory: WebAssembly.Memory): AdamWKernel | undefined {
  let k = kernels.get(memory);
  if (k === undefined) {
    k = null;
    try {
      const isShared = typeof SharedArrayBuffer !== "undefined" &&
        memory.buffer instanceof SharedArrayBuffer;
      if (!isShared) {
        const mod = new WebAssembly.Module(adamwModuleBytes() as BufferSource);
        const inst = new WebAssembly.Instance(mod, { env: { memory } });
        const f = inst.exports.adamw as (...a: number[]) => void;
        k = (wOut, p, g, m, v, n, h) => {
          if (n % 4 !== 0) throw new Error(`adamw kernel: n = ${n} is not a multiple of 4`);
          f(
            wOut,
            p,
            g,
            m,
            v,
            n * 4,
            h.gradScale,
            h.b1,
            1 - h.b1,
            h.b2,
            1 - h.b2,
            h.lr,
            h.c1,
            h.c2,
            h.eps,
            h.wd,
          );
        };
      }
    } catch {
      k = null;
    }
    kernels.set(memory, k);
  }
  return k ?? undefined;
}
