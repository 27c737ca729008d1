// The headless peer: logs in, plays a list of tracks at real-time speed without sound, caches and serves them to
// other listeners like a browser does, and sends listening events through a file outbox under its data dir. For
// tests, demos and swarm benchmarks (`soundmesh peer`).
import { setMaxListeners } from "node:events";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import nodeDataChannel from "node-datachannel";
import { RTCPeerConnection } from "node-datachannel/polyfill";
import {
  EngineClient,
  MemoryPieceStore,
  PlayEvents,
  type ByteSnapshot,
  type Manifest,
  type OverlayStats,
  type PieceStore,
  type RtcPeerConnectionConstructor,
  type TrackerClient,
  type UploadSettings,
} from "@soundmesh/engine";
import {
  announceResult,
  eventsContract,
  trackerContract,
  type IceServer,
  type ListeningEvent,
} from "@soundmesh/protocol";
import { FileEventOutbox } from "./file-event-outbox";
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
  /** Connect to other peers only through the TURN servers the server names (relayed candidates only). */
  relayOnly?: boolean;
  /**
   * Where the peer keeps its listening-event outbox (`events-outbox.jsonl`); events waiting there from an earlier
   * run are sent too. Default: a new temporary folder (events then do not outlive the process).
   */
  dataDir?: string;
  /** How long close() waits for waiting events to reach the server (default 10 s); the rest stay in the file. */
  eventsDrainMs?: number;
  /** First retry delay of the outbox after a failed send (default 1 s, doubling up to 30 s). */
  eventsRetryMs?: number;
  onError?: (error: unknown) => void;
}

export interface HeadlessPeerReport {
  peerId: string;
  bytes: ByteSnapshot;
  overlay: OverlayStats | undefined;
  stutters: number;
  startLatencyMs: number | undefined;
  /** Listening events acknowledged by the server in this run, and those still waiting in the outbox. */
  events: { sent: number; pending: number };
  /** The candidate pair ICE chose for each peer connection that came up, in the order they came up (at most 60). */
  connections: SelectedPair[];
  errors: string[];
}

/** One side of a selected candidate pair: its type ("host", "srflx", "prflx" or "relay") and address. */
export interface CandidateSeen {
  type: string;
  address: string;
  port: number;
}

export interface SelectedPair {
  local: CandidateSeen;
  remote: CandidateSeen;
}

