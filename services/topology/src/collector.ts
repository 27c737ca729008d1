// The collector: takes every process's reports, keeps an hour of per-edge traffic, and compares what it sees with
// the expected graph — unexpected edges (bus or network), silent ones, error ratios, latency, dead services and
// processes built from other manifests — raising deduplicated alerts.
import {
  AppError,
  issueDetails,
  topologyReport,
  type AlertEvent,
  type HistoryPoint,
  type ReportedEdge,
  type TopologyEdge,
  type TopologyNode,
  type TopologyReport,
  type TopologySnapshot,
} from "@soundmesh/protocol";
import { AlertBook, type AlertCondition } from "./alert-book";
import { addressMatches, type KnownEndpoint } from "./endpoints";
import { EdgeSeries, mergedHistory, percentileMs, type WindowStats } from "./edge-series";
import { edgeId, type ExpectedEdge, type ExpectedGraph } from "./expected-graph";
import { edgeHealth, errorRatio } from "./health";

export interface TopologyCollectorOptions {
  expected: ExpectedGraph;
  endpoints?: readonly KnownEndpoint[];
  windowMs: number;
  staleAfterMs: number;
  latencyFactor?: number;
  latencyFloorMs?: number;
  /** Requests needed in the window and in the baseline before latency is judged. */
  latencyMinSamples?: number;
  historyMs?: number;
  nowMs?: () => number;
  onAlertEvent?: (event: AlertEvent) => void;
}

interface InstanceState {
  report: TopologyReport;
  receivedMs: number;
  cumulative: Map<string, ReportedEdge>;
}

interface NetworkEdge {
  source: string;
  target: string;
  connections: number;
  instances: Map<string, number>;
}

const COUNT_KEYS = ["requests", "errors", "timeouts", "forbidden", "rateLimited"] as const;

/** At most this many issues are sent back for a refused report. */
const MAX_ISSUES = 20;

export class TopologyCollector {
  private readonly instances = new Map<string, InstanceState>();
  private readonly series = new Map<string, { source: string; target: string; series: EdgeSeries }>();
  private readonly expectedById: Map<string, ExpectedEdge>;
  private readonly expectedHashes: Map<string, string>;
  private readonly alerts: AlertBook;
  private readonly nowMs: () => number;
  private readonly startedMs: number;
  private readonly slotMs: number;
  private readonly historyMs: number;
  private accepted = 0;
  private rejected = 0;
  private last: TopologySnapshot | undefined;

  constructor(private readonly options: TopologyCollectorOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.startedMs = this.nowMs();
    this.historyMs = options.historyMs ?? 3_600_000;
    // Six slots a window (at most 10 s each) keep an hour of history to 360 points an edge.
    this.slotMs = Math.max(50, Math.min(10_000, Math.floor(options.windowMs / 6)));
    this.expectedById = new Map(options.expected.edges.map((edge) => [edge.id, edge]));
    this.expectedHashes = new Map(options.expected.services.map((s) => [s.service, s.manifestHash]));
    this.alerts = new AlertBook((event) => options.onAlertEvent?.(event));
  }

  get counts(): { accepted: number; rejected: number } {
    return { accepted: this.accepted, rejected: this.rejected };
  }

  /** Validates and takes one report; a bad one is counted and refused with VALIDATION_FAILED. */
  ingest(raw: unknown): TopologyReport {
    const parsed = topologyReport.safeParse(raw);
    if (!parsed.success) {
      this.rejected += 1;
      throw new AppError("VALIDATION_FAILED", "a topology report does not match its contract", {
        details: issueDetails(parsed.error, MAX_ISSUES),
      });
    }
    const report = parsed.data;
    const nowMs = this.nowMs();
    const known = this.instances.get(report.instanceId);
    const cumulative = known?.cumulative ?? new Map<string, ReportedEdge>();
    for (const edge of report.edges) {
      if (edge.caller === edge.callee) continue;
      const key = `${edge.caller}\u0000${edge.callee}\u0000${edge.method}`;
      const before = cumulative.get(key);
      cumulative.set(key, edge);
      // Counters that went down mean the process restarted under the same id: count from zero.
      const base = before && COUNT_KEYS.every((k) => edge[k] >= before[k]) ? before : undefined;
      const delta = Object.fromEntries(COUNT_KEYS.map((k) => [k, edge[k] - (base?.[k] ?? 0)])) as Record<
        (typeof COUNT_KEYS)[number],
        number
      >;
      if (delta.requests === 0) continue;
      const previousBuckets = new Map(base?.latencyBuckets ?? []);
      const latency: Array<[number, number]> = [];
      for (const [index, n] of edge.latencyBuckets) {
        const added = n - (previousBuckets.get(index) ?? 0);
        if (added > 0) latency.push([index, added]);
      }
      this.seriesOf(edge.caller, edge.callee).add(nowMs, {
        ...delta,
        method: edge.method,
        instanceId: report.instanceId,
        latency,
      });
    }
    this.instances.set(report.instanceId, { report, receivedMs: nowMs, cumulative });
    this.accepted += 1;
    return report;
  }

