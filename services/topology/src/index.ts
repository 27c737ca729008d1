// Public entry of the topology service: the expected graph, reporters, the collector and its alerts.
export {
  buildExpectedGraph,
  edgeId,
  expectedGraphDot,
  expectedGraphText,
  manifestHash,
  type ExpectedEdge,
  type ExpectedEdgeKind,
  type ExpectedGraph,
  type InfraDeclaration,
} from "./expected-graph";
export { topologyManifest } from "./manifest";
