/**
 * `deno task test:unit`: every test that needs only Deno (and the npm packages deno.json maps),
 * no root, browser, scheduler, Jupyter, GPU or system library. Tests that read the authors'
 * release still need the file: set ROUTING_CURVES (see test/_curves.ts). A new test file is a unit
 * test unless it is listed below with what it needs.
 */
import { configDefaults, defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.ts";

/** Test files that need more than Deno, and what. */
export const NEEDS_MORE_THAN_DENO: Record<string, string> = {
  "test/backend.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU)",
  "test/webgpu.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU)",
  "test/blas.test.ts": "OpenBLAS (Debian libopenblas0-pthread)",
  "test/shipped.test.ts": "OpenBLAS (it retrains a committed run, which trained on it)",
  "test/webgpu_experts.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU)",
  "test/webgpu_steady.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU)",
  "test/webgpu_memory.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU)",
  "test/gpu_adapter.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU)",
  "test/gpu_check.test.ts": "a WebGPU adapter (Mesa's lavapipe or a GPU), bash and timeout",
  "test/export.test.ts": "Chromium (playwright-core drives it)",
  "test/report.test.ts": "Chromium (playwright-core drives it)",
  "test/notebooks.test.ts": "Jupyter (nbclient and the Deno kernel)",
  "test/slurm.test.ts": "root and Slurm (scripts/slurm-setup.sh)",
};

export default mergeConfig(
  base,
  defineConfig({
    test: { exclude: [...configDefaults.exclude, ...Object.keys(NEEDS_MORE_THAN_DENO)] },
  }),
);