  private seriesOf(source: string, target: string): EdgeSeries {
    const id = edgeId(source, target, "call");
    let entry = this.series.get(id);
    if (!entry) {
      entry = { source, target, series: new EdgeSeries(this.slotMs, this.historyMs) };
      this.series.set(id, entry);
    }
    return entry.series;
  }

  private isLive(instance: InstanceState, nowMs: number): boolean {
    return nowMs - instance.receivedMs <= this.options.staleAfterMs;
  }

  /** The nodes a connection to `remote` reaches: declared endpoints, then other processes' listening sockets. */
  private targetsOf(remote: string, self: InstanceState, live: InstanceState[]): string[] {
    const targets = new Set<string>();
    for (const endpoint of this.options.endpoints ?? []) {
      if (addressMatches(remote, endpoint.address)) targets.add(endpoint.node);
    }
    for (const other of live) {
      if (other === self) continue;
      if (other.report.sockets.some((s) => s.state === "listen" && addressMatches(remote, s.local))) {
        for (const { service } of other.report.services) targets.add(service);
      }
    }
    return [...targets];
  }

  private networkEdges(live: InstanceState[]): Map<string, NetworkEdge> {
    const edges = new Map<string, NetworkEdge>();
    for (const instance of live) {
      const listening = instance.report.sockets.filter((s) => s.state === "listen").map((s) => s.local);
      const services = instance.report.services.map((s) => s.service);
      for (const socket of instance.report.sockets) {
        if (socket.state !== "established") continue;
        // Inbound connections are the other side's to report; connections to ourselves are no edge.
        if (listening.some((address) => addressMatches(socket.local, address))) continue;
        if (listening.some((address) => addressMatches(socket.remote, address))) continue;
        const targets = this.targetsOf(socket.remote, instance, live);
        if (targets.length === 0) targets.push(`external:${socket.remote}`);
        const pairs = services.flatMap((source) =>
          targets.filter((target) => target !== source).map((target) => [source, target] as const),
        );
        // A process running several services: the connection belongs to whichever declares it, if any does.
        const declared = pairs.filter(([source, target]) =>
          this.expectedById.has(edgeId(source, target, "infra")),
        );
        for (const [source, target] of declared.length > 0 ? declared : pairs) {
          const id = edgeId(source, target, "network");
          const edge = edges.get(id) ?? { source, target, connections: 0, instances: new Map() };
          edge.connections += 1;
          edge.instances.set(
            instance.report.instanceId,
            (edge.instances.get(instance.report.instanceId) ?? 0) + 1,
          );
          edges.set(id, edge);
        }
      }
    }
    return edges;
  }

