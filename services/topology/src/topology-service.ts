// The topology service: collects reports from topology.report, evaluates on a timer, answers snapshot and history
// over the bus, exports /metrics and sends alert events to the webhook.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { ServiceBus, Subscription } from "@soundmesh/bus";
import { toAppError, topologyContract, topologyReportEvent, type AlertEvent } from "@soundmesh/protocol";
import { TopologyCollector, type TopologyCollectorOptions } from "./collector";
import { registerTopologyMetrics, type TopologyMetrics } from "./topology-metrics";
import { AlertWebhook } from "./webhook";

export interface TopologyServiceDeps {
  bus: ServiceBus;
  logger: Logger;
  collector: Omit<TopologyCollectorOptions, "onAlertEvent">;
  evaluateIntervalMs: number;
  registry?: Registry;
  webhookUrl?: string;
  /** Hears every alert event too (tests, the benchmark). */
  onAlertEvent?: (event: AlertEvent) => void;
}

export interface TopologyService {
  collector: TopologyCollector;
  webhook: AlertWebhook | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createTopologyService(deps: TopologyServiceDeps): TopologyService {
  const { bus, logger } = deps;
  let metrics: TopologyMetrics | undefined;
  const webhook = deps.webhookUrl
    ? new AlertWebhook({ url: deps.webhookUrl, logger, onOutcome: (outcome) => metrics?.webhook(outcome) })
    : undefined;
  const collector = new TopologyCollector({
    ...deps.collector,
    onAlertEvent(event) {
      metrics?.alertEvent(event);
      logger[event.event === "raised" ? "warn" : "info"](
        { alert: event.alert.key, severity: event.alert.severity },
        `topology alert ${event.event}: ${event.alert.message}`,
      );
      webhook?.send(event);
      deps.onAlertEvent?.(event);
    },
  });
  if (deps.registry) metrics = registerTopologyMetrics(deps.registry, () => collector.snapshot());
  const subscriptions: Subscription[] = [];
  let timer: NodeJS.Timeout | undefined;

  return {
    collector,
    webhook,
    async start() {
      subscriptions.push(
        await bus.serve(topologyContract, {
          snapshot: () => collector.snapshot(),
          history: (subject) => collector.history(subject),
        }),
        await bus.subscribe(topologyReportEvent, (payload) => {
          try {
            collector.ingest(payload);
            metrics?.report("accepted", JSON.stringify(payload).length);
          } catch (error) {
            metrics?.report("rejected");
            const appError = toAppError(error);
            logger.warn({ code: appError.code, details: appError.details }, "topology report refused");
          }
        }),
      );
      timer = setInterval(() => collector.evaluate(), deps.evaluateIntervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      for (const subscription of subscriptions.splice(0)) await subscription.unsubscribe();
      await webhook?.close();
    },
  };
}
