/** Headless notebook execution on the Deno kernel (no lost outputs) and .ipynb helpers. */
export {
  cellErrors,
  cellSource,
  codeCellsMissingOutput,
  DENO_NOTEBOOK_METADATA,
  fromPercent,
  NO_OUTPUT_TAG,
  type Notebook,
  type NotebookCell,
  parseNotebook,
  readNotebook,
  serializeNotebook,
  stripOutputs,
} from "./ipynb.ts";
export {
  findPython,
  listNotebooks,
  NotebookRunError,
  type NotebookRunSummary,
  REPO_ROOT,
  RUNNER_SCRIPT,
  runNotebooks,
  type RunOptions,
} from "./runner.ts";
export { notebookModule, typecheckNotebooks } from "./typecheck.ts";
