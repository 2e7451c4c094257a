/**
 * Runs trained in a notebook or from the shell (lib/train's results): loss against step, and how
 * the routed block spread its tokens over the experts.
 */
import type { PlotlyFigure } from "../export/mod.ts";
import type { Trace } from "./grid.ts";
import { axis, baseLayout, displayName, techniqueColor } from "./style.ts";

/** What these figures read of a trained run (lib/train's TrainResult has it all). */
export interface TrainedRun {
  /** lib/train's router id ("dense", "sbase", "hash", "rlr") or a router of your own. */
  router: string;
  curve: { step: number; train_loss: number; val_loss?: number }[];
  /** Per routed layer: the mean share of choices each expert received (before capacity). */
  router_metrics?: { load: number[] }[];
}

/** lib/train's router ids under the paper's technique names (colours, legends). */
const TECHNIQUE_OF: Record<string, string> = {
  dense: "Dense",
  sbase: "S-Base",
  rlr: "RL-R",
  hash: "Hash",
};

/** The technique a router id stands for ("sbase" is S-Base); other names as they are. */
function techniqueOf(router: string): string {
  return TECHNIQUE_OF[router] ?? router;
}

/**
 * Loss against step, one colour per run: the training loss (thin, faded) and the validation loss
 * at each evaluation (thick, dots). Traces per run: [train, validation].
 */
export function runCurvesFigure(runs: TrainedRun[]): PlotlyFigure {
  const data: Trace[] = runs.flatMap((r) => {
    const t = techniqueOf(r.router), color = techniqueColor(t), name = displayName(t);
    const evals = r.curve.filter((c) => c.val_loss !== undefined);
    return [
      {
        type: "scatter",
        mode: "lines",
        name: `${name} train`,
        legendgroup: r.router,
        x: r.curve.map((c) => c.step),
        y: r.curve.map((c) => c.train_loss),
        line: { color, width: 1 },
        opacity: 0.5,
        hovertemplate: `${name} step %{x}: train %{y:.4f}<extra></extra>`,
      },
      {
        type: "scatter",
        mode: "lines+markers",
        name: `${name} validation`,
        legendgroup: r.router,
        x: evals.map((c) => c.step),
        y: evals.map((c) => c.val_loss),
        line: { color, width: 2 },
        marker: { color, size: 6 },
        hovertemplate: `${name} step %{x}: validation %{y:.4f}<extra></extra>`,
      },
    ];
  });
  return {
    data,
    layout: baseLayout({
      title: { text: "Loss against step", x: 0.5 },
      xaxis: axis({ title: { text: "step" } }),
      yaxis: axis({ title: { text: "cross-entropy (nats/token)" } }),
      width: 760,
      height: 420,
    }),
  };
}

/**
 * Share of the routed tokens each expert was asked for in one routed layer (default the first),
 * one bar group per routed run, with perfect balance 1/E dashed. Runs without router metrics
 * (dense) are left out.
 */
export function expertLoadFigure(runs: TrainedRun[], layer = 0): PlotlyFigure {
  const routed = runs.filter((r) => r.router_metrics?.[layer]);
  if (!routed.length) {
    throw new Error(
      `expertLoadFigure: no run has router metrics for routed layer ${layer}; pass routed runs ` +
        `(lib/train results of a router with E > 1)`,
    );
  }
  const data: Trace[] = routed.map((r) => {
    const load = r.router_metrics![layer].load, t = techniqueOf(r.router);
    return {
      type: "bar",
      name: displayName(t),
      x: load.map((_, e) => `e${e}`),
      y: load,
      marker: { color: techniqueColor(t) },
      hovertemplate: `${displayName(t)} %{x}: %{y:.3f}<extra></extra>`,
    };
  });
  const experts = [...new Set(routed.map((r) => r.router_metrics![layer].load.length))];
  return {
    data,
    layout: baseLayout({
      barmode: "group",
      title: { text: "Expert load in the routed block", x: 0.5 },
      xaxis: axis({ type: "category" }),
      yaxis: axis({ title: { text: "share of tokens" } }),
      shapes: experts.map((E) => ({
        type: "line",
        xref: "paper",
        x0: 0,
        x1: 1,
        y0: 1 / E,
        y1: 1 / E,
        line: { dash: "dash", color: "#555" },
      })),
      width: 760,
      height: 380,
    }),
  };
}
