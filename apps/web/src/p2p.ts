// Peer-assisted streaming in the browser: an overlay of RTCPeerConnections signaled over the app's WebSocket,
// attached to the player's fetcher; uploads off by default on metered or cellular connections.
import {
  CachedManifests,
  PeerOverlay,
  ServerSource,
  StatsReporter,
  WebRtcTransport,
  type ByteAccounting,
  type OverlayStats,
  type PieceFetcher,
  type PieceStore,
  type TrackerClient,
  type UploadSettings,
} from "@soundmesh/engine";
import { announceResult, signalData, type PeerInfo, type SignalData } from "@soundmesh/protocol";

/** What p2p needs from the app's socket. */
export interface SignalingConnection {
  peerId: string;
  request<T>(method: string, params?: unknown, timeoutMs?: number): Promise<T>;
  sendSignal(to: string, data: SignalData): void;
  onSignal: (from: string, data: unknown) => void;
}

const UPLOAD_KEY = "soundmesh.p2p.upload";

interface NetworkInformationLike {
  type?: string;
  saveData?: boolean;
}

/** The browser says the connection is metered or cellular: no uploads unless the user turns them on. */
export function isMeteredConnection(): boolean {
  const info = (navigator as Navigator & { connection?: NetworkInformationLike }).connection;
  return info?.saveData === true || info?.type === "cellular";
}

export function uploadSettings(): Pick<UploadSettings, "enabled" | "bytesPerSecond"> {
  try {
    const saved = JSON.parse(localStorage.getItem(UPLOAD_KEY) ?? "null") as {
      enabled?: unknown;
      bytesPerSecond?: unknown;
    } | null;
    return {
      enabled: typeof saved?.enabled === "boolean" ? saved.enabled : !isMeteredConnection(),
      bytesPerSecond:
        typeof saved?.bytesPerSecond === "number" && saved.bytesPerSecond >= 0 ? saved.bytesPerSecond : 0,
    };
  } catch {
    return { enabled: !isMeteredConnection(), bytesPerSecond: 0 };
  }
}

export interface BrowserPeers {
  overlay: PeerOverlay;
  stats(): OverlayStats;
  /** Recent P2P problems (connections that failed, a tracker that did not answer). */
  problems(): string[];
  setUploads(settings: Pick<UploadSettings, "enabled" | "bytesPerSecond">): void;
  close(): void;
}

