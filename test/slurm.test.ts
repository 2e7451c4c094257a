/**
 * The smoke sweep as a real Slurm job array (single-node Slurm started by scripts/slurm-setup.sh,
 * which needs root), merged, against the same sweep run in one process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expandSpec, loadSweepResults, preset } from "../lib/sweep/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const dir = Deno.makeTempDirSync({ prefix: "slurm-test-" });
const decoder = new TextDecoder();

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, cwd: ROOT, env: { NO_COLOR: "1", ...env } })
    .output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

function lossById(out: string): Map<string, number> {
  const df = loadSweepResults(out);
  const ids = df.getColumn("run_id").toArray() as string[];
  const loss = df.getColumn("val_loss").toArray() as number[];
  return new Map(ids.map((id, i) => [id, loss[i]]));
}

beforeAll(async () => {
  const setup = await run("bash", ["scripts/slurm-setup.sh"]);
  if (setup.code !== 0) {
    throw new Error(
      `scripts/slurm-setup.sh failed (it must run as root):\n${setup.stdout}\n${setup.stderr}`,
    );
  }
}, 600_000);

afterAll(() => Deno.removeSync(dir, { recursive: true }));

describe("Slurm job array", () => {
  it("runs the smoke sweep as a 2-task array; merged results equal a one-process run", async () => {
    const runs = expandSpec(preset("smoke"));
    const single = `${dir}/single`;
    const one = await run("deno", [
      "run",
      "-A",
      "lib/cli/sweep.ts",
      "--preset",
      "smoke",
      "--out",
      single,
    ]);
    expect(one.code, one.stderr).toBe(0);

    const sharded = `${dir}/array`;
    const t0 = performance.now();
    const sb = await run("sbatch", [
      "--parsable",
      "--array=0-1",
      "--time=15",
      `--output=${dir}/slurm-%A_%a.out`,
      `--export=ALL,SWEEP_PRESET=smoke,SWEEP_OUT=${sharded}`,
      "deploy/slurm/sweep.sbatch",
    ]);
    expect(sb.code, sb.stderr).toBe(0);
    const jobId = sb.stdout.trim().split(";")[0];
    expect(jobId).toMatch(/^\d+$/);
    // Poll the queue (sbatch --wait polls with growing pauses, adding up to tens of seconds).
    const deadline = Date.now() + 600_000;
    while ((await run("squeue", ["-h", "-j", jobId])).stdout.trim() !== "") {
      if (Date.now() > deadline) {
        await run("scancel", [jobId]);
        throw new Error(`Slurm job ${jobId} still queued or running after 600 s; cancelled`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(
      `slurm array (2 tasks) wall time: ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const logs = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("slurm-"))
      .map((e) => Deno.readTextFileSync(`${dir}/${e.name}`)).join("\n");
    // Each array task ended COMPLETED with exit code 0.
    const jobs = (await run("scontrol", ["show", "job", "-o", jobId])).stdout.trim().split("\n");
    expect(jobs.length, logs).toBe(2);
    for (const line of jobs) {
      expect(line, logs).toMatch(/JobState=COMPLETED /);
      expect(line, logs).toMatch(/ExitCode=0:0 /);
    }
    // Both array tasks ran as shards of 2, each training its own half of the runs.
    expect(logs).toMatch(/shard 0\/2 \(Slurm job array\)/);
    expect(logs).toMatch(/shard 1\/2 \(Slurm job array\)/);
    expect(logs.match(/\[sweep\] done /g)?.length).toBe(runs.length);

    const merged = lossById(sharded);
    expect([...merged.keys()].sort()).toEqual(runs.map((r) => r.runId).sort());
    expect(merged).toEqual(lossById(single));
    const summary = await run("deno", ["run", "-A", "lib/cli/sweep.ts", "--merge", sharded]);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toMatch(
      new RegExp(`spec smoke: ${runs.length}/${runs.length} runs have results`),
    );
  }, 900_000);
});
