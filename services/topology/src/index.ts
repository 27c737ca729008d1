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
export { findDependencyCycle, serviceDependencies } from "./dependency-cycle";
export { TopologyCollector, type TopologyCollectorOptions } from "./collector";
export { createTopologyReporter, type TopologyReporter, type TopologyReporterOptions } from "./reporter";
export { decodeProcAddress, parseProcNetTcp, sampleSockets, socketInodes } from "./net-sample";
export { addressMatches, endpointOfUrl, type KnownEndpoint } from "./endpoints";
export { DEGRADED_RATIO, FAILING_RATIO, edgeHealth, errorRatio, type EdgeCounts } from "./health";
export { AlertWebhook, type AlertWebhookOptions } from "./webhook";
export { AlertBook, type AlertCondition } from "./alert-book";
export { createTopologyService, type TopologyService, type TopologyServiceDeps } from "./topology-service";
export { registerTopologyMetrics, type TopologyMetrics } from "./topology-metrics";
