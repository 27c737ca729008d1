// The collector fed by real buses and reporters: unexpected calls, error thresholds, silence, dead services,
// foreign manifests and bad reports.
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createInProcessBus, type Bus, type ServiceManifest } from "@soundmesh/bus";
import { AppError, defineService, type AlertEvent } from "@soundmesh/protocol";
import { waitUntil } from "@soundmesh/test-kit";
import {
  TopologyCollector,
  buildExpectedGraph,
  createTopologyReporter,
  type TopologyCollectorOptions,
  type TopologyReporter,
} from "@soundmesh/service-topology";

const echo = defineService("echo", {
  say: { params: z.object({ fail: z.boolean().default(false) }), result: z.object({ ok: z.boolean() }) },
});
const gateway: ServiceManifest = { service: "gateway", calls: ["echo"] };
const echoManifest: ServiceManifest = { service: "echo", calls: [] };
const rogue: ServiceManifest = { service: "rogue", calls: [] };
const expected = buildExpectedGraph([gateway, echoManifest, rogue]);

const stops: Array<() => unknown> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function echoBus(): Promise<Bus> {
  const bus = createInProcessBus();
  stops.push(() => bus.close());
  await bus.connect(echoManifest).serve(echo, {
    say: ({ fail }) => {
      if (fail) throw new AppError("INTERNAL", "asked to fail");
      return { ok: true };
    },
  });
  return bus;
}

function harness(overrides: Partial<TopologyCollectorOptions> = {}) {
  const events: AlertEvent[] = [];
  const collector = new TopologyCollector({
    expected,
    windowMs: 2_000,
    staleAfterMs: 1_000,
    latencyFloorMs: 0,
    onAlertEvent: (event) => events.push(event),
    ...overrides,
  });
  const reporterFor = (bus: Bus, manifests: ServiceManifest[], intervalMs = 100): TopologyReporter => {
    const reporter = createTopologyReporter({
      manifests,
      edges: () => bus.edges(),
      send: (report) => Promise.resolve(void collector.ingest(JSON.parse(JSON.stringify(report)))),
      intervalMs,
      sampleNetwork: false,
    });
    stops.push(() => reporter.stop());
    return reporter;
  };
  const alertKeys = () => collector.evaluate().alerts.map((alert) => alert.key);
  return { collector, events, reporterFor, alertKeys };
}

async function calls(bus: Bus, manifest: ServiceManifest, count: number, failing = 0) {
  const handle = bus.connect(manifest);
  for (let i = 0; i < count; i++) {
    await handle.request(echo, "say", { fail: i < failing }).catch(() => undefined);
  }
}

