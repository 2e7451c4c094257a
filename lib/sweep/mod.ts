/**
 * Sweeps: typed specs and presets, expansion into runs keyed by config hash, a resumable engine
 * with per-run locks and sharding (Slurm job arrays, Kubernetes Indexed Jobs), atomic Parquet
 * results, merging and fit data.
 */
export type {
  Budget,
  RunConfig,
  RunContext,
  RunOne,
  RunOutcome,
  RunProgress,
  SharedTrainSettings,
  SizeSpec,
  SweepRun,
  SweepSpec,
  SweepSpecInput,
} from "./types.ts";
export { canonicalJson, runIdOf } from "../identity/mod.ts";
export { trainRunner, type TrainRunnerOptions } from "./train_run.ts";
export { DEFAULT_TRAIN, expandSpec, loadSpecFile, stepsOf, validateSpec } from "./spec.ts";
export { preset, PRESET_NAMES } from "./presets.ts";
export { parseShard, resolveShard, type Shard, SHARD_COUNT_ENV, shardItems } from "./shard.ts";
export { type LockInfo, RunLock, staleReason, tryLock } from "./lock.ts";
export {
  checkpointDirOf,
  finishedRunIds,
  loadRouterMetrics,
  loadSweepCurves,
  loadSweepResults,
  lockPathOf,
  runDir,
  runState,
  type RunStatus,
} from "./store.ts";
export { doneRuns, fitFrame, type SweepFitData, sweepMainFrame } from "./fit.ts";
export {
  checkSweepFolder,
  claimSweepFolder,
  type FolderSpecOptions,
  SPEC_MARKER,
  specHash,
} from "./folder_spec.ts";
export {
  runCost,
  runSweep,
  type SweepOptions,
  type SweepProgress,
  type SweepSummary,
} from "./engine.ts";
export {
  formatDuration,
  formatProgress,
  notebookProgress,
  routerBehaviour,
  summarizeSweep,
} from "./report.ts";
export {
  cpuModel,
  exportSweep,
  loadShippedSweep,
  type MachineInfo,
  machineInfo,
  plannedShippedRuns,
  roundingFingerprint,
  sameRounding,
  type ShippedManifest,
  type ShippedSupplement,
  type ShippedSweep,
  sweepWall,
} from "./shipped.ts";
export {
  finishedPreset,
  type OurRuns,
  ourRuns,
  SHIPPED_STANDARD,
  sweepFolderOf,
} from "./our_runs.ts";
