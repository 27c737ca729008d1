// One edge's traffic over the last hour in fixed slots: counts, a latency histogram and per-instance counts, so
// rates, error ratios and p99 can be read over any recent window, and history drawn.
import { latencyBucketUpperMs } from "@soundmesh/bus";
import type { HistoryPoint } from "@soundmesh/protocol";
import type { EdgeCounts } from "./health";

export interface EdgeDelta extends EdgeCounts {
  method: string;
  instanceId: string;
  /** [bucket index, count] added since the last report. */
  latency: Array<[number, number]>;
}

interface Slot extends EdgeCounts {
  startMs: number;
  latency: Map<number, number>;
  methods: Set<string>;
  perInstance: Map<string, { requests: number; errors: number }>;
}

export interface WindowStats extends EdgeCounts {
  latency: Map<number, number>;
  methods: Set<string>;
  perInstance: Map<string, { requests: number; errors: number }>;
}

const emptyCounts = (): EdgeCounts => ({ requests: 0, errors: 0, timeouts: 0, forbidden: 0, rateLimited: 0 });
const COUNT_KEYS = ["requests", "errors", "timeouts", "forbidden", "rateLimited"] as const;

export function percentileMs(latency: Map<number, number>, p: number): { ms: number; count: number } {
  let count = 0;
  for (const n of latency.values()) count += n;
  if (count === 0) return { ms: 0, count };
  const wanted = Math.ceil(count * p);
  let seen = 0;
  for (const index of [...latency.keys()].sort((a, b) => a - b)) {
    seen += latency.get(index)!;
    if (seen >= wanted) return { ms: latencyBucketUpperMs(index), count };
  }
  return { ms: 0, count };
}

export class EdgeSeries {
  private readonly slots: Slot[] = [];

  constructor(
    private readonly slotMs: number,
    private readonly keepMs: number,
  ) {}

  add(atMs: number, delta: EdgeDelta): void {
    const startMs = Math.floor(atMs / this.slotMs) * this.slotMs;
    let slot = this.slots.at(-1);
    if (!slot || slot.startMs !== startMs) {
      slot = {
        startMs,
        ...emptyCounts(),
        latency: new Map(),
        methods: new Set(),
        perInstance: new Map(),
      };
      this.slots.push(slot);
      while (this.slots.length > 0 && this.slots[0]!.startMs < atMs - this.keepMs) this.slots.shift();
    }
    for (const key of COUNT_KEYS) slot[key] += delta[key];
    for (const [index, n] of delta.latency) slot.latency.set(index, (slot.latency.get(index) ?? 0) + n);
    slot.methods.add(delta.method);
    const instance = slot.perInstance.get(delta.instanceId) ?? { requests: 0, errors: 0 };
    instance.requests += delta.requests;
    instance.errors += delta.errors + delta.timeouts;
    slot.perInstance.set(delta.instanceId, instance);
  }

  /** Sums the slots that start in [fromMs, toMs). */
  sum(fromMs: number, toMs = Number.POSITIVE_INFINITY): WindowStats {
    const stats: WindowStats = {
      ...emptyCounts(),
      latency: new Map(),
      methods: new Set(),
      perInstance: new Map(),
    };
    for (const slot of this.slots) {
      if (slot.startMs + this.slotMs <= fromMs || slot.startMs >= toMs) continue;
      for (const key of COUNT_KEYS) stats[key] += slot[key];
      for (const [index, n] of slot.latency) stats.latency.set(index, (stats.latency.get(index) ?? 0) + n);
      for (const method of slot.methods) stats.methods.add(method);
      for (const [id, counts] of slot.perInstance) {
        const total = stats.perInstance.get(id) ?? { requests: 0, errors: 0 };
        total.requests += counts.requests;
        total.errors += counts.errors;
        stats.perInstance.set(id, total);
      }
    }
    return stats;
  }

  hasTrafficBefore(toMs: number): boolean {
    return this.slots.some((slot) => slot.startMs < toMs && slot.requests > 0);
  }

  slotsView(): readonly Slot[] {
    return this.slots;
  }
}

/** Slot by slot over several edges (one edge's history, or all of a service's): requests, failures and p99. */
export function mergedHistory(series: readonly EdgeSeries[]): HistoryPoint[] {
  const byStart = new Map<number, { requests: number; errors: number; latency: Map<number, number> }>();
  for (const one of series) {
    for (const slot of one.slotsView()) {
      const point = byStart.get(slot.startMs) ?? {
        requests: 0,
        errors: 0,
        latency: new Map<number, number>(),
      };
      point.requests += slot.requests;
      point.errors += slot.errors + slot.timeouts;
      for (const [index, n] of slot.latency) point.latency.set(index, (point.latency.get(index) ?? 0) + n);
      byStart.set(slot.startMs, point);
    }
  }
  return [...byStart.entries()]
    .sort(([a], [b]) => a - b)
    .map(([atMs, point]) => ({
      atMs,
      requests: point.requests,
      errors: point.errors,
      p99Ms: percentileMs(point.latency, 0.99).ms,
    }));
}
