// The topology on /metrics: active alerts, alert events, reports, and each edge's rate, error ratio and p99 as the
// collector last saw them (for the Grafana dashboard in deploy/grafana).
import { Counter, Gauge, type Registry } from "prom-client";
import type { AlertEvent, TopologySnapshot } from "@soundmesh/protocol";

export interface TopologyMetrics {
  alertEvent(event: AlertEvent): void;
  report(outcome: "accepted" | "rejected", bytes?: number): void;
  webhook(outcome: "delivered" | "failed" | "dropped"): void;
}

export function registerTopologyMetrics(
  registry: Registry,
  snapshot: () => TopologySnapshot | undefined,
): TopologyMetrics {
  const registers = [registry];
  const edgeLabels = ["source", "target", "kind", "status"] as const;
  const perEdge = (name: string, help: string, read: (edge: TopologySnapshot["edges"][number]) => number) =>
    new Gauge({
      name,
      help,
      labelNames: edgeLabels,
      registers,
      collect() {
        this.reset();
        for (const edge of snapshot()?.edges ?? []) {
          if (edge.kind === "event") continue;
          this.set(
            { source: edge.source, target: edge.target, kind: edge.kind, status: edge.status },
            read(edge),
          );
        }
      },
    });
  perEdge(
    "soundmesh_topology_edge_requests_per_second",
    "Calls per second over the window",
    (e) => e.ratePerSecond,
  );
  perEdge("soundmesh_topology_edge_error_ratio", "Failed calls / calls over the window", (e) => e.errorRatio);
  perEdge("soundmesh_topology_edge_p99_seconds", "p99 latency over the window", (e) => e.p99Ms / 1000);
  perEdge(
    "soundmesh_topology_edge_connections",
    "Open TCP connections in the network sample",
    (e) => e.connections,
  );
  new Gauge({
    name: "soundmesh_topology_alerts_active",
    help: "Alerts holding now, by kind and severity",
    labelNames: ["kind", "severity"],
    registers,
    collect() {
      this.reset();
      for (const alert of snapshot()?.alerts ?? []) this.inc({ kind: alert.kind, severity: alert.severity });
    },
  });
  new Gauge({
    name: "soundmesh_topology_live_instances",
    help: "Processes of each service that reported within the stale limit",
    labelNames: ["service"],
    registers,
    collect() {
      this.reset();
      for (const node of snapshot()?.nodes ?? []) {
        if (node.kind === "service")
          this.set({ service: node.id }, node.instances.filter((i) => i.live).length);
      }
    },
  });
  const alertEvents = new Counter({
    name: "soundmesh_topology_alert_events_total",
    help: "Alerts raised and resolved",
    labelNames: ["kind", "event"],
    registers,
  });
  const reports = new Counter({
    name: "soundmesh_topology_reports_total",
    help: "Topology reports received, by outcome",
    labelNames: ["outcome"],
    registers,
  });
  const reportBytes = new Counter({
    name: "soundmesh_topology_report_bytes_total",
    help: "Bytes of topology reports received over the bus",
    registers,
  });
  const webhook = new Counter({
    name: "soundmesh_topology_webhook_total",
    help: "Alert webhook deliveries, by outcome",
    labelNames: ["outcome"],
    registers,
  });
  return {
    alertEvent: (event) => alertEvents.inc({ kind: event.alert.kind, event: event.event }),
    report(outcome, bytes) {
      reports.inc({ outcome });
      if (bytes !== undefined) reportBytes.inc(bytes);
    },
    webhook: (outcome) => webhook.inc({ outcome }),
  };
}
