// Wires the events service: its tables, its event log (bucket files under the data dir, or the JetStream stream in
// cluster mode), the job runner and the close timer.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import type { NatsConnection } from "@soundmesh/bus/nats";
import type { Db } from "@soundmesh/db";
import { jobProgressEvent } from "@soundmesh/protocol";
import {
  createEventsService,
  createFileEventLog,
  closeBucketJob,
  createJobRunner,
  createScrobbler,
  dailyAggregatesJob,
  createSqlHistoryStore,
  eventsManifest,
  lastFmClient,
  listenBrainzClient,
  migrateEventsStore,
  type EventsService,
  type JobRunner,
} from "@soundmesh/service-events";
import type { Config } from "./config";

export async function startEventsService(
  config: Config,
  logger: Logger,
  bus: Bus,
  db: Db,
  cluster: { nats?: NatsConnection; replicas?: number } = {},
): Promise<EventsService & { jobs: JobRunner }> {
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
  const dir = join(config.dataDir, "events");
  const logOptions = {
    dir,
    clock,
    allowedLatenessMs: config.events.allowedLatenessMs,
    dedupWindowMs,
    logger: serviceLogger,
  };
  // On NATS (cluster mode) every events process shares one JetStream stream; all-in-one keeps bucket files.
  // Loaded only then, so all-in-one never loads the NATS client.
  const log = cluster.nats
    ? (await import("@soundmesh/service-events/jetstream")).createJetStreamEventLog({
        ...logOptions,
        connection: cluster.nats,
        ...(cluster.replicas === undefined ? {} : { replicas: cluster.replicas }),
      })
    : createFileEventLog(logOptions);
  const serviceBus = bus.connect(eventsManifest);
  const jobs = createJobRunner({
    db,
    logger: serviceLogger,
    clock,
    runner: "server",
    // Admins watching (the admin page, `soundmesh jobs` against a server) see every change of a run.
    onChange: (run) =>
      void serviceBus
        .publish(jobProgressEvent, run)
        .catch((error: unknown) => serviceLogger.warn({ err: error }, "job progress not published")),
  });
  await jobs.recoverInterrupted();
  jobs.register(closeBucketJob({ dir, clock, allowedLatenessMs: config.events.allowedLatenessMs, log }));
  jobs.register(dailyAggregatesJob({ dir }));
  const service = createEventsService({
    logger: serviceLogger,
    bus: serviceBus,
    log,
    jobs,
    history: createSqlHistoryStore(db),
    clock,
    dedupWindowMs,
    closeIntervalMs: config.events.closeCheckIntervalMs,
    scrobbler,
    scrobbleIntervalMs: scrobbling.intervalMs,
  });
  await service.start();
  // Other services' jobs (the radio index) are registered with this runner by the wiring that starts them.
  return Object.assign(service, { jobs });
}
