import { describe, expect, it } from "vitest";
import {
  buildExpectedGraph,
  expectedGraphDot,
  expectedGraphText,
  manifestHash,
} from "@soundmesh/service-topology";

const manifests = [
  { service: "gateway", calls: ["books", "users"], subscribes: ["books.changed"] },
  { service: "books", calls: ["users"], publishes: ["books.changed"] },
  { service: "users", calls: [] },
];

describe("the expected graph", () => {
  it("joins calls, events and infrastructure, one edge per pair", () => {
    const graph = buildExpectedGraph(manifests, [{ service: "books", uses: ["database:books", "nats"] }]);
    expect(graph.edges.map((edge) => [edge.id, edge.kind, edge.labels])).toEqual([
      ["books->database:books", "infra", []],
      ["books->nats", "infra", []],
      ["books->users", "call", []],
      ["books=>gateway", "event", ["books.changed"]],
      ["gateway->books", "call", []],
      ["gateway->users", "call", []],
    ]);
    expect(graph.infra).toEqual(["database:books", "nats"]);
  });

  it("is versioned by the manifests: order does not matter, a changed call does", () => {
    const version = buildExpectedGraph(manifests).version;
    expect(buildExpectedGraph([...manifests].reverse()).version).toBe(version);
    const changed = [{ ...manifests[0]!, calls: ["books"] }, manifests[1]!, manifests[2]!];
    expect(buildExpectedGraph(changed).version).not.toBe(version);
    expect(manifestHash(changed[0]!)).not.toBe(manifestHash(manifests[0]!));
    expect(manifestHash({ service: "x", calls: ["a", "b"] })).toBe(
      manifestHash({ service: "x", calls: ["b", "a"] }),
    );
  });

  it("prints as text and as DOT", () => {
    const graph = buildExpectedGraph(manifests, [{ service: "books", uses: ["database:books"] }]);
    expect(expectedGraphText(graph)).toContain("  books=>gateway: books.changed");
    const dot = expectedGraphDot(graph);
    expect(dot).toMatch(/^digraph soundmesh \{/);
    expect(dot).toContain('"database:books" [shape=cylinder];');
    expect(dot).toContain('"books" -> "gateway" [style=dashed, label="books.changed"];');
  });
});
