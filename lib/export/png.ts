import { unzlibSync } from "fflate";

/** Minimal PNG header reading (no decoding): enough to check a file is a PNG of a given size. */
export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/** Reads width/height from the IHDR chunk; throws when `bytes` is not a PNG. */
export function pngInfo(bytes: Uint8Array): PngInfo {
  if (bytes.length < 33 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new Error("not a PNG file: the 8-byte PNG signature is missing");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== "IHDR") throw new Error(`malformed PNG: first chunk is ${type}, not IHDR`);
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
  };
}

export interface DecodedPng extends PngInfo {
  /** Pixels as RGBA, row-major: [height * width * 4]. */
  rgba: Uint8Array;
}

/**
 * Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) into RGBA pixels.
 * Other variants throw: this exists to check exported images, not as a general decoder.
 */
export function decodePng(bytes: Uint8Array): DecodedPng {
  const info = pngInfo(bytes);
  const channels = info.colorType === 6 ? 4 : info.colorType === 2 ? 3 : 0;
  if (info.bitDepth !== 8 || channels === 0 || bytes[28] !== 0) {
    throw new Error(
      `decodePng handles 8-bit non-interlaced RGB/RGBA only (bit depth ${info.bitDepth}, colour type ${info.colorType})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  for (let off = 8; off + 8 <= bytes.length;) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    if (type === "IDAT") idat.push(bytes.subarray(off + 8, off + 8 + len));
    if (type === "IEND") break;
    off += 12 + len;
  }
  const raw = unzlibSync(concat(idat));
  const { width, height } = info;
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(
      `malformed PNG: ${raw.length} bytes of pixel data, expected ${height * (stride + 1)}`,
    );
  }
  const cur = new Uint8Array(stride), prev = new Uint8Array(stride);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? cur[i - channels] : 0, b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      let pred = 0;
      if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) {
        throw new Error(`malformed PNG: unknown filter ${filter} on row ${y}`);
      }
      cur[i] = (line[i] + pred) & 255;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      rgba[o] = cur[x * channels];
      rgba[o + 1] = cur[x * channels + 1];
      rgba[o + 2] = cur[x * channels + 2];
      rgba[o + 3] = channels === 4 ? cur[x * channels + 3] : 255;
    }
    prev.set(cur);
  }
  return { ...info, rgba };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
