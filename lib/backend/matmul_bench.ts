/**
 * Measures square float32 matMul throughput on one backend, e.g.
 *   deno run -A lib/backend/matmul_bench.ts --backend wasm --threads 2 --size 512 --seconds 3
 * prints one JSON line { backend, threads, adapter, size, gflops, ms_per_matmul }.
 * The thread count of wasm is fixed per process, so compare threads in separate runs.
 */
import * as tf from "@tensorflow/tfjs-core";
import process from "node:process";
import { type BackendName, initBackend } from "./mod.ts";

export interface MatMulResult {
  backend: string;
  threads?: number;
  adapter?: string;
  size: number;
  /** FLOPs per wall-clock second. */
  gflops: number;
  /** FLOPs per CPU second of this process, all threads: what the work costs, whatever the load. */
  cpu_gflops: number;
  ms_per_matmul: number;
}

/**
 * Times `size` x `size` matMuls on the active backend (reading each result back) for ~`seconds`;
 * returns GFLOP per wall-clock second and per CPU second of this process.
 */
export async function matMulGflops(
  size = 512,
  seconds = 2,
): Promise<{ gflops: number; cpuGflops: number }> {
  const a = tf.randomNormal([size, size], 0, 1, "float32", 1) as tf.Tensor2D;
  const b = tf.randomNormal([size, size], 0, 1, "float32", 2) as tf.Tensor2D;
  for (let i = 0; i < 3; i++) {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  }
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  a.dispose();
  b.dispose();
  const flops = 2 * size ** 3 * n;
  return { gflops: flops / s / 1e9, cpuGflops: flops / cpu / 1e9 };
}

if (import.meta.main) {
  const args = new Map<string, string>();
  for (let i = 0; i < Deno.args.length; i += 2) {
    args.set(Deno.args[i].replace(/^--/, ""), Deno.args[i + 1]);
  }
  const info = await initBackend((args.get("backend") ?? "wasm") as BackendName, {
    threads: Number(args.get("threads") ?? 1),
  });
  const size = Number(args.get("size") ?? 512);
  const { gflops, cpuGflops } = await matMulGflops(size, Number(args.get("seconds") ?? 3));
  const out: MatMulResult = {
    backend: info.name,
    threads: info.threads,
    adapter: info.adapter,
    size,
    gflops: Math.round(gflops * 10) / 10,
    cpu_gflops: Math.round(cpuGflops * 10) / 10,
    ms_per_matmul: Math.round((2 * size ** 3) / (gflops * 1e9) * 1e5) / 100,
  };
  console.log(JSON.stringify(out));
}
