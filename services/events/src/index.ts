// Public entry of @soundmesh/service-events: the service factory and manifest, the file event log and the SQL
// history store.
export {
  countsAsPlay,
  createEventsService,
  eventsManifest,
  type EventsService,
  type EventsServiceDeps,
  type TrackNames,
  type TrackPlace,
} from "./events-service";
export { createFileEventLog, type AppendItem, type AppendResult, type EventLog } from "./bucket-log";
export {
  HOUR_MS,
  bucketStem,
  hourStartOf,
  readWholeLines,
  syncDir,
  writeFileDurably,
  type StoredEvent,
} from "./bucket-files";
export { createSqlHistoryStore, type HistoryStore } from "./history-store";
export { eventsMigrations, migrateEventsStore } from "./migrations";
export { screenEvents } from "./screen-events";
export {
  lastFmClient,
  lastFmSignature,
  listenBrainzClient,
  type LastFmClient,
  type ListenBrainzClient,
  type ScrobbleItem,
} from "./scrobble-clients";
export { createScrobbler, type Scrobbler, type ScrobblerOptions } from "./scrobbler";
export {
  createJobRunner,
  fileOutput,
  type Job,
  type JobContext,
  type JobOutput,
  type JobParams,
  type JobRunner,
  type JobRunnerOptions,
  type JobSchedule,
} from "./jobs";
export {
  closeBucketJob,
  dailyAggregatesJob,
  dailyPath,
  dayOf,
  holdIfAsked,
  lastClosedDay,
  recommendationIndexJob,
  type BucketJobsOptions,
} from "./event-jobs";
