// Public entry of the storage service.
export {
  createStorageService,
  storageManifest,
  type StorageService,
  type StorageServiceConfig,
} from "./storage-service";
export {
  RenditionStore,
  defaultProfiles,
  type FetchHandoff,
  type ResolveSource,
  type SourceInfo,
} from "./rendition-store";
export {
  HANDOFF_CHUNK_BYTES,
  fetchHandoffFrom,
  handOver,
  type HandOverTarget,
  type HandoffPeers,
} from "./rendition-handoff";
export {
  REPLICATE_AT_ONCE,
  startReplication,
  type ReplicaTargets,
  type Replication,
  type ReplicationOptions,
} from "./rendition-replication";
export { CoverCache, type CoverCacheOptions } from "./cover-cache";
export { findClusters } from "./webm-clusters";
export {
  TranscodeScheduler,
  defaultSchedulerConfig,
  type Hold,
  type JobSpec,
  type Requester,
  type SchedulerEvent,
  type TranscodeSchedulerConfig,
  type TranscodeSchedulerStats,
} from "./transcode-scheduler";
