// Public entry of @soundmesh/engine: the streaming engine's parts, for the web player and headless clients.
export { ByteAccounting, type ByteSnapshot, type SourceKind } from "./byte-accounting";
export { LruIndex, defaultCacheCap, type CacheEntry } from "./lru-index";
export { PieceFetcher, PieceFetchError, sha256Hex, type PieceFetcherOptions } from "./piece-fetcher";
export { schedulePieces, type PieceRequest, type ScheduleInput } from "./piece-scheduler";
export {
  CachedManifests,
  MemoryPieceStore,
  ServerSource,
  SourceError,
  trackKey,
  type FetchOptions,
  type PieceSource,
  type PieceStore,
  type TrackRef,
} from "./sources";
export { shouldStart, type StartInput } from "./start-decision";
export { ThroughputMeter } from "./throughput";
export { pieceAtTime, pieceStartTime, timeAtByte, type Manifest } from "./timeline";
export { MediaSourceSink, type MediaSink } from "./media-sink";
export { Player, type PlayerEvent, type PlayerOptions, type QueueItem } from "./player";
export { IndexedDbPieceStore, type StoredTrack } from "./indexeddb-store";
