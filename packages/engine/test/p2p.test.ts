// Peer-assisted fetching with fake peers in Node: urgency order, slow peers, the server window, low-buffer
// fallback, upload stop, corrupted pieces, cancellation, 2-hop discovery and the wire's bounds checks.
import { describe, expect, it, vi } from "vitest";
import {
  ByteAccounting,
  MemoryPieceStore,
  PeerOverlay,
  PieceFetcher,
  decodeFrame,
  encodeFrame,
  trackKey,
  type FetchOptions,
  type PeerPieceSource,
  type PeerPool,
  type PieceSource,
  WebRtcTransport,
  type RtcPeerConnectionConstructor,
  type TrackerClient,
  type TrackRef,
} from "@soundmesh/engine";
import type { AnnounceResult } from "@soundmesh/protocol";
import { pieceSize, syntheticTrack } from "./synthetic-track";
import { FakeNetwork } from "./fake-network";

const { pieces, manifest } = syntheticTrack(20);
const track: TrackRef = { trackId: "t1", profile: "opus96", manifest };
const key = trackKey(track);
const peerName = (n: number) => `p_${String(n).padStart(16, "0")}`;

interface Call {
  index: number;
  urgencyMs: number;
  atMs: number;
  signal: AbortSignal;
}

/** A source that answers after `delayMs` (never, when silent), optionally with corrupted bytes. */
class FakeSource implements PeerPieceSource {
  readonly calls: Call[] = [];
  outstandingBytes = 0;
  constructor(
    readonly kind: "peer" | "server",
    readonly id: string,
    public delayMs = 5,
    public behaviour: "ok" | "silent" | "corrupt" = "ok",
  ) {}
  fetch(_track: TrackRef, index: number, options: FetchOptions): Promise<Uint8Array> {
    this.calls.push({ index, urgencyMs: options.urgencyMs, atMs: performance.now(), signal: options.signal });
    return new Promise((resolve, reject) => {
      const timer =
        this.behaviour === "silent"
          ? undefined
          : setTimeout(() => {
              const bytes = pieces[index]!.slice();
              if (this.behaviour === "corrupt") bytes[0] = 0xff;
              resolve(bytes);
            }, this.delayMs);
      options.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new Error("aborted"));
      });
    });
  }
}

class FakePool implements PeerPool {
  wanted = 0;
  constructor(readonly peers: FakeSource[]) {}
  holders(): PeerPieceSource[] {
    return this.peers;
  }
  want(): Promise<void> {
    this.wanted += 1;
    return Promise.resolve();
  }
}

function fetcherWith(options: {
  peers: FakeSource[];
  server?: FakeSource;
  bufferedAheadMs?: number;
  attemptTimeoutMs?: number;
  serverWindowMs?: number;
  onBadPiece?: (source: PieceSource) => void;
}) {
  const accounting = new ByteAccounting();
  const server = options.server ?? new FakeSource("server", "server");
  const buffer = { aheadMs: options.bufferedAheadMs ?? 60_000 };
  const fetcher = new PieceFetcher({
    sources: [server],
    store: new MemoryPieceStore(),
    accounting,
    peers: new FakePool(options.peers),
    bufferedAheadMs: () => buffer.aheadMs,
    lowBufferMs: 5_000,
    serverWindowMs: options.serverWindowMs ?? 15_000,
    attemptTimeoutMs: options.attemptTimeoutMs ?? 2_000,
    backoffMs: 10,
    ...(options.onBadPiece ? { onBadPiece: options.onBadPiece } : {}),
  });
  return { fetcher, accounting, server, buffer };
}

const live = () => new AbortController().signal;

