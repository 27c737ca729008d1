// The topology in a running server: this process's reporter (its bus edges and TCP sockets, every few seconds),
// and the collector service (its JSON routes for admins are the access point's).
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Bus, ServiceManifest } from "@soundmesh/bus";
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

/**
 * A process's reporter: its bus's edges and its sockets every `reportIntervalMs`, published on topology.report as
 * the services in `manifests` (all of them in all-in-one; in cluster mode the one service the process runs).
 */
export function startReporter(
  config: Config,
  logger: Logger,
  bus: Bus,
  manifests: readonly ServiceManifest[],
  as: string,
): TopologyReporter {
  // Publishes as `as`: on NATS, the process's own service (every service's user may publish topology.report).
  const reporterBus = bus.connect({
    service: as,
    calls: [],
    publishes: ["topology.report"],
    subscribes: [],
  });
  const reporter = createTopologyReporter({
    manifests,
    edges: () => bus.edges(),
    send: (report) => reporterBus.publish(topologyReportEvent, report),
    intervalMs: config.topology.reportIntervalMs,
    logger,
  });
  reporter.start();
  return reporter;
}

/**
 * The collector, and this process's reporter on the same bus: for every service in all-in-one (`reportAs`
 * defaults to every manifest), for the topology process alone in cluster mode.
 */
export async function startTopology(
  config: Config,
  logger: Logger,
  bus: Bus,
  registry: Registry,
  reportAs: readonly ServiceManifest[] = serviceManifests,
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
  const reporter = startReporter(config, logger, bus, reportAs, topologyManifest.service);
  return {
    service,
    reporter,
    async stop() {
      reporter.stop();
      await service.stop();
    },
  };
}
