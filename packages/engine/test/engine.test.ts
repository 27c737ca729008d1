// The engine's decisions in Node: scheduling by urgency, seeking, the start rule, byte accounting, LRU, recovery.
import { describe, expect, it, vi } from "vitest";
import {
  ByteAccounting,
  LruIndex,
  MemoryPieceStore,
  PieceFetcher,
  PlayQueue,
  ServerSource,
  pinTrack,
  unpinTrack,
  defaultCacheCap,
  pieceAtTime,
  schedulePieces,
  shouldStart,
  type PieceSource,
  type TrackRef,
} from "@soundmesh/engine";
import { pieceSize, syntheticTrack } from "./synthetic-track";

const { pieces, manifest } = syntheticTrack(10, {
  seekIndex: [
    { timeMs: 0, byteOffset: 0 },
    { timeMs: 4_000, byteOffset: 3_500 },
    { timeMs: 8_000, byteOffset: 8_200 },
  ],
});
const track: TrackRef = { trackId: "t1", profile: "opus96", manifest };

describe("piece scheduler", () => {
  it("asks for pieces from the playhead on, most urgent first, within the in-flight limit", () => {
    const requests = schedulePieces({
      manifest,
      playheadMs: 0,
      have: new Set([0]),
      inFlight: new Set([1]),
      maxInFlight: 4,
      lookAheadMs: Infinity,
    });
    expect(requests.map((r) => r.index)).toEqual([2, 3, 4]);
    expect(requests.map((r) => r.urgencyMs)).toEqual(
      [...requests.map((r) => r.urgencyMs)].sort((a, b) => a - b),
    );
    expect(requests[0]!.urgencyMs).toBeGreaterThan(0);
  });

  it("stops at the look-ahead window", () => {
    const requests = schedulePieces({
      manifest,
      playheadMs: 0,
      have: new Set(),
      inFlight: new Set(),
      maxInFlight: 10,
      lookAheadMs: 3_000,
    });
    expect(requests.every((r) => r.urgencyMs <= 3_000)).toBe(true);
    expect(requests.length).toBeLessThan(10);
  });

  it("on a seek, asks first for the piece that holds the target's cluster", () => {
    expect(pieceAtTime(manifest, 5_000)).toBe(3); // cluster at 4 s starts at byte 3,500
    expect(pieceAtTime(manifest, 9_000)).toBe(8);
    const requests = schedulePieces({
      manifest,
      playheadMs: 5_000,
      have: new Set([0, 1, 2]),
      inFlight: new Set(),
      maxInFlight: 3,
      lookAheadMs: Infinity,
    });
    expect(requests[0]).toMatchObject({ index: 3 });
    expect(requests[0]!.urgencyMs).toBeLessThanOrEqual(0);
  });
});

describe("start decision", () => {
  const base = { remainingMs: 60_000, remainingBytes: 960_000, minimumBufferedMs: 500, safety: 0.8 };
  it("starts at once when the connection outruns the bitrate", () => {
    expect(shouldStart({ ...base, bufferedAheadMs: 600, throughputBytesPerSecond: 1_000_000 })).toBe(true);
  });
  it("waits below the minimum buffer however fast the connection", () => {
    expect(shouldStart({ ...base, bufferedAheadMs: 100, throughputBytesPerSecond: 1e9 })).toBe(false);
  });
  it("waits on a connection slower than the bitrate until the buffer covers the shortfall", () => {
    // 16 kB/s of audio over 12.8 kB/s (after safety): the rest takes 75 s to arrive for 60 s of audio.
    expect(shouldStart({ ...base, bufferedAheadMs: 5_000, throughputBytesPerSecond: 16_000 })).toBe(false);
    expect(shouldStart({ ...base, bufferedAheadMs: 15_000, throughputBytesPerSecond: 16_000 })).toBe(true);
  });
  it("does not start without any throughput evidence unless everything is here", () => {
    expect(shouldStart({ ...base, bufferedAheadMs: 2_000, throughputBytesPerSecond: 0 })).toBe(false);
    expect(
      shouldStart({ ...base, remainingBytes: 0, bufferedAheadMs: 2_000, throughputBytesPerSecond: 0 }),
    ).toBe(true);
  });
});

describe("byte accounting", () => {
  it("counts bytes by source and track and gives the shares", () => {
    const accounting = new ByteAccounting();
    accounting.add("server", "a", 100);
    accounting.add("peer", "a", 300);
    accounting.add("cache", "b", 600);
    accounting.reject();
    const snapshot = accounting.snapshot();
    expect(snapshot).toMatchObject({
      total: 1000,
      bySource: { server: 100, peer: 300, cache: 600 },
      rejectedPieces: 1,
    });
    expect(snapshot.share).toEqual({ server: 0.1, peer: 0.3, cache: 0.6 });
    expect(snapshot.byTrack.a).toEqual({ server: 100, peer: 300, cache: 0 });
  });
});