describe("fetching from peers", () => {
  it("asks the peer with the least expected download time, saying how urgent the piece is", async () => {
    const busy = new FakeSource("peer", peerName(1));
    busy.outstandingBytes = 50 * pieceSize;
    const idle = new FakeSource("peer", peerName(2));
    const { fetcher, accounting, server } = fetcherWith({ peers: [busy, idle] });
    const bytes = await fetcher.fetch(track, 5, 42_000, live());
    expect(bytes).toEqual(pieces[5]);
    expect(idle.calls).toMatchObject([{ index: 5 }]);
    expect(idle.calls[0]!.urgencyMs).toBeGreaterThan(41_000);
    expect(idle.calls[0]!.urgencyMs).toBeLessThanOrEqual(42_000);
    expect(busy.calls).toEqual([]);
    expect(server.calls).toEqual([]);
    expect(accounting.snapshot().bySource).toMatchObject({ peer: pieceSize, server: 0 });
  });

  it("re-requests from another peer when one is silent past the attempt timeout, and cancels the first", async () => {
    const silent = new FakeSource("peer", peerName(1), 5, "silent");
    const slowButSure = new FakeSource("peer", peerName(2), 5);
    slowButSure.outstandingBytes = 10 * pieceSize; // ranked second
    const { fetcher, server } = fetcherWith({ peers: [silent, slowButSure], attemptTimeoutMs: 100 });
    const started = performance.now();
    expect(await fetcher.fetch(track, 3, 40_000, live())).toEqual(pieces[3]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(silent.calls[0]!.signal.aborted).toBe(true);
    expect(slowButSure.calls).toHaveLength(1);
    expect(server.calls).toEqual([]);
  });

  it("keeps the server to pieces due within its window while peers hold the track", async () => {
    const silent = new FakeSource("peer", peerName(1), 5, "silent");
    const { fetcher, server, accounting } = fetcherWith({
      peers: [silent],
      attemptTimeoutMs: 50,
      serverWindowMs: 300,
    });
    const started = performance.now();
    expect(await fetcher.fetch(track, 7, 700, live())).toEqual(pieces[7]);
    expect(server.calls).toHaveLength(1);
    // Asked only once the piece was due within 300 ms: ~400 ms after it was scheduled 700 ms ahead.
    expect(server.calls[0]!.atMs - started).toBeGreaterThanOrEqual(380);
    expect(accounting.snapshot().bySource.server).toBe(pieceSize);

    const working = new FakeSource("peer", peerName(2), 20);
    const healthy = fetcherWith({ peers: [working], serverWindowMs: 15_000 });
    await healthy.fetcher.fetch(track, 1, 1_000, live());
    expect(healthy.server.calls).toEqual([]);
  });

  it("uses the server alongside peers when the buffer runs low, and takes whichever answers first", async () => {
    const slowPeer = new FakeSource("peer", peerName(1), 400);
    const { fetcher, server, accounting } = fetcherWith({ peers: [slowPeer], bufferedAheadMs: 1_000 });
    expect(await fetcher.fetch(track, 2, 1_000, live())).toEqual(pieces[2]);
    expect(server.calls).toHaveLength(1);
    expect(slowPeer.calls).toHaveLength(1);
    expect(slowPeer.calls[0]!.signal.aborted).toBe(true);
    expect(accounting.snapshot().bySource).toMatchObject({ server: pieceSize, peer: 0 });
  });

  it("rejects a corrupted piece, reports its peer and gets the piece elsewhere", async () => {
    const liar = new FakeSource("peer", peerName(1), 5, "corrupt");
    const honest = new FakeSource("peer", peerName(2), 5);
    honest.outstandingBytes = pieceSize;
    const reported: string[] = [];
    const { fetcher, accounting } = fetcherWith({
      peers: [liar, honest],
      onBadPiece: (source) => reported.push(source.id),
    });
    expect(await fetcher.fetch(track, 4, 30_000, live())).toEqual(pieces[4]);
    expect(reported).toEqual([peerName(1)]);
    expect(accounting.snapshot()).toMatchObject({ rejectedPieces: 1, bySource: { peer: pieceSize } });
  });

  it("while a lookup runs, sends only what is needed at once to the server; later pieces wait for peers", async () => {
    const found = new FakeSource("peer", peerName(1));
    const holders: FakeSource[] = [];
    const server = new FakeSource("server", "server");
    const accounting = new ByteAccounting();
    const lookup = new Promise<void>((resolve) =>
      setTimeout(() => {
        holders.push(found);
        resolve();
      }, 200),
    );
    const fetcher = new PieceFetcher({
      sources: [server],
      accounting,
      peers: { holders: () => holders, want: () => lookup },
      bufferedAheadMs: () => 0,
    });
    await Promise.all([fetcher.fetch(track, 0, 0, live()), fetcher.fetch(track, 6, 30_000, live())]);
    expect(server.calls.map((c) => c.index)).toEqual([0]);
    expect(found.calls.map((c) => c.index)).toEqual([6]);
  });

  it("starts no peer lookup before the track's first piece has arrived, so handshakes never delay the start", async () => {
    const server = new FakeSource("server", "server", 150);
    const pool = new FakePool([]);
    const fetcher = new PieceFetcher({
      sources: [server],
      accounting: new ByteAccounting(),
      peers: pool,
      bufferedAheadMs: () => 0,
      lookupWaitMs: 1_000,
    });
    const first = fetcher.fetch(track, 0, 0, live());
    const later = fetcher.fetch(track, 4, 20_000, live());
    await vi.waitFor(() => expect(server.calls).toHaveLength(1));
    expect(pool.wanted).toBe(0);
    await first;
    await vi.waitFor(() => expect(pool.wanted).toBeGreaterThan(0));
    await later;
    // The later piece waited for the first and for the lookup, then (no peer found) went to the server.
    expect(server.calls.map((c) => c.index)).toEqual([0, 4]);
  });

  it("stops at once when the track changes, cancelling the outstanding request", async () => {
    const slow = new FakeSource("peer", peerName(1), 5_000);
    const { fetcher } = fetcherWith({ peers: [slow] });
    const change = new AbortController();
    const pending = fetcher.fetch(track, 9, 50_000, change.signal);
    await vi.waitFor(() => expect(slow.calls).toHaveLength(1));
    change.abort(new Error("track changed"));
    await expect(pending).rejects.toThrow(/track changed|aborted/);
    expect(slow.calls[0]!.signal.aborted).toBe(true);
  });
});

/** A tracker that records reports and answers queries from a fixed table. */
class FakeTracker implements TrackerClient {
  readonly announced: Array<{ peerId: string; complete: boolean }> = [];
  readonly reports: Array<{ reporter: string; peerId: string; pieceIndex: number }> = [];
  /** Renditions the session fetched from the server, when the tracker checks (as the real one does). */
  fetched: Set<string> | undefined;
  constructor(
    private readonly selfId: string,
    private readonly table: Map<string, string[]>,
  ) {}
  announce(
    holdings: Array<{ trackId: string; profile: string; complete: boolean }>,
  ): Promise<AnnounceResult> {
    const result: AnnounceResult = { accepted: 0, unfetched: [], overCap: 0 };
    for (const h of holdings) {
      if (this.fetched && !this.fetched.has(`${h.trackId}.${h.profile}`)) {
        result.unfetched.push({ trackId: h.trackId, profile: h.profile });
        continue;
      }
      this.announced.push({ peerId: this.selfId, complete: h.complete });
      const list = this.table.get(`${h.trackId}.${h.profile}`) ?? [];
      if (!list.includes(this.selfId)) list.unshift(this.selfId);
      this.table.set(`${h.trackId}.${h.profile}`, list);
      result.accepted += 1;
    }
    return Promise.resolve(result);
  }
  query(rendition: { trackId: string; profile: string }) {
    const list = this.table.get(`${rendition.trackId}.${rendition.profile}`) ?? [];
    return Promise.resolve(
      list.filter((p) => p !== this.selfId).map((peerId) => ({ peerId, sameNetwork: false, complete: true })),
    );
  }
  withdraw(renditions: Array<{ trackId: string; profile: string }>): Promise<void> {
    for (const r of renditions) {
      const list = this.table.get(`${r.trackId}.${r.profile}`) ?? [];
      this.table.set(
        `${r.trackId}.${r.profile}`,
        list.filter((p) => p !== this.selfId),
      );
    }
    return Promise.resolve();
  }
  reportBadPeer(peerId: string, _rendition: unknown, pieceIndex: number): Promise<void> {
    this.reports.push({ reporter: this.selfId, peerId, pieceIndex });
    return Promise.resolve();
  }
}

function swarm() {
  const network = new FakeNetwork();
  const table = new Map<string, string[]>();
  const make = (n: number, options: { bufferedAheadMs?: () => number; withTracker?: boolean } = {}) => {
    const selfId = peerName(n);
    const store = new MemoryPieceStore();
    const tracker = new FakeTracker(selfId, options.withTracker === false ? new Map() : table);
    const overlay = new PeerOverlay({
      selfId,
      transport: network.transport(selfId),
      tracker,
      store,
      queryTimeoutMs: 200,
      ...(options.bufferedAheadMs ? { bufferedAheadMs: options.bufferedAheadMs } : {}),
    });
    const accounting = new ByteAccounting();
    const server = new FakeSource("server", "server");
    const fetcher = new PieceFetcher({
      sources: [server],
      store,
      accounting,
      peers: overlay,
      attemptTimeoutMs: 300,
      backoffMs: 10,
      bufferedAheadMs: () => 60_000,
      onStored: (t, index) => overlay.stored(t, index),
      onBadPiece: (source, t, index) => {
        if (source.kind === "peer") overlay.reportBadPiece(source.id, t, index);
      },
    });
    return { selfId, store, tracker, overlay, accounting, server, fetcher };
  };
  return { network, table, make };
}

async function seed(peer: { store: MemoryPieceStore; overlay: PeerOverlay }, corruptIndex?: number) {
  for (const [index, bytes] of pieces.entries()) {
    const stored = bytes.slice();
    if (index === corruptIndex) stored[10] = 0;
    await peer.store.put(key, index, stored);
    peer.overlay.stored(track, index);
  }
}

describe("the overlay and uploads", () => {
  it("finds a holder through the tracker, downloads from it and counts the bytes as peer bytes", async () => {
    const { make } = swarm();
    const holder = make(1);
    const listener = make(2);
    await seed(holder);
    await listener.overlay.want(track);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(1));
    for (let index = 0; index < 5; index++) await listener.fetcher.fetch(track, index, 20_000, live());
    expect(listener.accounting.snapshot().bySource).toMatchObject({ peer: 5 * pieceSize, server: 0 });
    expect(holder.overlay.stats()).toMatchObject({ piecesUploaded: 5, neighbours: 1 });
    expect(listener.tracker.announced[0]).toEqual({ peerId: listener.selfId, complete: false });
    listener.overlay.close();
    holder.overlay.close();
  });

  it("serves the most urgent queued request first, a few at a time", async () => {
    const { make } = swarm();
    const holder = make(1);
    const listener = make(2);
    await seed(holder);
    // One upload at a time at 5 kB/s: each 1 kB piece holds the slot for ~200 ms, so later requests queue.
    holder.overlay.configureUploads({ maxConcurrent: 1, bytesPerSecond: 5_000 });
    await listener.overlay.want(track);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(1));
    const neighbour = listener.overlay.holders(track)[0]!;
    const order: number[] = [];
    const started = performance.now();
    const urgencies = [9_000, 8_000, 500, 4_000];
    await Promise.all(
      urgencies.map((urgencyMs, index) =>
        neighbour.fetch(track, index, { urgencyMs, signal: live() }).then(() => order.push(index)),
      ),
    );
    // The first arrives alone and takes the slot; the rest wait and go most urgent first.
    expect(order).toEqual([0, 2, 3, 1]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(500);
    listener.overlay.close();
    holder.overlay.close();
  });

  it("stops uploading while its own buffer is very low, and when the user turns uploads off", async () => {
    const { make } = swarm();
    const holderBuffer = { aheadMs: 500 };
    const holder = make(1, { bufferedAheadMs: () => holderBuffer.aheadMs });
    const listener = make(2);
    await seed(holder);
    await listener.overlay.want(track);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(1));
    const neighbour = listener.overlay.holders(track)[0]!;
    await expect(neighbour.fetch(track, 0, { urgencyMs: 1_000, signal: live() })).rejects.toThrow(/busy/);
    expect(holder.overlay.stats()).toMatchObject({
      isUploading: false,
      piecesUploaded: 0,
      uploadsRefused: 1,
    });
    holderBuffer.aheadMs = 30_000;
    expect(await neighbour.fetch(track, 0, { urgencyMs: 1_000, signal: live() })).toEqual(pieces[0]);
    holder.overlay.configureUploads({ enabled: false });
    await expect(neighbour.fetch(track, 1, { urgencyMs: 1_000, signal: live() })).rejects.toThrow(/busy/);
    // Refused pieces still arrive: from the server.
    expect(await listener.fetcher.fetch(track, 1, 1_000, live())).toEqual(pieces[1]);
    expect(listener.server.calls.map((c) => c.index)).toEqual([1]);
    listener.overlay.close();
    holder.overlay.close();
  });

  it("never keeps a corrupted piece: the peer is reported, disconnected and the piece comes from the server", async () => {
    const { make } = swarm();
    const liar = make(1);
    const listener = make(2);
    await seed(liar, 3);
    await listener.overlay.want(track);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(1));
    for (let index = 0; index < 3; index++) await listener.fetcher.fetch(track, index, 20_000, live());
    expect(await listener.fetcher.fetch(track, 3, 1_000, live())).toEqual(pieces[3]);
    expect(await listener.store.get(key, 3)).toEqual(pieces[3]);
    expect(listener.tracker.reports).toEqual([
      { reporter: listener.selfId, peerId: liar.selfId, pieceIndex: 3 },
    ]);
    expect(listener.overlay.stats()).toMatchObject({ neighbours: 0, badPeers: 1 });
    expect(listener.accounting.snapshot()).toMatchObject({
      rejectedPieces: 1,
      bySource: { peer: 3 * pieceSize, server: pieceSize },
    });
    // A banned peer is not taken back, even when it calls.
    await liar.overlay.want(track);
    await listener.overlay.want({ ...track });
    expect(listener.overlay.neighbours.has(liar.selfId)).toBe(false);
    listener.overlay.close();
    liar.overlay.close();
  });

  it("asks a partial holder for the pieces it has, not again for one it said it lacks", async () => {
    const { make } = swarm();
    const holder = make(1);
    const listener = make(2);
    for (let index = 0; index < 5; index++) {
      await holder.store.put(key, index, pieces[index]!);
      holder.overlay.stored(track, index);
    }
    await listener.overlay.want(track);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(1));
    const neighbour = listener.overlay.holders(track)[0]!;
    expect(await listener.fetcher.fetch(track, 6, 1_000, live())).toEqual(pieces[6]);
    expect(neighbour.lacks(key, 6)).toBe(true);
    expect(await listener.fetcher.fetch(track, 2, 1_000, live())).toEqual(pieces[2]);
    expect(listener.accounting.snapshot().bySource).toMatchObject({ peer: pieceSize, server: pieceSize });
    expect(holder.overlay.stats().piecesUploaded).toBe(1);
    listener.overlay.close();
    holder.overlay.close();
  });

  it("withdraws a track the cache evicted, from the tracker and from neighbours", async () => {
    const { make, table } = swarm();
    const holder = make(1);
    const listener = make(2);
    await seed(holder);
    await listener.overlay.want(track);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(1));
    holder.overlay.evicted(key);
    await vi.waitFor(() => expect(listener.overlay.holders(track)).toHaveLength(0));
    expect(table.get(key)).not.toContain(holder.selfId);
    listener.overlay.close();
    holder.overlay.close();
  });

  it("finds a holder two hops away by asking its neighbours when the tracker knows nobody", async () => {
    const { make } = swarm();
    const holder = make(1, { withTracker: false });
    const middle = make(2, { withTracker: false });
    const asker = make(3, { withTracker: false });
    await seed(holder);
    // holder — middle — asker, made by hand: the tracker tables are empty.
    const connectVia = async (from: ReturnType<typeof make>, to: ReturnType<typeof make>) => {
      const tracker = from.tracker as unknown as { query: TrackerClient["query"] };
      tracker.query = () => Promise.resolve([{ peerId: to.selfId, sameNetwork: true, complete: true }]);
      await from.overlay.want({ ...track, trackId: `x${to.selfId.slice(-1)}` });
      await vi.waitFor(() => expect(from.overlay.neighbours.has(to.selfId)).toBe(true));
      tracker.query = () => Promise.resolve([]);
    };
    await connectVia(middle, holder);
    await connectVia(asker, middle);
    await vi.waitFor(() =>
      expect(middle.overlay.neighbours.get(holder.selfId)?.holdings.has(key)).toBe(true),
    );
    await asker.overlay.want(track);
    await vi.waitFor(() => expect(asker.overlay.holders(track).map((n) => n.id)).toContain(holder.selfId));
    expect(await asker.fetcher.fetch(track, 0, 20_000, live())).toEqual(pieces[0]);
    expect(asker.accounting.snapshot().bySource.peer).toBe(pieceSize);
    for (const peer of [holder, middle, asker]) peer.overlay.close();
  });

  it("keeps at most the configured number of neighbours, evicting the least useful idle one", async () => {
    const network = new FakeNetwork();
    const next = { peerId: peerName(1) };
    const hubTracker: TrackerClient = {
      announce: () => Promise.resolve({ accepted: 0, unfetched: [], overCap: 0 }),
      withdraw: () => Promise.resolve(),
      reportBadPeer: () => Promise.resolve(),
      query: () => Promise.resolve([{ peerId: next.peerId, sameNetwork: false, complete: true }]),
    };
    const hub = new PeerOverlay({
      selfId: peerName(0),
      transport: network.transport(peerName(0)),
      tracker: hubTracker,
      store: new MemoryPieceStore(),
      maxNeighbours: 2,
    });
    const others = [1, 2, 3, 4].map(
      (n) =>
        new PeerOverlay({
          selfId: peerName(n),
          transport: network.transport(peerName(n)),
          tracker: new FakeTracker(peerName(n), new Map()),
          store: new MemoryPieceStore(),
        }),
    );
    for (const n of [1, 2, 3, 4]) {
      next.peerId = peerName(n);
      // Each track played brings a new neighbour; the one holding what we play now is the one kept.
      await hub.want({ ...track, trackId: `t${n}` });
      await vi.waitFor(() => expect(hub.neighbours.has(peerName(n))).toBe(true));
      expect(hub.neighbours.size).toBeLessThanOrEqual(2);
    }
    expect([...hub.neighbours.keys()].sort()).toEqual([peerName(3), peerName(4)]);
    for (const overlay of [hub, ...others]) overlay.close();
  });
});