  /** Compares what is seen with what is expected, updates the alerts, and returns the picture. */
  evaluate(): TopologySnapshot {
    const nowMs = this.nowMs();
    const { windowMs } = this.options;
    const windowStartMs = nowMs - windowMs;
    for (const [id, instance] of this.instances) {
      if (nowMs - instance.receivedMs > this.historyMs) this.instances.delete(id);
    }
    const all = [...this.instances.values()];
    const live = all.filter((instance) => this.isLive(instance, nowMs));
    const network = this.networkEdges(live);
    const conditions: AlertCondition[] = [];

    const windows = new Map<string, WindowStats>();
    for (const [id, { series }] of this.series) windows.set(id, series.sum(windowStartMs));
    const activeCallers = new Set<string>();
    for (const [id, stats] of windows) if (stats.requests > 0) activeCallers.add(this.series.get(id)!.source);

    const ids = new Set([...this.expectedById.keys(), ...this.series.keys(), ...network.keys()]);
    const edges: TopologyEdge[] = [];
    for (const id of [...ids].sort()) {
      const expected = this.expectedById.get(id);
      const entry = this.series.get(id);
      const stats = windows.get(id);
      const net = network.get(id);
      const source = expected?.source ?? entry?.source ?? net!.source;
      const target = expected?.target ?? entry?.target ?? net!.target;
      const requests = stats?.requests ?? 0;
      const connections = net?.connections ?? 0;
      if (!expected && requests === 0 && connections === 0 && !entry) continue;
      const hadTraffic = entry?.series.hasTrafficBefore(windowStartMs) ?? false;
      const status: TopologyEdge["status"] = !expected
        ? "unexpected"
        : requests > 0 || connections > 0
          ? "ok"
          : hadTraffic
            ? "silent"
            : "never-seen";
      const counts = stats ?? { requests: 0, errors: 0, timeouts: 0, forbidden: 0, rateLimited: 0 };
      const health = edgeHealth(counts);
      const p99 = stats ? percentileMs(stats.latency, 0.99) : { ms: 0, count: 0 };
      const baseline = entry
        ? percentileMs(entry.series.sum(nowMs - this.historyMs, windowStartMs).latency, 0.99)
        : { ms: 0, count: 0 };
      const perInstance = new Map<string, { requests: number; errors: number }>(stats?.perInstance ?? []);
      for (const instanceId of net?.instances.keys() ?? []) {
        if (!perInstance.has(instanceId)) perInstance.set(instanceId, { requests: 0, errors: 0 });
      }
      edges.push({
        id,
        source,
        target,
        kind: expected?.kind ?? (entry ? "call" : "network"),
        expected: expected !== undefined,
        status,
        health,
        ratePerSecond: requests / (windowMs / 1000),
        errorRatio: errorRatio(counts),
        p99Ms: p99.ms,
        baselineP99Ms: baseline.ms,
        requests,
        errors: counts.errors + counts.timeouts,
        forbidden: counts.forbidden,
        connections,
        labels: expected?.labels.length ? expected.labels : [...(stats?.methods ?? [])].sort(),
        perInstance: [...perInstance].map(([instanceId, c]) => ({ instanceId, ...c })),
      });
      conditions.push(
        ...this.edgeConditions(id, {
          isExpected: expected !== undefined,
          requests,
          forbidden: counts.forbidden,
          connections,
          status,
          health,
          callerActive: activeCallers.has(source),
          p99,
          baseline,
          methods: [...(stats?.methods ?? [])],
          ratio: errorRatio(counts),
          windowMs,
        }),
      );
    }

    const nodes = this.nodes(all, live, edges);
    conditions.push(...this.serviceConditions(nodes, nowMs));
    this.alerts.update(nowMs, conditions);
    this.last = {
      version: this.options.expected.version,
      atMs: nowMs,
      windowMs,
      nodes,
      edges,
      alerts: this.alerts.current(),
      timeline: this.alerts.timeline(),
      reports: this.counts,
    };
    return this.last;
  }

  private edgeConditions(
    id: string,
    edge: {
      isExpected: boolean;
      requests: number;
      forbidden: number;
      connections: number;
      status: TopologyEdge["status"];
      health: TopologyEdge["health"];
      callerActive: boolean;
      p99: { ms: number; count: number };
      baseline: { ms: number; count: number };
      methods: string[];
      ratio: number;
      windowMs: number;
    },
  ): AlertCondition[] {
    const conditions: AlertCondition[] = [];
    const seconds = Math.round(edge.windowMs / 1000);
    if (!edge.isExpected && edge.requests > 0) {
      conditions.push({
        key: `unexpected-edge:${id}`,
        kind: "unexpected-edge",
        severity: "critical",
        subject: id,
        message:
          `${id} carried ${edge.requests} calls (${edge.methods.join(", ")}) in the last ${seconds} s, ` +
          `${edge.forbidden} refused by the bus; no manifest declares it`,
      });
    }
    if (!edge.isExpected && edge.connections > 0) {
      conditions.push({
        key: `unexpected-network:${id}`,
        kind: "unexpected-network",
        severity: "critical",
        subject: id,
        message: `${id}: ${edge.connections} open TCP connection(s) that no manifest or infrastructure declares`,
      });
    }
    if (edge.isExpected && edge.status === "silent" && edge.callerActive) {
      conditions.push({
        key: `silent-edge:${id}`,
        kind: "silent-edge",
        severity: "warning",
        subject: id,
        message: `${id} carried traffic before but none in the last ${seconds} s while its caller is busy`,
      });
    }
    if (edge.health === "degraded" || edge.health === "failing") {
      conditions.push({
        key: `error-ratio:${id}:${edge.health}`,
        kind: "error-ratio",
        severity: edge.health === "failing" ? "critical" : "warning",
        subject: id,
        message: `${id} is ${edge.health}: ${(edge.ratio * 100).toFixed(2)} % of ${edge.requests} calls failed in the last ${seconds} s`,
      });
    }
    const minSamples = this.options.latencyMinSamples ?? 20;
    const limitMs = Math.max(
      edge.baseline.ms * (this.options.latencyFactor ?? 3),
      this.options.latencyFloorMs ?? 0,
    );
    if (edge.p99.count >= minSamples && edge.baseline.count >= minSamples && edge.p99.ms > limitMs) {
      conditions.push({
        key: `latency:${id}`,
        kind: "latency",
        severity: "warning",
        subject: id,
        message: `${id} p99 ${edge.p99.ms.toFixed(1)} ms over the last ${seconds} s, baseline ${edge.baseline.ms.toFixed(1)} ms`,
      });
    }
    return conditions;
  }

