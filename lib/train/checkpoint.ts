/**
 * Checkpoints: one file `checkpoint.bin` in the checkpoint directory holding a JSON header (step,
 * config, RNG and sampler states, history so far) and every tensor (weights, AdamW moments) as
 * float32. Written to a temporary file and renamed over the old one, so a crash mid-write leaves
 * the previous checkpoint intact.
 *
 * Layout: "RLMCKPT1" (8 bytes) | header length (uint32 LE) | header JSON (utf-8) | padding to 4
 * bytes | float32 data (offsets in the header are in floats).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";

const MAGIC = "RLMCKPT1";

export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface CheckpointData<H> {
  header: H;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export function checkpointFile(dir: string): string {
  return path.join(dir, "checkpoint.bin");
}

export function writeCheckpoint<H>(
  dir: string,
  header: H,
  tensors: { name: string; shape: number[]; data: Float32Array }[],
): void {
  fs.mkdirSync(dir, { recursive: true });
  const entries: TensorEntry[] = [];
  let off = 0;
  for (const t of tensors) {
    entries.push({ name: t.name, shape: t.shape, offset: off, length: t.data.length });
    off += t.data.length;
  }
  const head = new TextEncoder().encode(JSON.stringify({ header, tensors: entries }));
  const pre = 8 + 4 + head.length;
  const pad = (4 - (pre % 4)) % 4;
  const buf = new Uint8Array(pre + pad + off * 4);
  buf.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(buf.buffer).setUint32(8, head.length, true);
  buf.set(head, 12);
  const floats = new Float32Array(buf.buffer, pre + pad, off);
  for (let i = 0; i < tensors.length; i++) floats.set(tensors[i].data, entries[i].offset);
  const file = checkpointFile(dir);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, buf);
  fs.renameSync(tmp, file);
}

export function readCheckpoint<H>(dir: string): CheckpointData<H> | null {
  const file = checkpointFile(dir);
  if (!fs.existsSync(file)) return null;
  const raw = fs.readFileSync(file);
  const buf = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (new TextDecoder().decode(buf.subarray(0, 8)) !== MAGIC) {
    throw new Error(
      `${file} is not a training checkpoint (bad magic); remove it or use another dir`,
    );
  }
  const n = new DataView(buf.buffer, buf.byteOffset).getUint32(8, true);
  const { header, tensors } = JSON.parse(new TextDecoder().decode(buf.subarray(12, 12 + n))) as {
    header: H;
    tensors: TensorEntry[];
  };
  const pre = 12 + n, pad = (4 - (pre % 4)) % 4;
  const total = tensors.reduce((s, t) => s + t.length, 0);
  const copy = new Float32Array(total);
  new Uint8Array(copy.buffer).set(buf.subarray(pre + pad, pre + pad + total * 4));
  const map = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of tensors) {
    map.set(t.name, { shape: t.shape, data: copy.subarray(t.offset, t.offset + t.length) });
  }
  return { header, tensors: map };
}
