// The live service topology for administrators: the graph (Cytoscape.js, in this lazily loaded chunk only) with
// edges coloured by health and sized by rate, silent ones dashed, unexpected ones red; a click shows the last
// hour of an edge or a service as small plots; and the alerts with their timeline.
import cytoscape, { type Core, type ElementDefinition } from "cytoscape";
import { useEffect, useRef, useState } from "react";
import type { HistoryPoint, TopologyEdge, TopologySnapshot } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import "./topology.css";
import { topologyContract } from "@soundmesh/protocol";

const HEALTH_COLOURS: Record<TopologyEdge["health"], string> = {
  healthy: "#2e9d5b",
  degraded: "#e0a100",
  failing: "#d33",
  idle: "#9aa",
};

function edgeColour(edge: TopologyEdge): string {
  if (edge.status === "unexpected") return "#d00";
  if (edge.kind === "event") return "#bbb";
  return HEALTH_COLOURS[edge.health];
}

function elementsOf(snapshot: TopologySnapshot): ElementDefinition[] {
  const nodes: ElementDefinition[] = snapshot.nodes.map((node) => ({
    data: {
      id: node.id,
      label: node.instances.length > 1 ? `${node.id} ×${node.instances.length}` : node.id,
      kind: node.kind,
      down: node.kind === "service" && !node.instances.some((i) => i.live) ? 1 : 0,
    },
  }));
  const edges: ElementDefinition[] = snapshot.edges.map((edge) => ({
    data: {
      id: edge.id,
      source: edge.source,
      target: edge.target,
      colour: edgeColour(edge),
      width: 1 + Math.min(8, Math.log10(1 + edge.ratePerSecond) * 3),
      line:
        edge.kind === "event"
          ? "dotted"
          : edge.status === "silent" || edge.status === "never-seen"
            ? "dashed"
            : "solid",
      status: edge.status,
    },
  }));
  return [...nodes, ...edges];
}

const style: cytoscape.StylesheetJson = [
  {
    selector: "node",
    style: {
      label: "data(label)",
      "font-size": 11,
      color: "#ccc",
      "background-color": "#4a6fa5",
      width: 24,
      height: 24,
    },
  },
  { selector: "node[kind = 'infra']", style: { shape: "round-rectangle", "background-color": "#888" } },
  { selector: "node[kind = 'external']", style: { shape: "diamond", "background-color": "#d00" } },
  { selector: "node[down = 1]", style: { "border-width": 3, "border-color": "#d00" } },
  {
    selector: "edge",
    style: {
      width: "data(width)",
      "line-color": "data(colour)",
      "target-arrow-color": "data(colour)",
      "target-arrow-shape": "triangle",
      "curve-style": "bezier",
      "line-style": "data(line)" as "solid",
    },
  },
];

/** A small SVG line plot of one series over the hour. */
function Plot({
  label,
  points,
  read,
}: {
  label: string;
  points: HistoryPoint[];
  read: (p: HistoryPoint) => number;
}) {
  const width = 240;
  const height = 48;
  const values = points.map(read);
  const max = Math.max(1e-9, ...values);
  const first = points[0]?.atMs ?? 0;
  const span = Math.max(1, (points.at(-1)?.atMs ?? 1) - first);
  const path = points
    .map(
      (p, i) =>
        `${i === 0 ? "M" : "L"}${(((p.atMs - first) / span) * width).toFixed(1)},${(height - (read(p) / max) * height).toFixed(1)}`,
    )
    .join(" ");
  return (
    <figure className="topology-plot">
      <figcaption>
        {label} (max {max.toPrecision(3)})
      </figcaption>
      <svg width={width} height={height} role="img" aria-label={label}>
        <path d={path} fill="none" stroke="currentColor" strokeWidth="1.5" />
      </svg>
    </figure>
  );
}

function Details({
  connection,
  subject,
}: {
  connection: Connection;
  subject: { edge: string } | { service: string };
}) {
  const [history, setHistory] = useState<{ slotMs: number; points: HistoryPoint[] }>();
  useEffect(() => {
    void connection.call(topologyContract, "history", subject).then(setHistory);
  }, [connection, subject]);
  const seconds = (history?.slotMs ?? 1000) / 1000;
  const points = history?.points ?? [];
  return (
    <div className="topology-details">
      <h4>{"edge" in subject ? subject.edge : subject.service}: the last hour</h4>
      <Plot label="calls/s" points={points} read={(p) => p.requests / seconds} />
      <Plot label="errors/s" points={points} read={(p) => p.errors / seconds} />
      <Plot label="p99 ms" points={points} read={(p) => p.p99Ms} />
    </div>
  );
}

export function TopologyPanel({ connection }: { connection: Connection }) {
  const container = useRef<HTMLDivElement>(null);
  const graph = useRef<Core>(null);
  const [snapshot, setSnapshot] = useState<TopologySnapshot>();
  const [subject, setSubject] = useState<{ edge: string } | { service: string }>();
  const [message, setMessage] = useState("");

  useEffect(() => {
    let stopped = false;
    const load = () =>
      void connection.call(topologyContract, "snapshot", {}).then(
        (next) => !stopped && setSnapshot(next),
        (e: Error) => setMessage(e.message),
      );
    load();
    const timer = setInterval(load, 3_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [connection]);

  useEffect(() => {
    if (!snapshot || !container.current) return;
    const elements = elementsOf(snapshot);
    if (!graph.current) {
      const core = cytoscape({
        container: container.current,
        elements,
        style,
        layout: { name: "cose", animate: false },
      });
      core.on("tap", "edge", (event) => setSubject({ edge: (event.target as cytoscape.EdgeSingular).id() }));
      core.on("tap", "node", (event) =>
        setSubject({ service: (event.target as cytoscape.NodeSingular).id() }),
      );
      graph.current = core;
      return;
    }
    const core = graph.current;
    const known = new Set(core.elements().map((element) => element.id()));
    const fresh = elements.filter((element) => !known.has(String(element.data.id)));
    for (const element of elements) core.getElementById(String(element.data.id)).data(element.data);
    if (fresh.length > 0) {
      core.add(fresh);
      core.layout({ name: "cose", animate: false }).run();
    }
  }, [snapshot]);

  useEffect(() => () => graph.current?.destroy(), []);

  return (
    <>
      <h3>Service topology</h3>
      {snapshot && (
        <p className="muted">
          Expected topology {snapshot.version}; {snapshot.reports.accepted} reports,{" "}
          {snapshot.reports.rejected} refused. Red: unexpected; dashed: expected but silent; colour: health
          over the last {snapshot.windowMs / 1000} s.
        </p>
      )}
      <div ref={container} className="topology-graph" data-testid="topology-graph" />
      {subject && <Details connection={connection} subject={subject} />}
      <h4>Alerts</h4>
      <ul className="topology-alerts" aria-label="Active alerts">
        {snapshot?.alerts.length === 0 && <li>None.</li>}
        {snapshot?.alerts.map((alert) => (
          <li key={alert.key} className={alert.severity}>
            <strong>{alert.kind}</strong> {alert.message}
          </li>
        ))}
      </ul>
      <details>
        <summary>Timeline</summary>
        <ol className="topology-timeline">
          {[...(snapshot?.timeline ?? [])].reverse().map((event, i) => (
            <li key={i}>
              {new Date(event.atMs).toLocaleTimeString()} {event.event} {event.alert.kind}:{" "}
              {event.alert.subject}
            </li>
          ))}
        </ol>
      </details>
      {message && <p role="status">{message}</p>}
    </>
  );
}
