// The headless peer: logs in, plays a list of tracks at real-time speed without sound, caches and serves them to
// other listeners like a browser does. For tests, demos and swarm benchmarks (`soundmesh peer`).
import { setMaxListeners } from "node:events";
import nodeDataChannel from "node-datachannel";
import { RTCPeerConnection } from "node-datachannel/polyfill";
import {
  EngineClient,
  MemoryPieceStore,
  type ByteSnapshot,
  type Manifest,
  type OverlayStats,
  type PieceStore,
  type RtcPeerConnectionConstructor,
  type TrackerClient,
  type UploadSettings,
} from "@soundmesh/engine";
import { announceResult, trackerContract } from "@soundmesh/protocol";
import { HeadlessSink } from "./headless-sink";
import type { SessionClient } from "@soundmesh/client";
import { login, openSessionSocket } from "./session-socket";

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

function trackerOver(socket: SessionClient): TrackerClient {
  return {
    announce: async (holdings) =>
      announceResult.parse(await socket.call(trackerContract, "announce", { holdings })),
    withdraw: async (renditions) => void (await socket.call(trackerContract, "withdraw", { renditions })),
    query: async (rendition) =>
      (await socket.call(trackerContract, "query", { ...rendition, limit: 10 })).peers,
    reportBadPeer: async (peerId, rendition, pieceIndex) =>
      void (await socket.call(trackerContract, "reportBadPeer", { ...rendition, peerId, pieceIndex })),
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
  const speed = options.speed ?? 1;
  const socket = await openSessionSocket(options.baseUrl, token);
  const errors: string[] = [];
  const onError = (error: unknown) => {
    if (errors.length < 100) errors.push(error instanceof Error ? error.message : String(error));
    options.onError?.(error);
  };
  // The sink maps bytes to time through each manifest: it reads the queue's manifests, fetched before playing.
  const queueManifests: Manifest[] = [];
  const sink = new HeadlessSink(queueManifests, speed);
  const store = new MemoryPieceStore();
  let startLatencyMs: number | undefined;
  const engine = new EngineClient({
    baseUrl: options.baseUrl,
    headers: { authorization: `Bearer ${token}` },
    store,
    sink,
    profile,
    playbackRate: speed,
    bufferedAheadMs: () => sink.bufferedAheadMs(),
    onEvent: (event) => {
      if (event.type === "started" && startLatencyMs === undefined) startLatencyMs = event.latencyMs;
      if (event.type === "error") onError(new Error(event.message));
    },
    onError,
    ...((options.p2p ?? true)
      ? {
          p2p: {
            RTCPeerConnection: RTCPeerConnection as unknown as RtcPeerConnectionConstructor,
            ...(options.upload ? { upload: options.upload } : {}),
            ...(options.serveCorrupted ? { servedStore: new CorruptingStore(store) } : {}),
          },
        }
      : {}),
  });
  const session = engine.openSession(
    {
      peerId: socket.peerId,
      signaler: {
        send: (to, data) => {
          socket.sendSignal(to, data);
          return Promise.resolve();
        },
      },
      listen: (receive) => socket.onSignal(receive),
      tracker: trackerOver(socket),
      reportStats: async (report) => void (await socket.call(trackerContract, "reportStats", report)),
    },
    { stutters: () => sink.stutters },
  );
  for (const trackId of options.trackIds)
    queueManifests.push(await engine.manifests.manifest(trackId, profile));
  await engine.player.play(options.trackIds.map((trackId) => ({ trackId })));
  const ticker = setInterval(() => void engine.player.tick().catch(onError), 100);

  return {
    peerId: socket.peerId,
    played: sink.finished,
    report: () => ({
      peerId: socket.peerId,
      bytes: engine.accounting.snapshot(),
      overlay: engine.peers.stats(),
      stutters: sink.stutters,
      startLatencyMs,
      errors: [...errors],
    }),
    async close() {
      clearInterval(ticker);
      await session.close();
      await socket.close();
    },
  };
}

/** Frees node-datachannel's threads so a process can exit. */
export function releaseWebRtc(): void {
  nodeDataChannel.cleanup();
}
