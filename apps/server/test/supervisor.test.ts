// The cluster supervisor's back-off: doubling from the first delay to the cap on fast failures in a row, back to the
// first delay after a run that lasted, giving up after the limit; cluster.json's `restart` key is checked.
import { describe, expect, it } from "vitest";
import { parseClusterFile } from "../src/cluster/cluster-file";
import { RestartBackoff, defaultRestartPolicy, describeExit } from "../src/cluster/supervisor";

const fast = { ranMs: 1_000, beforeReady: false };

describe("RestartBackoff", () => {
  it("doubles the delay from 0.5 s to the 30 s cap and gives up after the limit in a row", () => {
    const backoff = new RestartBackoff({ ...defaultRestartPolicy, maxFastFailures: 10 });
    const delays: number[] = [];
    for (let i = 0; i < 9; i += 1) {
      const decision = backoff.afterExit(fast);
      if (decision.action !== "restart") throw new Error(`gave up at ${i}`);
      delays.push(decision.delayMs);
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoff.afterExit(fast)).toEqual({ action: "give-up", fastFailures: 10 });
  });

  it("starts again from the first delay after a run longer than stableAfterMs", () => {
    const backoff = new RestartBackoff(defaultRestartPolicy);
    backoff.afterExit(fast);
    backoff.afterExit(fast);
    expect(backoff.afterExit(fast)).toMatchObject({ delayMs: 2_000, fastFailures: 3 });
    expect(backoff.afterExit({ ranMs: defaultRestartPolicy.stableAfterMs, beforeReady: false })).toEqual({
      action: "restart",
      delayMs: 500,
      fastFailures: 1,
    });
  });

  it("counts a start that never got ready as a fast failure however long it took", () => {
    const backoff = new RestartBackoff({ ...defaultRestartPolicy, maxFastFailures: 2 });
    backoff.afterExit(fast);
    expect(backoff.afterExit({ ranMs: 10 * 60_000, beforeReady: true })).toEqual({
      action: "give-up",
      fastFailures: 2,
    });
    expect(describeExit({ code: 1, signal: null, beforeReady: true })).toBe("failed to start: exited (1)");
    expect(describeExit({ code: null, signal: "SIGKILL", beforeReady: false })).toBe("exited (SIGKILL)");
  });
});

describe("cluster.json restart", () => {
  it("defaults to the policy above and refuses bad values", () => {
    expect(parseClusterFile(JSON.stringify({ database: "postgres://h/db" })).restart).toEqual(
      defaultRestartPolicy,
    );
    expect(
      parseClusterFile(JSON.stringify({ database: "postgres://h/db", restart: { maxFastFailures: 3 } }))
        .restart,
    ).toEqual({ ...defaultRestartPolicy, maxFastFailures: 3 });
    let caught: unknown;
    try {
      parseClusterFile(
        JSON.stringify({ database: "postgres://h/db", restart: { maxFastFailures: 0, forever: true } }),
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: "VALIDATION_FAILED" });
    const paths = (caught as { details: Array<{ path: string }> }).details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["restart.maxFastFailures", "restart"]));
  });
});