describe("announcing what the session fetched", () => {
  const other: TrackRef = { ...track, trackId: "t2" };

  function overlayWith(revalidate?: (rendition: { trackId: string; profile: string }) => Promise<boolean>) {
    const tracker = new FakeTracker(peerName(1), new Map());
    tracker.fetched = new Set();
    const overlay = new PeerOverlay({
      selfId: peerName(1),
      transport: new FakeNetwork().transport(peerName(1)),
      tracker,
      store: new MemoryPieceStore(),
      ...(revalidate ? { revalidate } : {}),
    });
    return { tracker, overlay };
  }

  it("announces a track cached in an earlier session once the server confirms its manifest, and no other", async () => {
    const asked: string[] = [];
    const { tracker, overlay } = overlayWith((rendition) => {
      asked.push(trackKey(rendition));
      // The server answers 304 for t1 (and so counts it as fetched) but has remade t2 since.
      if (rendition.trackId !== "t1") return Promise.resolve(false);
      tracker.fetched!.add(trackKey(rendition));
      return Promise.resolve(true);
    });
    await overlay.announceHeld([
      { track, complete: true },
      { track: other, complete: false },
    ]);
    expect(asked.sort()).toEqual([key, trackKey(other)]);
    expect(tracker.announced).toEqual([{ peerId: peerName(1), complete: true }]);
    overlay.close();
  });

  it("announces a track fetched in this session at once, and leaves unconfirmed ones unannounced", async () => {
    const { tracker, overlay } = overlayWith();
    tracker.fetched!.add(key);
    overlay.stored(track, 0);
    overlay.stored(other, 0);
    await vi.waitFor(() => expect(tracker.announced).toHaveLength(1));
    await overlay.announceHeld([{ track: other, complete: true }]);
    expect(tracker.announced).toEqual([{ peerId: peerName(1), complete: false }]);
    overlay.close();
  });
});