/** Starts the overlay for this session and attaches it to the fetcher. Returns undefined without WebRTC. */
export function startBrowserPeers(options: {
  connection: SignalingConnection;
  fetcher: PieceFetcher;
  store: PieceStore;
  /** Audio buffered ahead of the playhead, Infinity when nothing plays. */
  bufferedAheadMs: () => number;
  /** Track keys in the client cache from earlier sessions: offered to others at once. */
  cachedKeys?: string[];
  /** Byte counters reported to the server every 10 s for its /metrics. */
  accounting: ByteAccounting;
  /** Playback stalls so far; by default, media "waiting" events after playback started in this document. */
  stutters?: () => number;
}): BrowserPeers | undefined {
  const { connection, fetcher, store, bufferedAheadMs } = options;
  // P2P problems never stop playback (the server is always there); the last few are shown in the stats panel.
  const problems: string[] = [];
  const noteProblem = (error: unknown) => {
    problems.push(error instanceof Error ? error.message : String(error));
    if (problems.length > 5) problems.shift();
  };
  if (typeof RTCPeerConnection === "undefined" || !connection.peerId) return undefined;
  const transport = new WebRtcTransport({
    selfId: connection.peerId,
    signaler: {
      send: (to, data) => {
        connection.sendSignal(to, data);
        return Promise.resolve();
      },
    },
    RTCPeerConnection,
    onError: noteProblem,
  });
  connection.onSignal = (from, data) => {
    // Only a well-formed description or candidate ever reaches RTCPeerConnection.
    const parsed = signalData.safeParse(data);
    if (parsed.success) transport.receive(from, parsed.data);
  };
  const tracker: TrackerClient = {
    announce: async (holdings) =>
      announceResult.parse(await connection.request("tracker.announce", { holdings })),
    withdraw: async (renditions) => void (await connection.request("tracker.withdraw", { renditions })),
    query: async (rendition) =>
      (await connection.request<{ peers: PeerInfo[] }>("tracker.query", { ...rendition, limit: 10 })).peers,
    reportBadPeer: async (peerId, rendition, pieceIndex) =>
      void (await connection.request("tracker.reportBadPeer", { ...rendition, peerId, pieceIndex })),
  };
  // Tracks cached in an earlier session are announced after a conditional GET of their manifests tells the server.
  const manifests = new CachedManifests(new ServerSource({ baseUrl: "" }), store);
  const overlay = new PeerOverlay({
    selfId: connection.peerId,
    transport,
    tracker,
    store,
    revalidate: (rendition) => manifests.isCurrent(rendition.trackId, rendition.profile),
    upload: uploadSettings(),
    bufferedAheadMs,
    onError: noteProblem,
  });
  fetcher.attachPeers({
    peers: overlay,
    bufferedAheadMs,
    onStored: (track, index) => overlay.stored(track, index),
    onEvicted: (key) => overlay.evicted(key),
    onBadPiece: (source, track, index) => {
      if (source.kind === "peer") overlay.reportBadPiece(source.id, track, index);
    },
  });
  void announceCached(overlay, store, options.cachedKeys ?? []).catch(noteProblem);
  const pinger = window.setInterval(() => overlay.ping(), 5_000);
  const stalls = countStalls();
  const reporter = new StatsReporter(
    () => {
      const stats = overlay.stats();
      return {
        bytes: options.accounting.snapshot(),
        uploadedBytes: stats.bytesUploaded,
        neighbours: stats.neighbours,
        stutters: options.stutters?.() ?? stalls.count(),
      };
    },
    async (report) => void (await connection.request("tracker.reportStats", report)),
  );
  const reporting = window.setInterval(() => void reporter.flush().catch(noteProblem), 10_000);
  return {
    overlay,
    stats: () => overlay.stats(),
    problems: () => [...problems],
    setUploads(settings) {
      localStorage.setItem(UPLOAD_KEY, JSON.stringify(settings));
      overlay.configureUploads(settings);
    },
    close() {
      window.clearInterval(pinger);
      window.clearInterval(reporting);
      stalls.stop();
      void reporter.flush().catch(noteProblem);
      overlay.close();
    },
  };
}

async function announceCached(overlay: PeerOverlay, store: PieceStore, keys: string[]): Promise<void> {
  const held = [];
  for (const key of keys.slice(0, 500)) {
    const manifest = await store.getManifest(key);
    if (!manifest) continue;
    const track = { trackId: manifest.trackId, profile: manifest.profile, manifest };
    // A growing manifest held from an earlier session covers part of the track only.
    const complete = manifest.complete !== false && (await store.size(key)) >= manifest.sizeBytes;
    held.push({ track, complete });
  }
  await overlay.announceHeld(held);
}

/** Audio buffered ahead of an element's playhead; Infinity when it has nothing to play. */
export function bufferedAheadMsOf(element: HTMLMediaElement): number {
  if (!element.src || element.ended) return Infinity;
  const now = element.currentTime;
  const ranges = element.buffered;
  for (let i = 0; i < ranges.length; i++)
    if (now >= ranges.start(i) - 0.05 && now <= ranges.end(i)) return (ranges.end(i) - now) * 1000;
  return 0;
}

/** Counts media elements' stalls ("waiting" after they started playing) anywhere in the document. */
function countStalls(): { count(): number; stop(): void } {
  let started = false;
  let stalls = 0;
  const onPlaying = () => {
    started = true;
  };
  const onWaiting = () => {
    if (started) stalls += 1;
  };
  document.addEventListener("playing", onPlaying, true);
  document.addEventListener("waiting", onWaiting, true);
  return {
    count: () => stalls,
    stop() {
      document.removeEventListener("playing", onPlaying, true);
      document.removeEventListener("waiting", onWaiting, true);
    },
  };
}