describe("client cache LRU", () => {
  it("evicts the least recently played tracks past the cap, never pinned ones or the one being written", () => {
    const lru = new LruIndex(1_000);
    expect(lru.touch("a", 400)).toEqual([]);
    expect(lru.touch("b", 400)).toEqual([]);
    lru.pin("a", true);
    expect(lru.touch("c", 400)).toEqual(["b"]);
    expect(lru.touch("d", 400)).toEqual(["c"]);
    expect(lru.list().map((e) => e.key)).toEqual(["a", "d"]);
    expect(lru.pin("a", false)).toEqual([]);
    expect(lru.setCap(500)).toEqual(["a"]);
  });

  it("caps at 10% of the quota and never above 10 GB", () => {
    expect(defaultCacheCap(50e9)).toBe(5e9);
    expect(defaultCacheCap(500e9)).toBe(10e9);
    expect(defaultCacheCap(undefined)).toBe(1e9);
  });
});

function fakeSource(
  id: string,
  behave: (index: number) => { delayMs?: number; bytes?: Uint8Array; fail?: boolean },
): PieceSource & { calls: number[] } {
  const calls: number[] = [];
  return {
    kind: id.startsWith("peer") ? "peer" : "server",
    id,
    calls,
    fetch(_track, index, { signal }) {
      calls.push(index);
      const plan = behave(index);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => (plan.fail ? reject(new Error(`${id} failed`)) : resolve(plan.bytes ?? pieces[index]!)),
          plan.delayMs ?? 1,
        );
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(new Error("aborted"));
        });
      });
    },
  };
}

describe("piece fetcher", () => {
  it("serves a cached piece with no network request and counts it as cache", async () => {
    const store = new MemoryPieceStore();
    await store.put("t1.opus96", 0, pieces[0]!);
    const server = fakeSource("server", () => ({}));
    const accounting = new ByteAccounting();
    const fetcher = new PieceFetcher({ sources: [server], store, accounting });
    await fetcher.fetch(track, 0, 0, new AbortController().signal);
    expect(server.calls).toEqual([]);
    expect(accounting.snapshot().bySource.cache).toBe(pieceSize);
  });

  it("rejects a corrupt piece, reports the source and takes the piece from another", async () => {
    const liar = fakeSource("peer-liar", () => ({ bytes: new Uint8Array(pieceSize).fill(0xee) }));
    const server = fakeSource("server", () => ({ delayMs: 5 }));
    const accounting = new ByteAccounting();
    const reported: string[] = [];
    const store = new MemoryPieceStore();
    const fetcher = new PieceFetcher({
      sources: [liar, server],
      store,
      accounting,
      onBadPiece: (source) => reported.push(source.id),
    });
    const bytes = await fetcher.fetch(track, 2, 0, new AbortController().signal);
    expect(bytes).toEqual(pieces[2]);
    expect(reported).toEqual(["peer-liar"]);
    expect(accounting.snapshot()).toMatchObject({
      rejectedPieces: 1,
      bySource: { peer: 0, server: pieceSize },
    });
    expect(await store.get("t1.opus96", 2)).toEqual(pieces[2]);
  });

  it("abandons a slow source after the attempt timeout and re-requests elsewhere", async () => {
    const slow = fakeSource("peer-slow", () => ({ delayMs: 5_000 }));
    const server = fakeSource("server", () => ({}));
    const fetcher = new PieceFetcher({
      sources: [slow, server],
      accounting: new ByteAccounting(),
      attemptTimeoutMs: 50,
    });
    const started = performance.now();
    await expect(fetcher.fetch(track, 1, 0, new AbortController().signal)).resolves.toEqual(pieces[1]);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(slow.calls).toEqual([1]);
    expect(server.calls).toEqual([1]);
  });

  it("recovers from a failed piece by retrying, and gives up with an error after its rounds", async () => {
    let failures = 2;
    const flaky = fakeSource("server", () => (failures-- > 0 ? { fail: true } : {}));
    const fetcher = new PieceFetcher({ sources: [flaky], accounting: new ByteAccounting(), backoffMs: 1 });
    await expect(fetcher.fetch(track, 4, 0, new AbortController().signal)).resolves.toEqual(pieces[4]);
    const dead = fakeSource("server", () => ({ fail: true }));
    const giveUp = new PieceFetcher({
      sources: [dead],
      accounting: new ByteAccounting(),
      backoffMs: 1,
      rounds: 2,
    });
    await expect(giveUp.fetch(track, 4, 0, new AbortController().signal)).rejects.toThrow(
      /could not be fetched/,
    );
    expect(dead.calls).toHaveLength(2);
  });

  it("stops at once when the track changes (the request is aborted)", async () => {
    const server = fakeSource("server", () => ({ delayMs: 5_000 }));
    const fetcher = new PieceFetcher({ sources: [server], accounting: new ByteAccounting() });
    const controller = new AbortController();
    const pending = fetcher.fetch(track, 5, 0, controller.signal);
    controller.abort(new Error("track changed"));
    await expect(pending).rejects.toThrow(/track changed|aborted/);
  });

  it("evicts whole tracks from the cache store past its cap", async () => {
    const store = new MemoryPieceStore();
    const cacheIndex = new LruIndex(2_500);
    const server = fakeSource("server", () => ({}));
    const fetcher = new PieceFetcher({
      sources: [server],
      store,
      cacheIndex,
      accounting: new ByteAccounting(),
    });
    const other: TrackRef = { ...track, trackId: "t2", manifest: { ...manifest, trackId: "t2" } };
    for (const index of [0, 1]) await fetcher.fetch(track, index, 0, new AbortController().signal);
    for (const index of [0, 1]) await fetcher.fetch(other, index, 0, new AbortController().signal);
    expect(await store.size("t1.opus96")).toBe(0);
    expect(await store.size("t2.opus96")).toBe(2 * pieceSize);
  });
});