/** An RTCPeerConnection that records what the transport hands it. */
function recordingPeerConnection() {
  const handed = {
    descriptions: [] as string[],
    candidates: [] as string[],
    configurations: [] as Array<{ iceServers?: unknown }>,
  };
  class RecordingPeerConnection {
    constructor(configuration: { iceServers?: unknown }) {
      handed.configurations.push(configuration);
    }
    localDescription = { type: "answer", sdp: "v=0\r\n" };
    connectionState = "new";
    onicecandidate: unknown = null;
    onconnectionstatechange: unknown = null;
    ondatachannel: unknown = null;
    setRemoteDescription(description: { sdp: string }) {
      handed.descriptions.push(description.sdp);
      return Promise.resolve();
    }
    addIceCandidate(candidate: { candidate: string }) {
      handed.candidates.push(candidate.candidate);
      return Promise.resolve();
    }
    createAnswer() {
      return Promise.resolve({ type: "answer", sdp: "v=0\r\n" });
    }
    setLocalDescription() {
      return Promise.resolve();
    }
    close() {}
  }
  return { handed, RTCPeerConnection: RecordingPeerConnection as unknown as RtcPeerConnectionConstructor };
}

describe("ICE servers", () => {
  it("makes each new peer connection with the servers as they are then (TURN credentials renewed meanwhile)", async () => {
    const { handed, RTCPeerConnection } = recordingPeerConnection();
    let servers = [{ urls: ["turn:198.18.0.1:3478"], username: "100:p_a", credential: "first" }];
    const transport = new WebRtcTransport({
      selfId: peerName(1),
      signaler: { send: () => Promise.resolve() },
      RTCPeerConnection,
      iceServers: () => servers,
    });
    transport.receive(peerName(2), { type: "offer", sdp: "v=0\r\n" });
    await vi.waitFor(() => expect(handed.configurations).toHaveLength(1));
    servers = [{ urls: ["turn:198.18.0.1:3478"], username: "200:p_a", credential: "second" }];
    transport.receive(peerName(3), { type: "offer", sdp: "v=0\r\n" });
    await vi.waitFor(() => expect(handed.configurations).toHaveLength(2));
    expect(handed.configurations.map((configuration) => configuration.iceServers)).toEqual([
      [{ urls: ["turn:198.18.0.1:3478"], username: "100:p_a", credential: "first" }],
      [{ urls: ["turn:198.18.0.1:3478"], username: "200:p_a", credential: "second" }],
    ]);
    transport.close();
  });
});

