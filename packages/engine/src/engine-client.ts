// One composed streaming client, built from options: server source, client cache, piece fetcher, player and
// (optionally) peer-assisted fetching. The web player and the headless peer both build it; nothing in it is
// re-wired after construction: P2P sessions open and close on the engine's own peer pool.
import { ByteAccounting } from "./byte-accounting";
import type { LruIndex } from "./lru-index";
import type { MediaSink } from "./media-sink";
import { PieceFetcher } from "./piece-fetcher";
import { Player, type PlayerEvent, type ReplayGainMode } from "./player";
import { CachedManifests, ServerSource, type PieceStore } from "./sources";
import { SessionPeers, type PeerSession, type PeerSessionOptions } from "./p2p/session-peers";
import type { RtcPeerConnectionConstructor } from "./p2p/webrtc-transport";
import type { UploadSettings } from "./p2p/uploader";

export interface EngineClientOptions {
  /** Where the stream routes are: "" in the browser (same origin). */
  baseUrl: string;
  /** Sent with every audio request (a bearer token outside the browser, whose cookie does it). */
  headers?: Record<string, string>;
  /** The HTTP client; the platform's fetch by default. */
  fetch?: typeof fetch;
  store: PieceStore;
  /** The cache's LRU bookkeeping, when the store is a capped client cache. */
  cacheIndex?: LruIndex;
  sink: MediaSink;
  profile: string;
  replayGain?: ReplayGainMode;
  /** Media time per wall-clock time: 1 in players; more for headless peers playing fast. */
  playbackRate?: number;
  /** Audio buffered ahead of the playhead, Infinity when nothing plays. */
  bufferedAheadMs: () => number;
  onEvent?: (event: PlayerEvent) => void;
  /** Peer-assisted fetching; without it sessions only report byte counters. */
  p2p?: {
    RTCPeerConnection: RtcPeerConnectionConstructor;
    upload?: Partial<UploadSettings>;
    /** What peers are served from, when not `store` (tests of the hash check serve corrupted bytes). */
    servedStore?: PieceStore;
  };
  /** P2P and reporting problems: they never stop playback (the server is always there). */
  onError?: (error: unknown) => void;
}

export class EngineClient {
  readonly accounting = new ByteAccounting();
  readonly server: ServerSource;
  /** Manifests through the client cache: a cached track needs no request at all. */
  readonly manifests: CachedManifests;
  readonly fetcher: PieceFetcher;
  readonly player: Player;
  readonly store: PieceStore;
  /** Other listeners while a session is open (see `openSession`); none without the `p2p` option. */
  readonly peers: SessionPeers;

  constructor(options: EngineClientOptions) {
    const { store, bufferedAheadMs } = options;
    const rate = options.playbackRate ?? 1;
    this.store = store;
    this.server = new ServerSource({
      baseUrl: options.baseUrl,
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.manifests = new CachedManifests(this.server, store);
    const peers = new SessionPeers({
      store,
      manifests: this.manifests,
      accounting: this.accounting,
      bufferedAheadMs,
      ...(options.p2p ? { p2p: options.p2p } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
    this.peers = peers;
    this.fetcher = new PieceFetcher({
      sources: [this.server],
      store,
      ...(options.cacheIndex ? { cacheIndex: options.cacheIndex } : {}),
      accounting: this.accounting,
      // Faster than real time, wall-clock deadlines shrink with the rate so the engine makes the same decisions;
      // not below 750 ms: a busy machine (many peers on two cores) must not make every peer look slow.
      playbackRate: rate,
      attemptTimeoutMs: Math.max(750, 2_000 / rate),
      lookupWaitMs: Math.max(750, 3_000 / rate),
      ...(options.p2p
        ? {
            peers,
            bufferedAheadMs,
            onStored: (track, index) => peers.stored(track, index),
            onEvicted: (key) => peers.evicted(key),
            onBadPiece: (source, track, index) => {
              if (source.kind === "peer") peers.reportBadPiece(source.id, track, index);
            },
          }
        : {}),
    });
    this.player = new Player({
      sink: options.sink,
      server: this.manifests,
      fetcher: this.fetcher,
      accounting: this.accounting,
      profile: options.profile,
      ...(options.replayGain ? { replayGain: options.replayGain } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
  }

  /**
   * Starts a session over a signed-in connection: byte counters reported every 10 s and, with `p2p`, an overlay of
   * other listeners (replacing the previous session's). Close it when the connection ends.
   */
  openSession(session: PeerSession, options: PeerSessionOptions = {}): { close(): Promise<void> } {
    return this.peers.open(session, options);
  }
}
