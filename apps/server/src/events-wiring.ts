// Wires the events service: its tables, the bucket files under the data dir, and the close timer.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  createEventsService,
  createFileEventLog,
  createSqlHistoryStore,
  eventsManifest,
  migrateEventsStore,
  type EventsService,
} from "@soundmesh/service-events";
import type { Config } from "./config";

export async function startEventsService(
  config: Config,
  logger: Logger,
  bus: Bus,
  db: Db,
): Promise<EventsService> {
  await migrateEventsStore(db);
  const clock = { now: () => Date.now() };
  const dedupWindowMs = config.events.dedupWindowHours * 3_600_000;
  const serviceLogger = logger.child({ service: "events" });
  const service = createEventsService({
    logger: serviceLogger,
    bus: bus.connect(eventsManifest),
    log: createFileEventLog({
      dir: join(config.dataDir, "events"),
      clock,
      allowedLatenessMs: config.events.allowedLatenessMs,
      dedupWindowMs,
      logger: serviceLogger,
    }),
    history: createSqlHistoryStore(db),
    clock,
    dedupWindowMs,
    closeIntervalMs: config.events.closeCheckIntervalMs,
  });
  await service.start();
  return service;
}
