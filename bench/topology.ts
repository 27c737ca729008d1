// Topology benchmark: what collection costs each process (CPU and bytes per second of reports, network sample
// included), what the collector spends at 10 and 100 reporting processes, and the time from an event to its alert.
import { z } from "zod";
import { createInProcessBus, type ServiceManifest } from "@soundmesh/bus";
import { defineService, type AlertEvent, type TopologyReport } from "@soundmesh/protocol";
import { TopologyCollector, buildExpectedGraph, createTopologyReporter } from "@soundmesh/service-topology";
import { printTable, round, summarize, writeResults, type Row } from "./report";

const echo = defineService("echo", {
  say: { params: z.object({}), result: z.object({}) },
  list: { params: z.object({}), result: z.object({}) },
});
const services = ["a", "b", "c", "d", "e", "f"];
const manifests: ServiceManifest[] = [
  ...services.map((service) => ({ service, calls: ["echo"] })),
  { service: "echo", calls: [] },
  { service: "rogue", calls: [] },
];
const expected = buildExpectedGraph(manifests);
const reportIntervalMs = 5_000;

/** A bus with a dozen busy edges, like a process of the server. */
async function busyBus() {
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e9, burst: 1e9 } } });
  await bus.connect({ service: "echo", calls: [] }).serve(echo, { say: () => ({}), list: () => ({}) });
  const call = async (rounds: number) => {
    for (const service of services) {
      const handle = bus.connect({ service, calls: ["echo"] });
      for (let i = 0; i < rounds; i++) {
        await handle.request(echo, "say", {});
        await handle.request(echo, "list", {});
      }
    }
  };
  await call(50);
  return { bus, call };
}

async function reporterCost(): Promise<Row> {
  const { bus } = await busyBus();
  let bytes = 0;
  const reporter = createTopologyReporter({
    manifests,
    edges: () => bus.edges(),
    intervalMs: reportIntervalMs,
    send: (report) => Promise.resolve(void (bytes = JSON.stringify(report).length)),
  });
  const cpuMs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const before = process.cpuUsage();
    await reporter.reportNow();
    const used = process.cpuUsage(before);
    cpuMs.push((used.user + used.system) / 1000);
  }
  await bus.close();
  const median = summarize(cpuMs).p50;
  return {
    side: "each process (reporter)",
    processes: 1,
    "CPU ms/report": round(median),
    "CPU % at 5 s": round((median / reportIntervalMs) * 100, 4),
    "bytes/report": bytes,
    "bytes/s": round(bytes / (reportIntervalMs / 1000), 1),
  };
}

async function collectorCost(processes: number): Promise<Row> {
  const { bus, call } = await busyBus();
  const reporter = createTopologyReporter({
    manifests,
    edges: () => bus.edges(),
    intervalMs: reportIntervalMs,
    send: () => Promise.resolve(),
  });
  const collector = new TopologyCollector({ expected, windowMs: 60_000, staleAfterMs: 20_000 });
  const cpuMs: number[] = [];
  let bytes = 0;
  for (let round = 0; round < 20; round++) {
    await call(5);
    const base = await reporter.reportNow();
    // Simulated processes: the same shape as a real report, each under its own instance id.
    const reports: TopologyReport[] = Array.from({ length: processes }, (_, i) => ({
      ...base,
      instanceId: `sim-${i}`,
    }));
    const wire = reports.map((report) => JSON.stringify(report));
    bytes = wire.reduce((sum, text) => sum + text.length, 0);
    const before = process.cpuUsage();
    for (const text of wire) collector.ingest(JSON.parse(text));
    collector.evaluate();
    const used = process.cpuUsage(before);
    cpuMs.push((used.user + used.system) / 1000);
  }
  await bus.close();
  const median = summarize(cpuMs).p50;
  return {
    side: "collector (ingest + evaluate)",
    processes,
    "CPU ms/report": round(median / processes),
    "CPU % at 5 s": round((median / reportIntervalMs) * 100, 4),
    "bytes/report": Math.round(bytes / processes),
    "bytes/s": round(bytes / (reportIntervalMs / 1000), 1),
  };
}

/** From a call outside the manifests to its alert, with reports every second and evaluations every 250 ms. */
async function eventToAlert(): Promise<Row> {
  const { bus } = await busyBus();
  const raised = new Map<string, number>();
  const collector = new TopologyCollector({
    expected,
    windowMs: 10_000,
    staleAfterMs: 5_000,
    onAlertEvent: (event: AlertEvent) => {
      if (event.event === "raised") raised.set(event.alert.key, performance.now());
    },
  });
  const reporter = createTopologyReporter({
    manifests,
    edges: () => bus.edges(),
    intervalMs: 1_000,
    send: (report) => Promise.resolve(void collector.ingest(report)),
  });
  reporter.start();
  const evaluator = setInterval(() => collector.evaluate(), 250);
  const samples: number[] = [];
  const other = defineService("other", { ping: { params: z.object({}), result: z.object({}) } });
  for (let i = 0; i < 8; i++) {
    const caller = `intruder${i}`;
    const started = performance.now();
    await bus
      .connect({ service: caller, calls: [] })
      .request(other, "ping", {})
      .catch(() => undefined);
    const key = `unexpected-edge:${caller}->other`;
    while (!raised.has(key)) await new Promise((resolve) => setTimeout(resolve, 10));
    samples.push(raised.get(key)! - started);
  }
  clearInterval(evaluator);
  reporter.stop();
  await bus.close();
  const stats = summarize(samples);
  return {
    event: "call outside the manifests → alert",
    "report every ms": 1_000,
    "evaluate every ms": 250,
    samples: samples.length,
    "p50 ms": round(stats.p50, 0),
    "max ms": round(Math.max(...samples), 0),
  };
}

const costs = [await reporterCost(), await collectorCost(10), await collectorCost(100)];
printTable("Topology collection overhead (reports every 5 s; network sample from /proc included)", costs);
const latency = [await eventToAlert()];
printTable("Time from an event to its alert", latency);
writeResults("topology", [...costs, ...latency], { reportIntervalMs });
