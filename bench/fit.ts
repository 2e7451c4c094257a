/**
 * Benchmark of the Eq. (1) fit on the authors' release, against scipy (scripts/scipy_eq1.py).
 *   deno task bench:fit [--resamples 1000] [--boot-restarts 100] [--no-scipy]
 * Prints: per technique, our fit (500 restarts, variable projection and joint L-BFGS) MSE and
 * time, Table 3's MSE on the same data, scipy L-BFGS-B (500 restarts) MSE and time; a bootstrap
 * with its time and the 95% intervals; the held-out (<= 370M -> 1.3B) errors per law; the dense fit
 * and the generalised law.
 */
import { execFileSync } from "node:child_process";
import {
  bilinearLaw,
  denseAlphaNc,
  denseLaw,
  effectiveParameterCount,
  eq1Law,
  generalisedLaw,
  type Law,
  nCutoff,
  PAPER_DENSE,
  separableLaw,
  TABLE3,
} from "../lib/laws/mod.ts";
import { bootstrap, evaluateFit, type FitData, fitLaw, heldOut } from "../lib/fit/mod.ts";
import { generalisedData, mainData, type Technique, TECHNIQUES } from "../test/_release_data.ts";

const args = Deno.args;
const argNum = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RESAMPLES = argNum("--resamples", 1000);
const BOOT_RESTARTS = argNum("--boot-restarts", 100);
const RESTARTS = 500;
const runScipy = !args.includes("--no-scipy");

const e = (v: number, p = 4) => v.toExponential(p);
const f = (v: number, p = 4) => v.toFixed(p);
const ms = (t: number) => `${t.toFixed(0)} ms`;

function timeIt<T>(fn: () => T, reps: number): { value: T; median: number; min: number } {
  const ts: number[] = [];
  let value!: T;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    value = fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { value, median: ts[Math.floor(ts.length / 2)], min: ts[0] };
}

const data = {} as Record<Technique, { N: number[]; E: number[]; loss: number[] }>;
for (const t of TECHNIQUES) data[t] = await mainData(t);
console.log(
  `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores; restarts ${RESTARTS}`,
);

// Warm up the JIT once so the timings below are steady-state.
fitLaw(eq1Law, data["S-Base"], { restarts: RESTARTS, seed: 99 });

console.log("\n== Eq. (1), one fit with 500 restarts (median of 5 runs) ==");
const ours: Record<string, { mse: number; ms: number; jointMse: number; jointMs: number }> = {};
for (const t of TECHNIQUES) {
  const vp = timeIt(() => fitLaw(eq1Law, data[t], { restarts: RESTARTS, seed: 0 }), 5);
  const jt = timeIt(
    () => fitLaw(eq1Law, data[t], { restarts: RESTARTS, seed: 0, method: "joint" }),
    3,
  );
  const table = evaluateFit(eq1Law, TABLE3[t], data[t]);
  ours[t] = {
    mse: vp.value.mse_log10,
    ms: vp.median,
    jointMse: jt.value.mse_log10,
    jointMs: jt.median,
  };
  const p = vp.value.params;
  console.log(
    `${t.padEnd(6)} n=${vp.value.n}  varpro mse=${e(vp.value.mse_log10, 9)} ${ms(vp.median)} ` +
      `(converged ${vp.value.converged}, ${vp.value.evaluations} evals) | joint mse=${
        e(jt.value.mse_log10, 9)
      } ${ms(jt.median)} | Table 3 mse=${e(table.mse_log10)} (x${
        f(table.mse_log10 / vp.value.mse_log10, 2)
      })`,
  );
  console.log(
    `       a=${f(p.a, 5)} b=${f(p.b, 5)} c=${f(p.c, 5)} d=${f(p.d, 5)} E_start=${
      f(p.E_start, 3)
    } ` +
      `E_max=${f(p.E_max, 1)} N_cutoff=${e(nCutoff(p), 3)} EPC(5M,128)=${
        e(effectiveParameterCount(p, 5e6, 128), 3)
      } rmse_loss=${f(vp.value.rmse_loss, 5)} max|res|=${f(vp.value.max_residual, 5)}`,
  );
}

if (runScipy) {
  console.log("\n== scipy L-BFGS-B, 500 restarts, same data and objective ==");
  const tmp = Deno.makeTempFileSync({ suffix: ".json" });
  Deno.writeTextFileSync(tmp, JSON.stringify(data));
  try {
    const out = execFileSync(
      "python3",
      ["scripts/scipy_eq1.py", tmp, "--restarts", `${RESTARTS}`],
      {
        encoding: "utf8",
        maxBuffer: 1 << 24,
      },
    );
    const sp = JSON.parse(out) as Record<
      string,
      Record<string, { mse_log10: number; seconds: number; success: boolean }>
    >;
    console.log(
      "technique  ours mse (time)              scipy default mse (time)     scipy tight mse (time)",
    );
    for (const t of TECHNIQUES) {
      const d = sp[t].default, g = sp[t].tight;
      console.log(
        `${t.padEnd(9)}  ${e(ours[t].mse, 9)} (${ms(ours[t].ms)})  ${e(d.mse_log10, 9)} (${
          f(d.seconds, 2)
        } s)  ${e(g.mse_log10, 9)} (${f(g.seconds, 2)} s)  ours/tight-1 = ${
          e(ours[t].mse / g.mse_log10 - 1, 1)
        }`,
      );
    }
  } finally {
    Deno.removeSync(tmp);
  }
}