export interface HeadlessPeer {
  readonly peerId: string;
  /** Resolves when every track has been played. */
  readonly played: Promise<void>;
  report(): HeadlessPeerReport;
  /** Stops playing, waits (a while) for waiting events to be sent, and leaves. */
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

/**
 * node-datachannel writes a TURN server's credentials into the URL (turn:user:password@host) and libdatachannel
 * URL-decodes them: the TURN REST user name ("<expiry>:<pseudonym>") and a base64 password are encoded first.
 */
function urlSafeCredentials(server: IceServer): IceServer {
  return {
    urls: server.urls,
    ...(server.username === undefined ? {} : { username: encodeURIComponent(server.username) }),
    ...(server.credential === undefined ? {} : { credential: encodeURIComponent(server.credential) }),
  };
}

function candidateIn(stats: RTCStatsReport, id: unknown): CandidateSeen | undefined {
  const entry = typeof id === "string" ? (stats.get(id) as Record<string, unknown> | undefined) : undefined;
  if (!entry) return undefined;
  // The standard names the address `address`; node-datachannel's polyfill names it `ip`.
  const address = entry.address ?? entry.ip;
  return { type: String(entry.candidateType), address: String(address), port: Number(entry.port) };
}

/** The pair a connection's stats name as selected (the transport's, else the nominated succeeded one). */
function selectedPairIn(stats: RTCStatsReport): SelectedPair | undefined {
  const entries = [...stats.values()] as Record<string, unknown>[];
  const pairId = entries.find((entry) => entry.type === "transport")?.selectedCandidatePairId;
  const pair =
    (typeof pairId === "string" ? (stats.get(pairId) as Record<string, unknown> | undefined) : undefined) ??
    entries.find(
      (entry) => entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded",
    );
  const local = candidateIn(stats, pair?.localCandidateId);
  const remote = candidateIn(stats, pair?.remoteCandidateId);
  return local && remote ? { local, remote } : undefined;
}

/** RTCPeerConnection that records the selected candidate pair of each connection once it is connected. */
function recordingSelectedPairs(
  Base: RtcPeerConnectionConstructor,
  pairs: SelectedPair[],
  onError: (error: unknown) => void,
): RtcPeerConnectionConstructor {
  return class extends Base {
    constructor(configuration?: RTCConfiguration) {
      super(configuration);
      this.addEventListener("connectionstatechange", () => {
        if (this.connectionState !== "connected" || pairs.length >= 60) return;
        this.getStats().then((stats) => {
          const pair = selectedPairIn(stats);
          if (pair) pairs.push(pair);
        }, onError);
      });
    }
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
  const connections: SelectedPair[] = [];
  // Events go over the session's socket; once it has closed (a server outage) over a new one per attempt.
  let eventsSocket = socket;
  const outbox = await FileEventOutbox.open({
    path: join(options.dataDir ?? (await mkdtemp(join(tmpdir(), "soundmesh-peer-"))), "events-outbox.jsonl"),
    submitter: {
      async submit(events: ListeningEvent[]) {
        if (eventsSocket.state !== "open") {
          if (eventsSocket !== socket) await eventsSocket.close();
          eventsSocket = await openSessionSocket(options.baseUrl, token);
        }
        return eventsSocket.call(eventsContract, "submit", { events });
      },
    },
    ...(options.eventsRetryMs ? { minRetryMs: options.eventsRetryMs } : {}),
  });
  const durationOf = (trackId: string) => queueManifests[options.trackIds.indexOf(trackId)]?.durationMs ?? 0;
  /** Where the playing track starts on the sink's timeline. */
  let trackStartSec = 0;
  const engine = new EngineClient({
    baseUrl: options.baseUrl,
    headers: { authorization: `Bearer ${token}` },
    store,
    sink,
    profile,
    playbackRate: speed,
    bufferedAheadMs: () => sink.bufferedAheadMs(),
    onEvent: (event) => {
      if (event.type === "started") {
        startLatencyMs ??= event.latencyMs;
        trackStartSec = sink.currentTime();
        playEvents.started(event.trackId, durationOf(event.trackId), event.latencyMs);
      }
      if (event.type === "track" && event.trackId !== playEvents.trackId) {
        // A gapless crossing into the next track.
        playEvents.ended("finished");
        trackStartSec = sink.currentTime();
        playEvents.started(event.trackId, durationOf(event.trackId), 0);
      }
      if (event.type === "ended") playEvents.ended("finished");
      if (event.type === "error") {
        if (playEvents.trackId === event.trackId) playEvents.ended("error");
        onError(new Error(event.message));
      }
    },
    onError,
    ...((options.p2p ?? true)
      ? {
          p2p: {
            RTCPeerConnection: recordingSelectedPairs(
              RTCPeerConnection as unknown as RtcPeerConnectionConstructor,
              connections,
              onError,
            ),
            ...(options.upload ? { upload: options.upload } : {}),
            ...(options.serveCorrupted ? { servedStore: new CorruptingStore(store) } : {}),
            ...(options.relayOnly ? { iceTransportPolicy: "relay" as const } : {}),
          },
        }
      : {}),
  });
  const playEvents = new PlayEvents(
    (event) => void outbox.record(event).catch(onError),
    () => engine.accounting.snapshot(),
    // The position is read every 100 ms at `speed` times real time: steps up to twice that are heard.
    2_000 * Math.max(1, speed),
  );
  const session = engine.openSession(
    {
      peerId: socket.peerId,
      // As renewed on this socket since its hello (TURN credentials expire).
      iceServers: () => socket.hello?.iceServers?.map(urlSafeCredentials),
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
  playEvents.requested();
  await engine.player.play(options.trackIds.map((trackId) => ({ trackId })));
  let wasStalled = false;
  let isClosed = false;
  const ticker = setInterval(() => {
    void engine.player.tick().catch(onError);
    playEvents.progress((sink.currentTime() - trackStartSec) * 1000);
    const isStalled = sink.isStalled;
    if (isStalled && !wasStalled) playEvents.stalled();
    if (!isStalled && wasStalled) playEvents.resumed();
    wasStalled = isStalled;
  }, 100);
  void sink.finished.then(() => {
    playEvents.progress((sink.currentTime() - trackStartSec) * 1000);
    playEvents.ended("finished");
  });

  return {
    peerId: socket.peerId,
    played: sink.finished,
    report: () => ({
      peerId: socket.peerId,
      bytes: engine.accounting.snapshot(),
      overlay: engine.peers.stats(),
      stutters: sink.stutters,
      startLatencyMs,
      events: { sent: outbox.sent, pending: outbox.pending },
      connections: [...connections],
      errors: [...errors],
    }),
    async close() {
      if (isClosed) return;
      isClosed = true;
      clearInterval(ticker);
      playEvents.ended("stopped");
      await session.close();
      // Whatever the server does not take in time stays in the outbox for the next run.
      await outbox.drain(options.eventsDrainMs ?? 10_000);
      await outbox.close();
      if (eventsSocket !== socket) await eventsSocket.close();
      await socket.close();
    },
  };
}

/** Frees node-datachannel's threads so a process can exit. */
export function releaseWebRtc(): void {
  nodeDataChannel.cleanup();
}
