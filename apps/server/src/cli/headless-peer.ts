// The headless peer: logs in, plays a list of tracks at real-time speed without sound, caches and serves them to
// other listeners like a browser does. For tests, demos and swarm benchmarks (`soundmesh peer`).
import { setMaxListeners } from "node:events";
import nodeDataChannel from "node-datachannel";
import { RTCPeerConnection } from "node-datachannel/polyfill";
import {
  ByteAccounting,
  CachedManifests,
  MemoryPieceStore,
  PeerOverlay,
  PieceFetcher,
  Player,
  ServerSource,
  StatsReporter,
  WebRtcTransport,
  type ByteSnapshot,
  type Manifest,
  type OverlayStats,
  type PieceStore,
  type RtcPeerConnectionConstructor,
  type TrackerClient,
  type UploadSettings,
} from "@soundmesh/engine";
import { announceResult, type PeerInfo } from "@soundmesh/protocol";
import { HeadlessSink } from "./headless-sink";
import { SessionSocket, login } from "./session-socket";

export interface HeadlessPeerOptions {
  baseUrl: string;
  /** A session or API token; else name and password are used to log in. */
  token?: string;
  name?: string;
  password?: string;
  trackIds: string[];
  profile?: string;
  /** Playback speed: 1 is real time. */
  speed?: number;
  /** Off: server and cache only (for comparisons). */
  p2p?: boolean;
  upload?: Partial<UploadSettings>;
  /** For tests and demos of the hash check: serve pieces with one byte flipped. */
  serveCorrupted?: boolean;
  onError?: (error: unknown) => void;
}

export interface HeadlessPeerReport {
  peerId: string;
  bytes: ByteSnapshot;
  overlay: OverlayStats | undefined;
  stutters: number;
  startLatencyMs: number | undefined;
  errors: string[];
}

export interface HeadlessPeer {
  readonly peerId: string;
  /** Resolves when every track has been played. */
  readonly played: Promise<void>;
  report(): HeadlessPeerReport;
  close(): Promise<void>;
}

/** Serves what the store holds with one byte changed: a peer that lies. */
class CorruptingStore implements PieceStore {
  constructor(private readonly inner: PieceStore) {}
  async get(key: string, index: number): Promise<Uint8Array | undefined> {
    const bytes = await this.inner.get(key, index);
    if (!bytes) return undefined;
    const copy = bytes.slice();
    copy[copy.byteLength >> 1] = (copy[copy.byteLength >> 1]! + 1) & 0xff;
    return copy;
  }
  put = (key: string, index: number, bytes: Uint8Array) => this.inner.put(key, index, bytes);
  delete = (key: string) => this.inner.delete(key);
  size = (key: string) => this.inner.size(key);
  getManifest = (key: string) => this.inner.getManifest(key);
  putManifest = (key: string, manifest: Manifest) => this.inner.putManifest(key, manifest);
}

function trackerOver(socket: SessionSocket): TrackerClient {
  return {
    announce: async (holdings) =>
      announceResult.parse(await socket.request("tracker.announce", { holdings })),
    withdraw: async (renditions) => void (await socket.request("tracker.withdraw", { renditions })),
    query: async (rendition) =>
      (await socket.request<{ peers: PeerInfo[] }>("tracker.query", { ...rendition, limit: 10 })).peers,
    reportBadPeer: async (peerId, rendition, pieceIndex) =>
      void (await socket.request("tracker.reportBadPeer", { ...rendition, peerId, pieceIndex })),
  };
}