console.log(
  `\n== Bootstrap: ${RESAMPLES} resamples, ${BOOT_RESTARTS} restarts + warm start each ==`,
);
for (const t of TECHNIQUES) {
  const t0 = performance.now();
  const bs = bootstrap(eq1Law, data[t], { resamples: RESAMPLES, restarts: BOOT_RESTARTS, seed: 0 });
  const dt = performance.now() - t0;
  const iv = (k: string, fmt: (v: number) => string) =>
    `${k}=${fmt((bs.fit.params as Record<string, number>)[k] ?? NaN)} [${
      fmt(bs.intervals[k][0])
    }, ${fmt(bs.intervals[k][1])}]`;
  console.log(`${t}: ${ms(dt)} (${f(dt / RESAMPLES, 1)} ms / resample)`);
  console.log(
    "   " + ["a", "b", "c", "d"].map((k) => iv(k, (v) => f(v, 4))).join("  ") + "  " +
      ["E_start", "E_max"].map((k) => iv(k, (v) => f(v, 2))).join("  "),
  );
  const nc = nCutoff(bs.fit.params), epc = effectiveParameterCount(bs.fit.params, 5e6, 128);
  console.log(
    `   N_cutoff=${e(nc, 2)} [${e(bs.intervals.N_cutoff[0], 2)}, ${
      e(bs.intervals.N_cutoff[1], 2)
    }]` +
      `  EPC(5M,128)=${e(epc, 2)} [${e(bs.intervals.EPC_5M_128[0], 2)}, ${
        e(bs.intervals.EPC_5M_128[1], 2)
      }]`,
  );
}

console.log("\n== Dense power law (seed-42 dense runs, E = 1) ==");
{
  const d = data["S-Base"];
  const idx = d.E.map((v, i) => (v === 1 ? i : -1)).filter((i) => i >= 0);
  const dense = { N: idx.map((i) => d.N[i]), loss: idx.map((i) => d.loss[i]) };
  const bs = bootstrap(denseLaw, dense, { resamples: RESAMPLES, seed: 0 });
  const { alpha_N, N_c } = denseAlphaNc(bs.fit.params);
  console.log(
    `n=${bs.fit.n} alpha_N=${f(alpha_N, 4)} [${f(-bs.intervals.a[1], 4)}, ${
      f(-bs.intervals.a[0], 4)
    }]` +
      ` N_c=${e(N_c, 3)} [${e(bs.intervals.N_c[0], 2)}, ${e(bs.intervals.N_c[1], 2)}] mse=${
        e(bs.fit.mse_log10, 3)
      }   (paper: alpha_N=${PAPER_DENSE.alpha_N}, N_c=${e(PAPER_DENSE.N_c, 3)})`,
  );
}

console.log(
  "\n== Goodness of fit per law (main sweep) and held-out (fit <= 370M, predict 1.3B) ==",
);
console.log(
  "technique  law          mse_log10(all)  held-out: n  mse_log10   rmse_loss  mean|rel err|  max|err|",
);
for (const t of TECHNIQUES) {
  const gd = await generalisedData(t);
  const rows: [string, Law<Record<string, number>>, FitData][] = [
    ["separable", separableLaw as unknown as Law<Record<string, number>>, data[t]],
    ["bilinear", bilinearLaw as unknown as Law<Record<string, number>>, data[t]],
    ["eq1", eq1Law as unknown as Law<Record<string, number>>, data[t]],
    ["generalised*", generalisedLaw as unknown as Law<Record<string, number>>, gd],
  ];
  for (const [name, law, d] of rows) {
    const all = fitLaw(law, d, { restarts: RESTARTS, seed: 0 });
    const h = heldOut(law, d, { restarts: RESTARTS, seed: 0 });
    console.log(
      `${t.padEnd(9)}  ${name.padEnd(12)} ${e(all.mse_log10, 3).padEnd(15)} ${
        String(h.nTest).padStart(2)
      }  ${e(h.mse_log10, 3)}  ${f(h.rmse_loss, 4)}     ${
        f(100 * h.mean_abs_rel_error, 2)
      }%         ${f(h.max_abs_error, 4)}`,
    );
  }
}
{
  const d = data["S-Base"];
  const idx = d.E.map((v, i) => (v === 1 ? i : -1)).filter((i) => i >= 0);
  const dense = { N: idx.map((i) => d.N[i]), loss: idx.map((i) => d.loss[i]) };
  const h = heldOut(denseLaw, dense);
  console.log(
    `Dense      dense        ${e(fitLaw(denseLaw, dense).mse_log10, 3).padEnd(15)} ${
      String(h.nTest).padStart(2)
    }  ${e(h.mse_log10, 3)}  ${f(h.rmse_loss, 4)}     ${
      f(100 * h.mean_abs_rel_error, 2)
    }%         ${f(h.max_abs_error, 4)}`,
  );
}
console.log(
  "* generalised: all seed-42 runs of the technique (all R, k) + dense incl. FLOP-matched.",
);

console.log("\n== Generalised law in (F, Bhat), all sweeps ==");
for (const t of TECHNIQUES) {
  const d = await generalisedData(t);
  const g = fitLaw(generalisedLaw, d, { restarts: RESTARTS, seed: 0 });
  const p = g.params;
  console.log(
    `${t.padEnd(6)} n=${g.n} a=${f(p.a, 5)} b=${f(p.b, 5)} c=${f(p.c, 5)} d=${f(p.d, 5)} ` +
      `B_start=${f(p.B_start, 3)} B_max=${f(p.B_max, 1)} mse=${e(g.mse_log10, 3)} ` +
      `rmse_loss=${f(g.rmse_loss, 4)} F_cutoff=${e(Math.pow(10, -p.b / p.c), 2)}`,
  );
}