describe("play queue", () => {
  const tracks = ["a", "b", "c", "d"];
  const order = (q: PlayQueue<string>) => q.items.map((e) => e.track).join("");

  it("plays next right after the current entry and adds at the end; the same track can be queued twice", () => {
    const q = new PlayQueue<string>();
    q.replace(tracks, 1);
    q.playNext(["x"]);
    q.add(["b"]);
    expect(order(q)).toBe("abxcdb");
    expect(q.current).toBe("b");
    expect(new Set(q.items.map((e) => e.entryId)).size).toBe(6);
  });

  it("moves entries and keeps the playing one current; removing the playing one makes the next current", () => {
    const q = new PlayQueue<string>();
    q.replace(tracks, 1);
    q.move(1, 3);
    expect(order(q)).toBe("acdb");
    expect(q.current).toBe("b");
    q.move(0, 2);
    expect(order(q)).toBe("cdab");
    q.jump(1);
    q.remove(1);
    expect(order(q)).toBe("cab");
    expect(q.current).toBe("a");
    q.remove(0);
    expect(q.current).toBe("a");
    q.move(-1, 9);
    expect(order(q)).toBe("ab");
  });

  it("shuffles what follows the playing entry and restores the original order when shuffle is turned off", () => {
    let seed = 7;
    const q = new PlayQueue<string>(() => (seed = (seed * 16807) % 2147483647) / 2147483647);
    q.replace(["a", "b", "c", "d", "e", "f"], 2);
    q.setShuffle(true);
    expect(q.current).toBe("c");
    expect(q.position).toBe(0);
    expect([...order(q)].sort().join("")).toBe("abcdef");
    expect(order(q)).not.toBe("cabdef");
    q.advance();
    const now = q.current;
    q.setShuffle(false);
    expect(order(q)).toBe("abcdef");
    expect(q.current).toBe(now);
  });

  it("repeats one, all, or stops at the end", () => {
    const q = new PlayQueue<string>();
    q.replace(["a", "b"], 1);
    expect(q.nextPosition()).toBeUndefined();
    expect(q.advance()).toBe(false);
    q.repeat = "all";
    expect(q.nextPosition()).toBe(0);
    q.repeat = "one";
    expect(q.nextPosition()).toBe(1);
    expect(q.skip(-1)).toBe(true);
    expect(q.current).toBe("a");
    q.repeat = "all";
    expect(q.skip(-1)).toBe(true);
    expect(q.current).toBe("b");
  });
});