export async function startHeadlessPeer(options: HeadlessPeerOptions): Promise<HeadlessPeer> {
  const token =
    options.token ??
    (options.name && options.password !== undefined
      ? await login(options.baseUrl, options.name, options.password)
      : undefined);
  if (!token) throw new Error("a token, or a name and password, is needed");
  // A track's abort signal is shared by every piece in flight and each attempt listens to it.
  setMaxListeners(64);
  const profile = options.profile ?? "opus96";
  const socket = await SessionSocket.connect(options.baseUrl, token);
  const errors: string[] = [];
  const onError = (error: unknown) => {
    if (errors.length < 100) errors.push(error instanceof Error ? error.message : String(error));
    options.onError?.(error);
  };
  const server = new ServerSource({
    baseUrl: options.baseUrl,
    headers: { authorization: `Bearer ${token}` },
  });
  const store = new MemoryPieceStore();
  const manifests = new CachedManifests(server, store);
  // The sink maps bytes to time through each manifest, so the queue's manifests are fetched first.
  const queueManifests: Manifest[] = [];
  for (const trackId of options.trackIds) queueManifests.push(await manifests.manifest(trackId, profile));
  const sink = new HeadlessSink(queueManifests, options.speed ?? 1);
  const accounting = new ByteAccounting();
  const bufferedAheadMs = () => sink.bufferedAheadMs();

  let overlay: PeerOverlay | undefined;
  if (options.p2p ?? true) {
    const transport = new WebRtcTransport({
      selfId: socket.peerId,
      signaler: { send: (to, data) => socket.signal(to, data) },
      RTCPeerConnection: RTCPeerConnection as unknown as RtcPeerConnectionConstructor,
      onError,
    });
    socket.onSignal((from, data) => transport.receive(from, data));
    overlay = new PeerOverlay({
      selfId: socket.peerId,
      transport,
      tracker: trackerOver(socket),
      store: options.serveCorrupted ? new CorruptingStore(store) : store,
      revalidate: (rendition) => manifests.isCurrent(rendition.trackId, rendition.profile),
      ...(options.upload ? { upload: options.upload } : {}),
      bufferedAheadMs,
      onError,
    });
  }
  const peers = overlay;
  // Faster than real time, wall-clock deadlines shrink with the speed so the engine makes the same decisions.
  const speed = options.speed ?? 1;
  const fetcher = new PieceFetcher({
    sources: [server],
    store,
    accounting,
    // Not below 750 ms: a busy machine (many peers on two cores) must not make every peer look slow.
    playbackRate: speed,
    attemptTimeoutMs: Math.max(750, 2_000 / speed),
    lookupWaitMs: Math.max(750, 3_000 / speed),
    ...(peers
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
  let startLatencyMs: number | undefined;
  const player = new Player({
    sink,
    server: manifests,
    fetcher,
    accounting,
    profile,
    onEvent: (event) => {
      if (event.type === "started" && startLatencyMs === undefined) startLatencyMs = event.latencyMs;
      if (event.type === "error") onError(new Error(event.message));
    },
  });
  await player.play(options.trackIds.map((trackId) => ({ trackId })));
  const ticker = setInterval(() => void player.tick().catch(onError), 100);
  const pinger = setInterval(() => overlay?.ping(), 5_000);
  const reporter = new StatsReporter(
    () => {
      const stats = overlay?.stats();
      return {
        bytes: accounting.snapshot(),
        uploadedBytes: stats?.bytesUploaded ?? 0,
        neighbours: stats?.neighbours ?? 0,
        stutters: sink.stutters,
      };
    },
    async (report) => void (await socket.request("tracker.reportStats", report)),
  );
  const reporting = setInterval(() => void reporter.flush().catch(onError), 10_000);
  const played = sink.finished;

  return {
    peerId: socket.peerId,
    played,
    report: () => ({
      peerId: socket.peerId,
      bytes: accounting.snapshot(),
      overlay: overlay?.stats(),
      stutters: sink.stutters,
      startLatencyMs,
      errors: [...errors],
    }),
    async close() {
      clearInterval(ticker);
      clearInterval(pinger);
      clearInterval(reporting);
      await reporter.flush().catch(onError);
      overlay?.close();
      await socket.close();
    },
  };
}

/** Frees node-datachannel's threads so a process can exit. */
export function releaseWebRtc(): void {
  nodeDataChannel.cleanup();
}
