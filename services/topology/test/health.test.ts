import { describe, expect, it } from "vitest";
import { edgeHealth, errorRatio } from "@soundmesh/service-topology";

const counts = (requests: number, errors: number, extra: { forbidden?: number; timeouts?: number } = {}) => ({
  requests,
  errors,
  timeouts: extra.timeouts ?? 0,
  forbidden: extra.forbidden ?? 0,
  rateLimited: 0,
});

describe("edge health (Kiali's thresholds)", () => {
  it("is degraded from 0.1 % of failures and failing above 10 %", () => {
    expect(edgeHealth(counts(100_000, 99))).toBe("healthy");
    expect(edgeHealth(counts(100_000, 100))).toBe("degraded");
    expect(edgeHealth(counts(1_000, 100))).toBe("degraded");
    expect(edgeHealth(counts(10_000, 1_001))).toBe("failing");
    expect(edgeHealth(counts(10, 0, { timeouts: 2 }))).toBe("failing");
  });

  it("is idle without calls, and does not count calls the bus refused as the callee's failures", () => {
    expect(edgeHealth(counts(0, 0))).toBe("idle");
    expect(edgeHealth(counts(5, 0, { forbidden: 5 }))).toBe("idle");
    expect(errorRatio(counts(20, 1, { forbidden: 10 }))).toBeCloseTo(0.1);
  });
});
