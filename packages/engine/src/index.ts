// Public entry of @soundmesh/engine: the streaming engine's parts, for the web player and headless clients.
export { ByteAccounting, type ByteSnapshot, type SourceKind } from "./byte-accounting";
export { LruIndex, defaultCacheCap, type CacheEntry } from "./lru-index";
export {
  PieceFetcher,
  PieceFetchError,
  sha256Hex,
  type PeerPieceSource,
  type PeerPool,
  type PieceFetcherOptions,
} from "./piece-fetcher";
export { schedulePieces, type PieceRequest, type ScheduleInput } from "./piece-scheduler";
export {
  CachedManifests,
  MemoryPieceStore,
  ServerSource,
  SourceError,
  extendsManifest,
  isComplete,
  trackKey,
  type ManifestOptions,
  type ManifestSource,
  type FetchOptions,
  type PieceSource,
  type PieceStore,
  type TrackRef,
} from "./sources";
export { shouldStart, type StartInput } from "./start-decision";
export { ThroughputMeter } from "./throughput";
export { pieceAtTime, pieceStartTime, timeAtByte, type Manifest } from "./timeline";
export { MediaSourceSink, type MediaSink } from "./media-sink";
export { Player, type PlayerEvent, type PlayerOptions, type QueueItem, type ReplayGainMode } from "./player";
export { IndexedDbPieceStore, type StoredTrack } from "./indexeddb-store";
export { PlayEvents, uuidV7 } from "./play-events";
export { PlayQueue, type QueueEntry, type RepeatMode } from "./play-queue";
export { isPinned, pinTrack, unpinTrack, type PinDeps } from "./offline-pins";
export { decodeFrame, encodeFrame, PeerWireError, type PeerFrame } from "./p2p/peer-wire";
export { BufferedChannelEvents, type PeerChannel, type PeerTransport } from "./p2p/peer-transport";
export { Neighbour } from "./p2p/neighbour";
export { Uploader, defaultUploadSettings, type UploadSettings } from "./p2p/uploader";
export {
  PeerOverlay,
  type OverlayStats,
  type PeerOverlayOptions,
  type TrackerClient,
} from "./p2p/peer-overlay";
export {
  WebRtcTransport,
  type RtcPeerConnectionConstructor,
  type Signaler,
  type WebRtcTransportOptions,
} from "./p2p/webrtc-transport";
export { StatsReporter, type ClientCounters, type StatsReport } from "./p2p/stats-reporter";
export {
  SessionPeers,
  type PeerSession,
  type PeerSessionOptions,
  type SessionPeersOptions,
} from "./p2p/session-peers";
export { EngineClient, type EngineClientOptions } from "./engine-client";
