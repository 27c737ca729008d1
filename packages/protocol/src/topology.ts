// Contract of the topology service: the reports every process sends (bus edges and TCP sockets), and the graph,
// alerts and history it answers with.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";

const name = z.string().min(1).max(128);
const count = z.number().int().nonnegative();
/** "host:port" as the kernel shows it (IPv6 in brackets). */
const address = z.string().min(3).max(80);

/** One caller→callee→method edge as the bus counts it, cumulative since the process started. */
export const reportedEdge = z.object({
  caller: name,
  callee: name,
  method: name,
  requests: count,
  errors: count,
  forbidden: count,
  rateLimited: count,
  timeouts: count,
  /** Sparse cumulative latency histogram: [bucket index, count]; bucket i's upper bound is 0.01 ms × 1.15^i. */
  latencyBuckets: z.array(z.tuple([z.number().int().min(0).max(200), count])).max(200),
});
export type ReportedEdge = z.infer<typeof reportedEdge>;

export const socketState = z.enum(["listen", "established"]);
export const reportedSocket = z.object({
  local: address,
  remote: address,
  state: socketState,
});
export type ReportedSocket = z.infer<typeof reportedSocket>;

export const topologyReport = z.object({
  v: z.literal(1),
  /** Stable for the life of a process: the drill-down key. */
  instanceId: z.string().min(1).max(128),
  host: z.string().min(1).max(255),
  pid: z.number().int().positive(),
  /** The services this process runs, each with the hash of the manifest it was built with. */
  services: z
    .array(z.object({ service: name, manifestHash: z.string().regex(/^[0-9a-f]{16}$/) }))
    .min(1)
    .max(32),
  sentAtMs: z.number().int().nonnegative(),
  intervalMs: z.number().int().positive().max(600_000),
  edges: z.array(reportedEdge).max(5_000),
  sockets: z.array(reportedSocket).max(5_000),
});
export type TopologyReport = z.infer<typeof topologyReport>;

export const edgeKind = z.enum(["call", "event", "infra", "network"]);
export const edgeHealth = z.enum(["healthy", "degraded", "failing", "idle"]);
export type EdgeHealth = z.infer<typeof edgeHealth>;
export const edgeStatus = z.enum(["ok", "silent", "unexpected", "never-seen"]);

export const topologyNode = z.object({
  id: name,
  kind: z.enum(["service", "infra", "external"]),
  expected: z.boolean(),
  instances: z.array(
    z.object({
      instanceId: z.string(),
      host: z.string(),
      pid: z.number(),
      live: z.boolean(),
      lastReportMs: z.number(),
      manifestHash: z.string(),
      manifestMatches: z.boolean(),
    }),
  ),
});
export type TopologyNode = z.infer<typeof topologyNode>;

export const topologyEdge = z.object({
  id: z.string(),
  source: name,
  target: name,
  kind: edgeKind,
  expected: z.boolean(),
  status: edgeStatus,
  health: edgeHealth,
  /** Over the health window: requests per second, failures / requests, p99 in ms. */
  ratePerSecond: z.number(),
  errorRatio: z.number(),
  p99Ms: z.number(),
  baselineP99Ms: z.number(),
  requests: count,
  errors: count,
  forbidden: count,
  /** Open TCP connections seen in the latest network samples. */
  connections: count,
  /** Topic names for event edges, methods for calls. */
  labels: z.array(z.string()),
  perInstance: z.array(z.object({ instanceId: z.string(), requests: count, errors: count })),
});
export type TopologyEdge = z.infer<typeof topologyEdge>;

export const alertKind = z.enum([
  "unexpected-edge",
  "unexpected-network",
  "silent-edge",
  "error-ratio",
  "latency",
  "service-down",
  "manifest-mismatch",
]);
export type AlertKind = z.infer<typeof alertKind>;

export const topologyAlert = z.object({
  key: z.string(),
  kind: alertKind,
  severity: z.enum(["warning", "critical"]),
  subject: z.string(),
  message: z.string(),
  firstSeenMs: z.number(),
  lastSeenMs: z.number(),
});
export type TopologyAlert = z.infer<typeof topologyAlert>;

export const alertEvent = z.object({
  event: z.enum(["raised", "resolved"]),
  atMs: z.number(),
  alert: topologyAlert,
});
export type AlertEvent = z.infer<typeof alertEvent>;

export const topologySnapshot = z.object({
  version: z.string(),
  atMs: z.number(),
  windowMs: z.number(),
  nodes: z.array(topologyNode),
  edges: z.array(topologyEdge),
  alerts: z.array(topologyAlert),
  timeline: z.array(alertEvent),
  reports: z.object({ accepted: count, rejected: count }),
});
export type TopologySnapshot = z.infer<typeof topologySnapshot>;

export const historyPoint = z.object({
  atMs: z.number(),
  requests: count,
  errors: count,
  p99Ms: z.number(),
});
export type HistoryPoint = z.infer<typeof historyPoint>;

export const historySubject = z.union([
  z.object({ edge: z.string().min(1).max(300) }),
  z.object({ service: name }),
]);

export const topologyContract = defineService("topology", {
  snapshot: { params: z.object({}), result: topologySnapshot, exposed: true, adminOnly: true },
  history: {
    params: historySubject,
    result: z.object({ slotMs: z.number(), points: z.array(historyPoint) }),
    exposed: true,
    adminOnly: true,
  },
});

/**
 * Reports travel as opaque JSON: the collector validates them itself so a bad one is counted and answered with a
 * typed error instead of being dropped by the bus unseen.
 */
export const topologyReportEvent = defineEvent("topology.report", z.unknown());