describe("signals on arrival", () => {
  it("hands the ICE agent no loopback, link-local, multicast or host-name candidate, in an offer or alone", async () => {
    const { handed, RTCPeerConnection } = recordingPeerConnection();
    const sent: string[] = [];
    const transport = new WebRtcTransport({
      selfId: peerName(1),
      signaler: {
        send: (_to, data) => {
          sent.push(data.type);
          return Promise.resolve();
        },
      },
      RTCPeerConnection,
    });
    const line = (address: string, port = 5000) => `candidate:1 1 udp 2122260223 ${address} ${port} typ host`;
    const mdns = "3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b.local";
    const sdp = [
      "v=0",
      "o=- 1 2 IN IP4 127.0.0.1",
      "c=IN IP4 169.254.1.1",
      `a=${line("127.0.0.1", 6379)}`,
      `a=${line("::1")}`,
      `a=${line("169.254.1.1")}`,
      `a=${line("224.0.0.251")}`,
      `a=${line("redis.internal")}`,
      `a=${line(mdns)}`,
      `a=${line("192.168.1.20")}`,
      "",
    ].join("\r\n");
    transport.receive(peerName(2), { type: "offer", sdp });
    await vi.waitFor(() => expect(sent).toContain("answer"));
    expect(handed.descriptions).toEqual([
      [
        "v=0",
        "o=- 1 2 IN IP4 0.0.0.0",
        "c=IN IP4 0.0.0.0",
        `a=${line(mdns)}`,
        `a=${line("192.168.1.20")}`,
        "",
      ].join("\r\n"),
    ]);
    for (const address of ["127.0.0.2", "0.0.0.0", "fe80::1", "ff02::fb", "evil.example.com", "10.0.0.7"])
      transport.receive(peerName(2), {
        type: "candidate",
        candidate: { candidate: line(address), sdpMid: "0", sdpMLineIndex: 0 },
      });
    await vi.waitFor(() => expect(handed.candidates).toEqual([line("10.0.0.7")]));
    transport.close();
  });
});

