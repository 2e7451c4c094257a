import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two cores: run test files one after another so heavy files do not starve each other.
    fileParallelism: false,
  },
});