describe("offline pins", () => {
  it("fetches every piece of a pinned track, never evicts it, and lets it go once unpinned", async () => {
    const server = fakeSource("server", () => ({}));
    const store = new MemoryPieceStore();
    const cacheIndex = new LruIndex(15_000);
    const accounting = new ByteAccounting();
    const fetcher = new PieceFetcher({ sources: [server], store, cacheIndex, accounting });
    const deps = { manifests: { manifest: () => Promise.resolve(manifest) }, fetcher, store, cacheIndex };
    await pinTrack(deps, "t1", "opus96", new AbortController().signal);
    expect(server.calls).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await store.size("t1.opus96")).toBe(10_000);
    // Another track's pieces push the cache past its cap: the unpinned one is not the pinned track.
    const other: TrackRef = { trackId: "t2", profile: "opus96", manifest };
    for (let i = 0; i < 10; i++) await fetcher.fetch(other, i, 0, new AbortController().signal);
    expect(cacheIndex.list().map((e) => [e.key, e.pinned])).toEqual([
      ["t1.opus96", true],
      ["t2.opus96", false],
    ]);
    expect(await store.size("t1.opus96")).toBe(10_000);
    for (let i = 0; i < 10; i++) await fetcher.fetch(other, i, 0, new AbortController().signal);
    await unpinTrack(deps, "t1", "opus96");
    expect(cacheIndex.list().map((e) => e.key)).toEqual(["t2.opus96"]);
    expect(await store.size("t1.opus96")).toBe(0);
  });
});

describe("server source", () => {
  /** A fetch that answers the manifest and piece paths of `track`, holding each answer until released. */
  function fakeServer(failFirstPiece = false) {
    const asked: string[] = [];
    const waiting: Array<() => void> = [];
    let pieceAnswers = 0;
    const fetchFn = (input: string | URL | Request) => {
      const path = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
      asked.push(path);
      return new Promise<Response>((resolve) =>
        waiting.push(() => {
          if (path.includes("/manifest")) return resolve(Response.json(manifest));
          pieceAnswers += 1;
          if (failFirstPiece && pieceAnswers === 1) return resolve(new Response("no", { status: 503 }));
          resolve(new Response(pieces[Number(path.split("/").pop())]!.slice()));
        }),
      );
    };
    const releaseAll = () => {
      for (const release of waiting.splice(0)) release();
    };
    return { asked, releaseAll, source: new ServerSource({ baseUrl: "", fetch: fetchFn }) };
  }

  it("asks for piece 0 together with the manifest, and serves that answer to the first fetch of it", async () => {
    const server = fakeServer();
    const manifestAnswer = server.source.manifest("t1", "opus96", undefined, { growing: true });
    // Both requests are out before either is answered: one round trip to the first piece, not two.
    expect(server.asked).toEqual([
      "/api/stream/t1/opus96/manifest?havePieces=0",
      "/api/stream/t1/opus96/pieces/0",
    ]);
    server.releaseAll();
    const held = await manifestAnswer;
    const bytes = await server.source.fetch({ trackId: "t1", profile: "opus96", manifest: held }, 0, {
      urgencyMs: 0,
      signal: new AbortController().signal,
    });
    expect(Buffer.from(bytes).equals(Buffer.from(pieces[0]!))).toBe(true);
    expect(server.asked).toHaveLength(2);
    // A seek's offset rendition too: its piece 0 is where the seek plays from, and it is its own, not the track's.
    const offsetAnswer = server.source.manifest("t1", "opus96", undefined, { fromMs: 4_000 });
    expect(server.asked.slice(2)).toEqual([
      "/api/stream/t1/opus96/from/4000/manifest",
      "/api/stream/t1/opus96/from/4000/pieces/0",
    ]);
    server.releaseAll();
    const offset = { ...(await offsetAnswer), fromMs: 4_000 };
    const offsetBytes = await server.source.fetch({ trackId: "t1", profile: "opus96", manifest: offset }, 0, {
      urgencyMs: 0,
      signal: new AbortController().signal,
    });
    expect(Buffer.from(offsetBytes).equals(Buffer.from(pieces[0]!))).toBe(true);
    expect(server.asked).toHaveLength(4);
    // The track's own piece 0 is asked for afresh: the early answer taken was the offset rendition's.
    void server.source.fetch({ trackId: "t1", profile: "opus96", manifest: held }, 0, {
      urgencyMs: 0,
      signal: new AbortController().signal,
    });
    expect(server.asked.at(-1)).toBe("/api/stream/t1/opus96/pieces/0");
    expect(server.asked).toHaveLength(5);
  });

  it("asks again when the early answer failed", async () => {
    const server = fakeServer(true);
    const manifestAnswer = server.source.manifest("t1", "opus96");
    server.releaseAll();
    const held = await manifestAnswer;
    const fetched = server.source.fetch({ trackId: "t1", profile: "opus96", manifest: held }, 0, {
      urgencyMs: 0,
      signal: new AbortController().signal,
    });
    await vi.waitFor(() => expect(server.asked).toHaveLength(3));
    server.releaseAll();
    expect(Buffer.from(await fetched).equals(Buffer.from(pieces[0]!))).toBe(true);
  });
});
