/**
 * Column schema of the authors' release `curves.csv.gz` (google-deepmind/scaling_laws_for_routing,
 * data licence CC-BY-4.0). Every column the README describes, with the type we load it as.
 */

/** The pinned release: commit, path in the repository, and the sha256 of the gzip file. */
export const RELEASE = {
  repo: "google-deepmind/scaling_laws_for_routing",
  commit: "42da0c392b127df2c01fa7b705f72396050d05e5",
  path: "data/curves.csv.gz",
  sha256: "c03e7531add85e594f368d33bac4a0220280be858a7ed12d147cf73af6a3819f",
} as const;

/** Public address of the pinned file (raw GitHub content at the pinned commit). */
export const RELEASE_URL =
  `https://raw.githubusercontent.com/${RELEASE.repo}/${RELEASE.commit}/${RELEASE.path}`;

/** The six evaluation losses (nats/token); cells may be empty in the release (loaded as null). */
export const LOSS_COLUMNS = [
  "loss_validation",
  "loss_c4",
  "loss_curation_corpus",
  "loss_lambada",
  "loss_pile",
  "loss_wikitext103",
] as const;
export type LossColumn = typeof LOSS_COLUMNS[number];

/** Integer columns (ids, steps, shape): loaded as Int32, never null. */
export const INT_COLUMNS = [
  "hyper_id",
  "step",
  "num_experts",
  "d_model",
  "num_blocks",
  "num_heads",
  "kqv_size",
  "k",
  "seed",
] as const;

/** Float columns that must be present in every row (counts exceed 2^31, so Float64). */
export const FLOAT_COLUMNS = [
  "flop_increase",
  "routing_frequency",
  "total_parameter_count",
  "dense_parameter_count",
  "flops_per_step",
] as const;

/** String columns. */
export const STRING_COLUMNS = ["router_type", "model_size_label"] as const;

export const ALL_COLUMNS: readonly string[] = [
  ...INT_COLUMNS,
  ...FLOAT_COLUMNS,
  ...STRING_COLUMNS,
  ...LOSS_COLUMNS,
];

/** Router types the release uses. */
export const ROUTER_TYPES = ["Dense", "S-Base", "RL-R", "Hash"] as const;

/** The routing techniques (router types other than Dense). */
export type Technique = "S-Base" | "RL-R" | "Hash";
export const TECHNIQUES: readonly Technique[] = ["S-Base", "RL-R", "Hash"];

/** Batch and sequence length of every run in the release (defined in lib/counting). */
export { RELEASE_BATCH, RELEASE_SEQ_LEN } from "../counting/mod.ts";
