// Wires the events service: its tables, the bucket files under the data dir, and the close timer.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  createEventsService,
  createFileEventLog,
  createScrobbler,
  createSqlHistoryStore,
  eventsManifest,
  lastFmClient,
  listenBrainzClient,
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
  const scrobbling = config.events.scrobbling;
  const scrobbler = createScrobbler({
    db,
    logger: serviceLogger,
    clock,
    listenBrainz: listenBrainzClient(scrobbling.listenBrainzUrl),
    lastFm:
      scrobbling.lastFmApiKey && scrobbling.lastFmApiSecret
        ? lastFmClient(scrobbling.lastFmApiUrl, scrobbling.lastFmApiKey, scrobbling.lastFmApiSecret)
        : null,
    lastFmAuthUrl: scrobbling.lastFmAuthUrl,
    lastFmApiKey: scrobbling.lastFmApiKey,
    maxAttempts: scrobbling.maxAttempts,
    retryMinMs: scrobbling.retryMinMs,
    retryMaxMs: scrobbling.retryMaxMs,
    keepDoneMs: dedupWindowMs,
  });
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
    scrobbler,
    scrobbleIntervalMs: scrobbling.intervalMs,
  });
  await service.start();
  return service;
}