  private nodes(all: InstanceState[], live: InstanceState[], edges: TopologyEdge[]): TopologyNode[] {
    const nodes = new Map<string, TopologyNode>();
    const ensure = (id: string, kind: TopologyNode["kind"], expected: boolean) => {
      const node = nodes.get(id) ?? { id, kind, expected, instances: [] };
      nodes.set(id, node);
      return node;
    };
    for (const { service } of this.options.expected.services) ensure(service, "service", true);
    for (const node of this.options.expected.infra) ensure(node, "infra", true);
    for (const instance of all) {
      for (const { service, manifestHash } of instance.report.services) {
        ensure(service, "service", this.expectedHashes.has(service)).instances.push({
          instanceId: instance.report.instanceId,
          host: instance.report.host,
          pid: instance.report.pid,
          live: live.includes(instance),
          lastReportMs: instance.receivedMs,
          manifestHash,
          manifestMatches: this.expectedHashes.get(service) === manifestHash,
        });
      }
    }
    for (const edge of edges) {
      for (const id of [edge.source, edge.target]) {
        if (!nodes.has(id)) ensure(id, id.startsWith("external:") ? "external" : "service", false);
      }
    }
    return [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  private serviceConditions(nodes: TopologyNode[], nowMs: number): AlertCondition[] {
    const conditions: AlertCondition[] = [];
    // Right after start-up no process has had time to report: nothing is "down" yet.
    const judgeLiveness = nowMs - this.startedMs > this.options.staleAfterMs;
    for (const node of nodes) {
      if (node.kind !== "service") continue;
      if (node.expected && judgeLiveness && !node.instances.some((instance) => instance.live)) {
        conditions.push({
          key: `service-down:${node.id}`,
          kind: "service-down",
          severity: "critical",
          subject: node.id,
          message: `${node.id} has no live process (none reported within ${this.options.staleAfterMs} ms)`,
        });
      }
      for (const instance of node.instances) {
        if (!instance.live || instance.manifestMatches) continue;
        conditions.push({
          key: `manifest-mismatch:${node.id}:${instance.instanceId}`,
          kind: "manifest-mismatch",
          severity: "warning",
          subject: `${node.id}/${instance.instanceId}`,
          message: node.expected
            ? `${instance.instanceId} runs ${node.id} with manifest ${instance.manifestHash}; this code's is ${this.expectedHashes.get(node.id)}`
            : `${instance.instanceId} runs ${node.id}, which this code does not know`,
        });
      }
    }
    return conditions;
  }

  /** The last evaluation (evaluating now if none ran yet). */
  snapshot(): TopologySnapshot {
    return this.last ?? this.evaluate();
  }

  /** An edge's (by id) or a service's (its incoming calls, else outgoing) slots over the last hour. */
  history(subject: { edge: string } | { service: string }): { slotMs: number; points: HistoryPoint[] } {
    const entries = [...this.series.entries()];
    let chosen: EdgeSeries[];
    if ("edge" in subject) {
      chosen = entries.filter(([id]) => id === subject.edge).map(([, entry]) => entry.series);
    } else {
      const incoming = entries.filter(([, entry]) => entry.target === subject.service);
      const outgoing = entries.filter(([, entry]) => entry.source === subject.service);
      chosen = (incoming.length > 0 ? incoming : outgoing).map(([, entry]) => entry.series);
    }
    return { slotMs: this.slotMs, points: mergedHistory(chosen) };
  }
}