describe("the topology collector", () => {
  it("flags a call outside the manifests within 10 s, and counts the refusals", async () => {
    const bus = await echoBus();
    const { reporterFor, alertKeys, collector } = harness();
    reporterFor(bus, [gateway, echoManifest, rogue]).start();
    await calls(bus, gateway, 5);
    await expect(bus.connect(rogue).request(echo, "say", {})).rejects.toMatchObject({
      code: "FORBIDDEN_EDGE",
    });
    await waitUntil(alertKeys, (keys) => keys.includes("unexpected-edge:rogue->echo"), 10_000);
    const edge = collector.snapshot().edges.find((e) => e.id === "rogue->echo")!;
    expect(edge).toMatchObject({ status: "unexpected", expected: false, forbidden: 1, labels: ["say"] });
    const declared = collector.snapshot().edges.find((e) => e.id === "gateway->echo")!;
    expect(declared).toMatchObject({ status: "ok", health: "healthy", requests: 5 });
    expect(alertKeys()).not.toContain("unexpected-edge:gateway->echo");
  });

  it("crosses each error threshold at the right ratio", async () => {
    const bus = await echoBus();
    const { reporterFor, collector, events } = harness({ windowMs: 60_000 });
    const reporter = reporterFor(bus, [gateway, echoManifest, rogue]);
    const healthAfter = async (count: number, failing: number) => {
      await calls(bus, gateway, count, failing);
      await reporter.reportNow();
      return collector.evaluate().edges.find((e) => e.id === "gateway->echo")!;
    };
    // Counts accumulate over the window: 999 good calls, then 1 failure = 0.1 %: degraded.
    expect((await healthAfter(999, 0)).health).toBe("healthy");
    expect(await healthAfter(1, 1)).toMatchObject({ health: "degraded", errors: 1, requests: 1_000 });
    // 111 failures of 1 110 = 10 % exactly: still degraded; one more failure: failing.
    expect(await healthAfter(110, 110)).toMatchObject({ health: "degraded", errors: 111, requests: 1_110 });
    expect((await healthAfter(1, 1)).health).toBe("failing");
    expect(events.map((e) => `${e.event} ${e.alert.key}`)).toEqual([
      "raised error-ratio:gateway->echo:degraded",
      "resolved error-ratio:gateway->echo:degraded",
      "raised error-ratio:gateway->echo:failing",
    ]);
    expect(collector.snapshot().alerts.find((a) => a.kind === "error-ratio")?.severity).toBe("critical");
  });

  it("turns a stopped process's edges silent and raises service-down for it, once", async () => {
    const bus = await echoBus();
    const { reporterFor, collector, alertKeys, events } = harness({ windowMs: 600, staleAfterMs: 500 });
    const reporter = reporterFor(bus, [gateway, echoManifest, rogue]);
    reporter.start();
    await calls(bus, gateway, 10);
    await waitUntil(
      () => collector.evaluate().edges.find((e) => e.id === "gateway->echo")?.status,
      (status) => status === "ok",
    );
    reporter.stop();
    await waitUntil(
      alertKeys,
      (keys) => keys.includes("service-down:gateway") && keys.includes("service-down:echo"),
      60_000,
    );
    await waitUntil(
      () => collector.evaluate().edges.find((e) => e.id === "gateway->echo")?.status,
      (status) => status === "silent",
      60_000,
    );
    const node = collector.snapshot().nodes.find((n) => n.id === "echo")!;
    expect(node.instances).toEqual([
      expect.objectContaining({ instanceId: reporter.instanceId, live: false }),
    ]);
    collector.evaluate();
    expect(events.filter((e) => e.alert.key === "service-down:echo").map((e) => e.event)).toEqual(["raised"]);
  });

  it("raises an expected edge gone silent while its caller is busy elsewhere", async () => {
    const other = defineService("other", { ping: { params: z.object({}), result: z.object({}) } });
    const caller: ServiceManifest = { service: "gateway", calls: ["echo", "other"] };
    const graph = buildExpectedGraph([caller, echoManifest, { service: "other", calls: [] }]);
    const bus = await echoBus();
    await bus.connect({ service: "other", calls: [] }).serve(other, { ping: () => ({}) });
    const { reporterFor, alertKeys } = harness({ expected: graph, windowMs: 500 });
    const reporter = reporterFor(bus, [caller]);
    await calls(bus, caller, 3);
    await reporter.reportNow();
    expect(alertKeys()).not.toContain("silent-edge:gateway->echo");
    // From now on the gateway only pings "other".
    const handle = bus.connect(caller);
    await waitUntil(
      async () => {
        await handle.request(other, "ping", {});
        await reporter.reportNow();
        return alertKeys();
      },
      (keys) => keys.includes("silent-edge:gateway->echo"),
      10_000,
    );
  });

  it("alerts on p99 above the edge's own baseline", async () => {
    const slow = defineService("slow", {
      wait: { params: z.object({ ms: z.number() }), result: z.object({}) },
    });
    const caller: ServiceManifest = { service: "gateway", calls: ["slow"] };
    const graph = buildExpectedGraph([caller, { service: "slow", calls: [] }]);
    const bus = createInProcessBus();
    stops.push(() => bus.close());
    await bus.connect({ service: "slow", calls: [] }).serve(slow, {
      wait: ({ ms }) => new Promise((resolve) => setTimeout(() => resolve({}), ms)),
    });
    let nowMs = 1_000_000;
    const { reporterFor, alertKeys, collector } = harness({
      expected: graph,
      windowMs: 10_000,
      staleAfterMs: 60_000,
      latencyFactor: 3,
      latencyMinSamples: 20,
      nowMs: () => nowMs,
    });
    const reporter = reporterFor(bus, [caller, { service: "slow", calls: [] }]);
    const handle = bus.connect(caller);
    const burst = async (ms: number) => {
      await Promise.all(Array.from({ length: 25 }, () => handle.request(slow, "wait", { ms })));
      await reporter.reportNow();
    };
    // The baseline calls take a real 20 ms, so a busy machine's pause of a few ms does not triple their p99 (with
    // 0 ms calls, a p99 of a fraction of a millisecond, it did once in the full suite); the slow ones take 150 ms.
    await burst(20);
    nowMs += 20_000;
    await burst(20);
    expect(alertKeys()).not.toContain("latency:gateway->slow");
    nowMs += 20_000;
    await burst(150);
    expect(alertKeys()).toContain("latency:gateway->slow");
    const edge = collector.snapshot().edges.find((e) => e.id === "gateway->slow")!;
    expect(edge.p99Ms).toBeGreaterThan(3 * edge.baselineP99Ms);
  });

  it("flags a process whose manifest differs from the code's, and refuses a bad report with a typed error", async () => {
    const bus = await echoBus();
    const { reporterFor, alertKeys, collector } = harness();
    const changed = reporterFor(bus, [{ service: "echo", calls: ["gateway"] }]);
    await changed.reportNow();
    expect(alertKeys()).toContain(`manifest-mismatch:echo:${changed.instanceId}`);
    for (const bad of [null, { v: 2 }, { v: 1, instanceId: "x", services: [], edges: "many" }]) {
      expect(() => collector.ingest(bad)).toThrowError(
        expect.objectContaining({ code: "VALIDATION_FAILED" }),
      );
    }
    expect(collector.counts).toEqual({ accepted: 1, rejected: 3 });
    expect(collector.evaluate().reports).toEqual({ accepted: 1, rejected: 3 });
  });
});
