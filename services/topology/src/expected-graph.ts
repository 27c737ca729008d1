// The expected topology: the union of the services' manifests plus the infrastructure each service declares it uses,
// versioned by a hash of both, so a process built from other code is recognised.
import { createHash } from "node:crypto";
import type { ServiceManifest } from "@soundmesh/bus";

/** What a service uses outside the bus: "database:<service>", "nats", "library", "ffmpeg", … */
export interface InfraDeclaration {
  service: string;
  uses: readonly string[];
}

export type ExpectedEdgeKind = "call" | "event" | "infra";

export interface ExpectedEdge {
  id: string;
  source: string;
  target: string;
  kind: ExpectedEdgeKind;
  /** Topics for event edges; empty otherwise. */
  labels: string[];
}

export interface ExpectedGraph {
  version: string;
  services: Array<{ service: string; manifestHash: string }>;
  infra: string[];
  edges: ExpectedEdge[];
}

const sorted = (values: readonly string[] | undefined) => [...(values ?? [])].sort();

const hash16 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);

/** The hash a process reports for the manifest it was built with; key order and list order do not matter. */
export function manifestHash(manifest: ServiceManifest): string {
  return hash16(
    JSON.stringify([
      manifest.service,
      sorted(manifest.calls),
      sorted(manifest.publishes),
      sorted(manifest.subscribes),
    ]),
  );
}

export const edgeId = (source: string, target: string, kind: ExpectedEdgeKind | "network") =>
  kind === "event" ? `${source}=>${target}` : `${source}->${target}`;

export function buildExpectedGraph(
  manifests: readonly ServiceManifest[],
  infra: readonly InfraDeclaration[] = [],
): ExpectedGraph {
  const edges = new Map<string, ExpectedEdge>();
  const add = (source: string, target: string, kind: ExpectedEdgeKind, label?: string) => {
    const id = edgeId(source, target, kind);
    const edge = edges.get(id) ?? { id, source, target, kind, labels: [] };
    if (label !== undefined && !edge.labels.includes(label)) edge.labels.push(label);
    edges.set(id, edge);
  };
  for (const manifest of manifests) {
    for (const callee of manifest.calls)
      if (callee !== manifest.service) add(manifest.service, callee, "call");
  }
  for (const publisher of manifests) {
    for (const topic of publisher.publishes ?? []) {
      for (const subscriber of manifests) {
        if (subscriber !== publisher && subscriber.subscribes?.includes(topic))
          add(publisher.service, subscriber.service, "event", topic);
      }
    }
  }
  const infraNodes = new Set<string>();
  for (const declaration of infra) {
    for (const node of declaration.uses) {
      infraNodes.add(node);
      add(declaration.service, node, "infra");
    }
  }
  const services = manifests
    .map((manifest) => ({ service: manifest.service, manifestHash: manifestHash(manifest) }))
    .sort((a, b) => a.service.localeCompare(b.service));
  const orderedEdges = [...edges.values()]
    .map((edge) => ({ ...edge, labels: edge.labels.sort() }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const version = hash16(
    JSON.stringify([services, orderedEdges.filter((edge) => edge.kind === "infra").map((edge) => edge.id)]),
  );
  return { version, services, infra: [...infraNodes].sort(), edges: orderedEdges };
}

/** The graph as lines a person reads: one edge a line, grouped by kind. */
export function expectedGraphText(graph: ExpectedGraph): string {
  const lines = [`expected topology ${graph.version}`, "", "services (manifest hash):"];
  for (const { service, manifestHash: hash } of graph.services) lines.push(`  ${service}  ${hash}`);
  const sections: Array<[ExpectedEdgeKind, string]> = [
    ["call", "calls"],
    ["event", "events (publisher => subscriber: topics)"],
    ["infra", "infrastructure"],
  ];
  for (const [kind, title] of sections) {
    lines.push("", `${title}:`);
    for (const edge of graph.edges.filter((e) => e.kind === kind)) {
      lines.push(`  ${edge.id}${edge.labels.length ? `: ${edge.labels.join(", ")}` : ""}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

const quote = (text: string) => `"${text.replace(/["\\]/g, "\\$&")}"`;

/** Graphviz DOT: services as boxes, infrastructure as cylinders, events dashed. */
export function expectedGraphDot(graph: ExpectedGraph): string {
  const lines = [
    `digraph soundmesh {`,
    `  label=${quote(`expected topology ${graph.version}`)};`,
    `  rankdir=LR;`,
  ];
  for (const { service } of graph.services) lines.push(`  ${quote(service)} [shape=box];`);
  for (const node of graph.infra) lines.push(`  ${quote(node)} [shape=cylinder];`);
  for (const edge of graph.edges) {
    const attributes =
      edge.kind === "event"
        ? ` [style=dashed, label=${quote(edge.labels.join("\\n"))}]`
        : edge.kind === "infra"
          ? " [color=gray]"
          : "";
    lines.push(`  ${quote(edge.source)} -> ${quote(edge.target)}${attributes};`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