describe("the peer wire", () => {
  it("round-trips every frame and refuses malformed or oversized ones", () => {
    const request = { type: "request", requestId: 7, key, index: 3, urgencyMs: -250 } as const;
    expect(decodeFrame(encodeFrame(request))).toEqual(request);
    expect(decodeFrame(encodeFrame({ type: "piece", requestId: 1, bytes: pieces[0]! }))).toMatchObject({
      type: "piece",
      bytes: pieces[0],
    });
    expect(decodeFrame(encodeFrame({ type: "control", message: { t: "have", keys: [key] } }))).toEqual({
      type: "control",
      message: { t: "have", keys: [key] },
    });
    const bad = [
      new Uint8Array([]),
      new Uint8Array([1, 0, 0]),
      new Uint8Array([99, 0, 0, 0, 1]),
      encodeFrame({ ...request, key: "../../etc/passwd" }),
      new Uint8Array([...encodeFrame(request), 0]),
      encodeFrame({ type: "control", message: { t: "whoHas", queryId: 1, key: "not a key" } as never }),
      new Uint8Array([6, ...new TextEncoder().encode('{"t":"connect","host":"10.0.0.1","port":22}')]),
      new Uint8Array(5 + 1024 * 1024 + 1).fill(2, 0, 1),
    ];
    for (const frame of bad) expect(() => decodeFrame(frame), String(frame.slice(0, 8))).toThrow();
  });
});
