// The topology in a running server: this process's reporter (its bus edges and TCP sockets, every few seconds),
// and the collector service (its JSON routes for admins are the access point's).
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Bus } from "@soundmesh/bus";
import { topologyReportEvent } from "@soundmesh/protocol";
import {
  createTopologyReporter,
  createTopologyService,
  endpointOfUrl,
  topologyManifest,
  type KnownEndpoint,
  type TopologyReporter,
  type TopologyService,
} from "@soundmesh/service-topology";
import type { Config } from "./config";
import { expectedTopology, serviceManifests, servicesWithDatabase } from "./topology-declarations";

/** Where the network sample's connections lead: the database (each service's), then the configured endpoints. */
export function knownEndpoints(config: Config): KnownEndpoint[] {
  const endpoints: KnownEndpoint[] = [];
  const database = config.databaseUrl ? endpointOfUrl(config.databaseUrl, 5432) : undefined;
  if (database) {
    for (const service of servicesWithDatabase)
      endpoints.push({ address: database, node: `database:${service}` });
  }
  // Cluster mode: every process's connections to the broker lead to "nats".
  for (const server of config.nats.servers) {
    const address = endpointOfUrl(server.replace(/^(nats|tls):/, "http:"), 4222);
    if (address) endpoints.push({ address, node: "nats" });
  }
  const webhook = config.topology.webhookUrl ? endpointOfUrl(config.topology.webhookUrl, 80) : undefined;
  if (webhook) endpoints.push({ address: webhook, node: "webhook" });
  return [...endpoints, ...config.topology.endpoints];
}

export interface RunningTopology {
  service: TopologyService;
  reporter: TopologyReporter;
  stop(): Promise<void>;
}

/** All-in-one: one reporter for the whole process (every service) and the collector, on the same bus. */
export async function startTopology(
  config: Config,
  logger: Logger,
  bus: Bus,
  registry: Registry,
): Promise<RunningTopology> {
  const topologyBus = bus.connect(topologyManifest);
  const settings = config.topology;
  const service = createTopologyService({
    bus: topologyBus,
    logger: logger.child({ service: "topology" }),
    registry,
    evaluateIntervalMs: settings.evaluateIntervalMs,
    ...(settings.webhookUrl ? { webhookUrl: settings.webhookUrl } : {}),
    collector: {
      expected: expectedTopology(),
      endpoints: knownEndpoints(config),
      windowMs: settings.windowMs,
      staleAfterMs: settings.staleAfterMs,
      latencyFactor: settings.latencyFactor,
      latencyFloorMs: settings.latencyFloorMs,
    },
  });
  await service.start();
  const reporter = createTopologyReporter({
    manifests: serviceManifests,
    edges: () => bus.edges(),
    send: (report) => topologyBus.publish(topologyReportEvent, report),
    intervalMs: settings.reportIntervalMs,
    logger,
  });
  reporter.start();
  return {
    service,
    reporter,
    async stop() {
      reporter.stop();
      await service.stop();
    },
  };
}
