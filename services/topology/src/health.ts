// Edge health from its error ratio, with Kiali's default thresholds: degraded from 0.1 %, failing above 10 %.
import type { EdgeHealth } from "@soundmesh/protocol";

export const DEGRADED_RATIO = 0.001;
export const FAILING_RATIO = 0.1;

export interface EdgeCounts {
  requests: number;
  errors: number;
  timeouts: number;
  /** Refused by policy before reaching the callee: neither a success nor the callee's failure. */
  forbidden: number;
  rateLimited: number;
}

/** Failures over the requests that reached the transport: errors and timeouts over all but refused ones. */
export function errorRatio(counts: EdgeCounts): number {
  const attempted = counts.requests - counts.forbidden - counts.rateLimited;
  return attempted <= 0 ? 0 : (counts.errors + counts.timeouts) / attempted;
}

export function edgeHealth(counts: EdgeCounts): EdgeHealth {
  if (counts.requests - counts.forbidden - counts.rateLimited <= 0) return "idle";
  const ratio = errorRatio(counts);
  if (ratio > FAILING_RATIO) return "failing";
  if (ratio >= DEGRADED_RATIO) return "degraded";
  return "healthy";
}
