// The composed engine client: one object built from options, whose fetcher goes straight to the server while no
// P2P session is open, and whose sessions open and close on the pool the fetcher was built with.
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  EngineClient,
  MemoryPieceStore,
  type MediaSink,
  type RtcPeerConnectionConstructor,
  type StatsReport,
  type TrackRef,
} from "@soundmesh/engine";
import { streamPaths } from "@soundmesh/protocol";
import { syntheticTrack } from "./synthetic-track";

const { pieces, manifest } = syntheticTrack(6);
const track: TrackRef = { trackId: manifest.trackId, profile: manifest.profile, manifest };

/** The stream routes' piece answers, from memory; records each path asked. */
function pieceServer() {
  const asked: string[] = [];
  const fetchPiece = (input: string): Promise<Response> => {
    const path = input;
    asked.push(path);
    const index = pieces.findIndex((_, i) => path === streamPaths.piece(track.trackId, track.profile, i));
    if (index < 0) return Promise.resolve(new Response("{}", { status: 404 }));
    return Promise.resolve(new Response(pieces[index]!.slice()));
  };
  return { asked, fetch: fetchPiece as unknown as typeof fetch };
}

const silentSink: MediaSink = {
  open: () => Promise.resolve(),
  append: () => Promise.resolve(),
  setTimestampOffset: () => Promise.resolve(),
  remove: () => Promise.resolve(),
  abort: () => Promise.resolve(),
  buffered: () => [],
  currentTime: () => 0,
  seek: () => undefined,
  play: () => Promise.resolve(),
  pause: () => undefined,
  isPaused: () => true,
  setVolume: () => undefined,
  end: () => undefined,
};

/** No peer is ever contacted in these tests: constructing a connection is a failure. */
const NoConnections = class {
  constructor() {
    throw new Error("no peer connection expected");
  }
} as unknown as RtcPeerConnectionConstructor;

function engineWithP2p(fetchFn: typeof fetch, onError: (error: unknown) => void = () => undefined) {
  return new EngineClient({
    baseUrl: "",
    fetch: fetchFn,
    store: new MemoryPieceStore(),
    sink: silentSink,
    profile: "opus96",
    bufferedAheadMs: () => Infinity,
    p2p: { RTCPeerConnection: NoConnections },
    onError,
  });
}

const macrotask = () => new Promise((resolve) => setImmediate(resolve));

describe("engine client", () => {
  afterEach(() => void vi.useRealTimers());

  it("goes to the server at once for a piece far ahead while no P2P session is open, waiting on no lookup", async () => {
    const server = pieceServer();
    const engine = engineWithP2p(server.fetch);
    expect(engine.peers.isOnline).toBe(false);
    // Timers stand still: a fetch that waited for a peer lookup (or for the first piece) would never reach the server.
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval"] });
    const fetched = engine.fetcher.fetch(track, 4, 60_000, new AbortController().signal);
    for (let round = 0; round < 50 && server.asked.length === 0; round++) await macrotask();
    expect(server.asked).toEqual([streamPaths.piece(track.trackId, track.profile, 4)]);
    vi.useRealTimers();
    expect([...(await fetched)]).toEqual([...pieces[4]!]);
    expect(engine.accounting.snapshot().bySource.server).toBe(pieces[4]!.byteLength);
  });

  it("opens a session's overlay on the pool the fetcher was built with, and closing it reports and goes offline", async () => {
    const server = pieceServer();
    const errors: unknown[] = [];
    const engine = engineWithP2p(server.fetch, (error) => void errors.push(error));
    await engine.fetcher.fetch(track, 0, 1_000, new AbortController().signal);
    const reports: StatsReport[] = [];
    const announced: number[] = [];
    const session = engine.openSession(
      {
        peerId: "p_0000000000000001",
        signaler: { send: () => Promise.resolve() },
        listen: () => undefined,
        tracker: {
          announce: (holdings) => {
            announced.push(holdings.length);
            return Promise.resolve({ accepted: holdings.length, unfetched: [], overCap: 0 });
          },
          withdraw: () => Promise.resolve(),
          query: () => Promise.resolve([]),
          reportBadPeer: () => Promise.resolve(),
        },
        reportStats: (report) => {
          reports.push(report);
          return Promise.resolve();
        },
      },
      { stutters: () => 2 },
    );
    expect(engine.peers.isOnline).toBe(true);
    expect(engine.peers.stats()).toMatchObject({ neighbours: 0, bytesUploaded: 0 });
    // A piece stored while the session is open is offered to others through the same pool.
    await engine.fetcher.fetch(track, 1, 1_000, new AbortController().signal);
    await vi.waitFor(() => expect(announced.length).toBeGreaterThan(0));
    await session.close();
    expect(engine.peers.isOnline).toBe(false);
    expect(engine.peers.stats()).toBeUndefined();
    expect(reports).toEqual([
      {
        cacheBytes: 0,
        peerBytes: 0,
        serverBytes: 2 * pieces[0]!.byteLength,
        uploadedBytes: 0,
        neighbours: 0,
        stutters: 2,
      },
    ]);
    expect(errors).toEqual([]);
  });

  it("reports byte counters over a session without P2P, and a new session replaces the open one", async () => {
    const server = pieceServer();
    const engine = new EngineClient({
      baseUrl: "",
      fetch: server.fetch,
      store: new MemoryPieceStore(),
      sink: silentSink,
      profile: "opus96",
      bufferedAheadMs: () => Infinity,
    });
    const reports: string[] = [];
    const open = (name: string) =>
      engine.openSession({
        peerId: name,
        signaler: { send: () => Promise.reject(new Error("no signalling without P2P")) },
        listen: () => undefined,
        tracker: {
          announce: () => Promise.reject(new Error("no tracker without P2P")),
          withdraw: () => Promise.resolve(),
          query: () => Promise.resolve([]),
          reportBadPeer: () => Promise.resolve(),
        },
        reportStats: () => {
          reports.push(name);
          return Promise.resolve();
        },
      });
    open("first");
    expect(engine.peers.isOnline).toBe(false);
    await engine.fetcher.fetch(track, 2, 1_000, new AbortController().signal);
    const second = open("second");
    await vi.waitFor(() => expect(reports).toEqual(["first"]));
    await engine.fetcher.fetch(track, 3, 1_000, new AbortController().signal);
    await second.close();
    expect(reports).toEqual(["first", "second"]);
  });
});
