/**
 * `deno task check:notebooks [PREFIX...]`: type-checks every numbered notebook's code cells as
 * one module each (lib/notebook/typecheck.ts). Exit status 1 on any type error.
 */
import { join } from "node:path";
import { listNotebooks, readNotebook, REPO_ROOT, typecheckNotebooks } from "../notebook/mod.ts";

const paths = await listNotebooks(join(REPO_ROOT, "notebooks"), Deno.args);
const errors = await typecheckNotebooks(paths, REPO_ROOT, readNotebook);
if (Object.keys(errors).length === 0) {
  console.log(`${paths.length} notebooks type-check`);
} else {
  for (const [k, v] of Object.entries(errors)) console.error(`${k}: ${v}`);
  Deno.exit(1);
}
