// A fresh all-in-one start calls no service before it is up: no failed call, so no topology alert at start.
import { afterEach, describe, expect, it, vi } from "vitest";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("a fresh all-in-one start", () => {
  it("has search read the playlists once the playlist service is up, and no call fail", async () => {
    server = await startServer();
    const running = server;
    // Search builds its playlist index as it starts: wait for that call, then look at every edge.
    await vi.waitFor(
      () => {
        const edge = running.bus.edges().find((e) => e.caller === "search" && e.callee === "playlist");
        expect(edge?.requests).toBeGreaterThan(0);
      },
      { timeout: 20_000, interval: 50 },
    );
    const failed = running.bus
      .edges()
      .filter((e) => e.errors + e.timeouts + e.forbidden > 0)
      .map((e) => `${e.caller} → ${e.callee}.${e.method}: ${e.errors} errors, ${e.timeouts} timeouts`);
    expect(failed).toEqual([]);
  });
});
