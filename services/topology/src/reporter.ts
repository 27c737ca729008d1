// A process's topology reporter: every interval, its bus's edge counters and its TCP sockets, sent to the collector
// (published on topology.report: in process or over NATS alike).
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { EdgeStats, ServiceManifest } from "@soundmesh/bus";
import type { ReportedSocket, TopologyReport } from "@soundmesh/protocol";
import { manifestHash } from "./expected-graph";
import { sampleSockets } from "./net-sample";

export interface TopologyReporterOptions {
  /** The services this process runs, as built. */
  manifests: readonly ServiceManifest[];
  /** Where the edge counters come from: the process's bus. */
  edges: () => EdgeStats[];
  send: (report: TopologyReport) => Promise<void>;
  intervalMs: number;
  instanceId?: string;
  /** The process whose sockets are sampled: this one, or another on this host (an agent for it). */
  pid?: number;
  /** Off where /proc is not there or not wanted. */
  sampleNetwork?: boolean;
  logger?: Logger;
  nowMs?: () => number;
}

export interface TopologyReporter {
  readonly instanceId: string;
  /** Builds and sends one report now. */
  reportNow(): Promise<TopologyReport>;
  start(): void;
  stop(): void;
}

export function createTopologyReporter(options: TopologyReporterOptions): TopologyReporter {
  const instanceId =
    options.instanceId ?? `${hostname()}-${options.pid ?? process.pid}-${randomUUID().slice(0, 8)}`;
  const nowMs = options.nowMs ?? Date.now;
  const services = options.manifests.map((manifest) => ({
    service: manifest.service,
    manifestHash: manifestHash(manifest),
  }));
  let timer: NodeJS.Timeout | undefined;
  let sending = false;

  async function build(): Promise<TopologyReport> {
    const sockets: ReportedSocket[] =
      options.sampleNetwork === false ? [] : await sampleSockets(options.pid ?? "self");
    return {
      v: 1,
      instanceId,
      host: hostname(),
      pid: options.pid ?? process.pid,
      services,
      sentAtMs: Math.round(nowMs()),
      intervalMs: options.intervalMs,
      edges: options.edges().map((edge) => ({
        caller: edge.caller,
        callee: edge.callee,
        method: edge.method,
        requests: edge.requests,
        errors: edge.errors,
        forbidden: edge.forbidden,
        rateLimited: edge.rateLimited,
        timeouts: edge.timeouts,
        latencyBuckets: edge.latencyBuckets,
      })),
      sockets: sockets.slice(0, 5_000),
    };
  }

  async function reportNow(): Promise<TopologyReport> {
    const report = await build();
    await options.send(report);
    return report;
  }

  const tick = () => {
    // A slow collector must not pile reports up: one in flight at a time.
    if (sending) return;
    sending = true;
    reportNow()
      .catch((error: unknown) => options.logger?.warn({ err: error }, "topology report not sent"))
      .finally(() => (sending = false));
  };

  return {
    instanceId,
    reportNow,
    start() {
      if (timer) return;
      tick();
      timer = setInterval(tick, options.intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
