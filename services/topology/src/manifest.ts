// The topology service's own manifest: it calls nobody; every process's reporter publishes on topology.report.
import type { ServiceManifest } from "@soundmesh/bus";

export const topologyManifest = {
  service: "topology",
  calls: [],
  publishes: ["topology.report"],
  subscribes: ["topology.report"],
} as const satisfies ServiceManifest;
