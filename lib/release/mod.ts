/**
 * The authors' data release (Clark et al. 2022, google-deepmind/scaling_laws_for_routing,
 * CC-BY-4.0): download with checksum, typed loading into nodejs-polars, and the sweeps' views.
 *
 *   const df = await loadRelease();            // every row, typed
 *   const sbase = mainSweep(df, { technique: "S-Base" });
 *   const { N, E, loss } = fitData(sbase);
 *
 * File resolution: opts.path (a `--curves PATH` flag) > env ROUTING_CURVES > data/cache/curves.csv.gz
 * (downloaded from the pinned address if absent; env ROUTING_CURVES_URL / ROUTING_CACHE_DIR
 * override address and folder). sha256 checked always; ROUTING_CURVES_NO_VERIFY=1 skips the check
 * for an explicit file only (a user's own modified copy).
 */
export {
  ALL_COLUMNS,
  FLOAT_COLUMNS,
  INT_COLUMNS,
  LOSS_COLUMNS,
  type LossColumn,
  RELEASE,
  RELEASE_BATCH,
  RELEASE_SEQ_LEN,
  RELEASE_URL,
  ROUTER_TYPES,
  STRING_COLUMNS,
  type Technique,
  TECHNIQUES,
} from "./schema.ts";
export {
  defaultCacheDir,
  downloadVerified,
  resolveCurvesPath,
  type ResolveOptions,
  sha256Hex,
} from "./source.ts";
export { loadRelease, parseRelease } from "./load.ts";
export {
  assertTechnique,
  finalSteps,
  fitData,
  mainSweep,
  type ReleaseFitData,
  routingFrequencySweep,
  type SeedPolicy,
  topKSweep,
  trainingCurves,
} from "./views.ts";
