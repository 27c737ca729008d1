// Per-edge counters and latency histograms: read through Bus#edges() and exported to Prometheus.
import { Counter, Histogram, type Registry } from "prom-client";
import type { EdgeStats } from "./types";

export type CallOutcome = "ok" | "error" | "forbidden" | "rate_limited" | "timeout";

// Log-spaced latency buckets from 10 µs to ~100 s; percentiles are read off the bucket upper bounds.
const BUCKET_GROWTH = 1.15;
const SMALLEST_MS = 0.01;
const BUCKET_COUNT = Math.ceil(Math.log(10_000_000) / Math.log(BUCKET_GROWTH));

class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKET_COUNT + 1);
  count = 0;

  record(ms: number): void {
    const index = ms <= SMALLEST_MS ? 0 : Math.ceil(Math.log(ms / SMALLEST_MS) / Math.log(BUCKET_GROWTH));
    this.counts[Math.min(index, BUCKET_COUNT)]! += 1;
    this.count += 1;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    const wanted = Math.ceil(this.count * p);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= wanted) return SMALLEST_MS * BUCKET_GROWTH ** i;
    }
    return SMALLEST_MS * BUCKET_GROWTH ** BUCKET_COUNT;
  }

  /** The non-empty buckets as [index, count], for reporters that ship histograms to a collector. */
  sparse(): Array<[number, number]> {
    const result: Array<[number, number]> = [];
    this.counts.forEach((n, i) => {
      if (n > 0) result.push([i, n]);
    });
    return result;
  }
}

/** The upper bound in ms of latency bucket `index` (the scale `latencyBuckets` in EdgeStats use). */
export function latencyBucketUpperMs(index: number): number {
  return SMALLEST_MS * BUCKET_GROWTH ** index;
}

interface EdgeRecord {
  caller: string;
  callee: string;
  method: string;
  outcomes: Record<CallOutcome, number>;
  latency: LatencyHistogram;
}

export class EdgeMetrics {
  private readonly edgesByKey = new Map<string, EdgeRecord>();
  private readonly requestCounter: Counter | undefined;
  private readonly durationHistogram: Histogram | undefined;

  constructor(registry?: Registry) {
    if (!registry) return;
    this.requestCounter = new Counter({
      name: "soundmesh_bus_requests_total",
      help: "Bus requests per caller→callee edge, method and outcome",
      labelNames: ["caller", "callee", "method", "outcome"],
      registers: [registry],
    });
    this.durationHistogram = new Histogram({
      name: "soundmesh_bus_request_duration_seconds",
      help: "Bus request round-trip time per caller→callee edge",
      labelNames: ["caller", "callee", "method"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    });
  }

  record(caller: string, callee: string, method: string, outcome: CallOutcome, durationMs?: number): void {
    const key = `${caller}\u0000${callee}\u0000${method}`;
    let edge = this.edgesByKey.get(key);
    if (!edge) {
      edge = {
        caller,
        callee,
        method,
        outcomes: { ok: 0, error: 0, forbidden: 0, rate_limited: 0, timeout: 0 },
        latency: new LatencyHistogram(),
      };
      this.edgesByKey.set(key, edge);
    }
    edge.outcomes[outcome] += 1;
    this.requestCounter?.inc({ caller, callee, method, outcome });
    if (durationMs !== undefined) {
      edge.latency.record(durationMs);
      this.durationHistogram?.observe({ caller, callee, method }, durationMs / 1000);
    }
  }

  snapshot(): EdgeStats[] {
    return [...this.edgesByKey.values()].map((edge) => ({
      caller: edge.caller,
      callee: edge.callee,
      method: edge.method,
      requests: Object.values(edge.outcomes).reduce((sum, n) => sum + n, 0),
      errors: edge.outcomes.error,
      forbidden: edge.outcomes.forbidden,
      rateLimited: edge.outcomes.rate_limited,
      timeouts: edge.outcomes.timeout,
      latencyMs: {
        p50: edge.latency.percentile(0.5),
        p99: edge.latency.percentile(0.99),
        count: edge.latency.count,
      },
      latencyBuckets: edge.latency.sparse(),
    }));
  }
}
