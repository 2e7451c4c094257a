/**
 * Router metrics of a run: each routed layer's loads, drops and the router's own metrics
 * (entropy, agreement, Sinkhorn iterations, ...), averaged over the training steps since the last
 * evaluation.
 */
import type { LayerRouting } from "../model/mod.ts";

export interface RouterLayerMetrics {
  /** Routed layer index and block index. */
  layer: number;
  block: number;
  /** Mean fraction of choices each expert received (before capacity) over the window. */
  load: number[];
  /** Mean fraction of choices dropped for capacity. */
  dropped: number;
  /** Mean router entropy (nats), if the router reports it. */
  entropy?: number;
  /** Mean Sinkhorn iterations (S-BASE). */
  sinkhornIterations?: number;
  /**
   * Mean fraction of tokens whose training choice equals the evaluation choice (S-BASE: balanced
   * vs top-1 of the logits, plus its balancing bias when it has one; RL-R: sampled vs most likely).
   */
  agreement?: number;
  /** Mean over steps of the busiest expert's share times E (1 = perfectly balanced). */
  maxLoad: number;
  capacity: number;
  /** Training steps averaged. */
  steps: number;
}

/** Sums of each routed layer's routing over a window of training steps. */
export class MetricWindow {
  private sums: {
    load: number[];
    maxLoad: number;
    dropped: number;
    /** Sum and count of each numeric router metric (entropy, agreement, ...). */
    metrics: Map<string, { sum: number; n: number }>;
    n: number;
    block: number;
    capacity: number;
  }[] = [];
  add(r: LayerRouting[]): void {
    r.forEach((l, i) => {
      const s = this.sums[i] ??= {
        load: l.load.map(() => 0),
        maxLoad: 0,
        dropped: 0,
        metrics: new Map(),
        n: 0,
        block: l.block,
        capacity: l.capacity,
      };
      l.load.forEach((x, e) => s.load[e] += x);
      s.maxLoad += Math.max(...l.load) * l.load.length;
      s.dropped += l.dropped;
      s.n++;
      s.capacity = l.capacity;
      for (const [key, v] of Object.entries(l.metrics)) {
        // Sinkhorn iterations are 0 at evaluation: average the training passes only.
        if (v === undefined || !Number.isFinite(v) || (key === "sinkhornIterations" && v <= 0)) {
          continue;
        }
        const m = s.metrics.get(key) ?? { sum: 0, n: 0 };
        m.sum += v, m.n++;
        s.metrics.set(key, m);
      }
    });
  }
  summary(): RouterLayerMetrics[] {
    return this.sums.map((s, i) => ({
      layer: i,
      block: s.block,
      load: s.load.map((x) => x / s.n),
      maxLoad: s.maxLoad / s.n,
      dropped: s.dropped / s.n,
      ...Object.fromEntries([...s.metrics].map(([k, m]) => [k, m.sum / m.n])),
      capacity: s.capacity,
      steps: s.n,
    }));
  }
  get size(): number {
    return this.sums.length ? this.sums[0].n : 0;
  }
  reset(): void {
    this.sums = [];
  }
}
