// The player over a fake sink: start rule, byte-ordered appends, prefetch and gapless next track, seek, skips, ReplayGain,
// and tracks whose manifest is still growing.
import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import {
  ByteAccounting,
  Player,
  MemoryPieceStore,
  PieceFetcher,
  SourceError,
  extendsManifest,
  type Manifest,
  type MediaSink,
  type PieceSource,
  type PlayerEvent,
} from "@soundmesh/engine";

const PIECE = 1_000;
const BYTES_PER_SECOND = 1_000;

function rendition(trackId: string, seconds: number) {
  const bytes = Uint8Array.from(
    { length: seconds * BYTES_PER_SECOND },
    (_, i) => (i * 7 + trackId.length) % 251,
  );
  const pieces: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += PIECE)
    pieces.push(bytes.subarray(offset, offset + PIECE));
  const manifest: Manifest = {
    trackId,
    profile: "opus96",
    mimeType: 'audio/webm; codecs="opus"',
    codec: "opus",
    bitrateKbps: 8,
    durationMs: seconds * 1000,
    sizeBytes: bytes.length,
    pieceSizeBytes: PIECE,
    pieceCount: pieces.length,
    pieceHashes: pieces.map((p) => createHash("sha256").update(p).digest("hex")),
    complete: true,
    // A 500-byte "init segment", then a cluster every 2 s.
    seekIndex: Array.from({ length: seconds / 2 }, (_, i) => ({
      timeMs: i * 2000,
      byteOffset: 500 + i * 2 * BYTES_PER_SECOND - (i === 0 ? 0 : 500),
    })),
  };
  return { bytes, pieces, manifest };
}

class FakeSink implements MediaSink {
  appended: Array<{ offset: number; bytes: Uint8Array }> = [];
  offset = 0;
  time = 0;
  playing = false;
  volume = 1;
  ended = false;
  failFor: ((bytes: Uint8Array) => boolean) | undefined;
  open() {
    return Promise.resolve();
  }
  append(bytes: Uint8Array) {
    if (this.failFor?.(bytes)) return Promise.reject(new Error("the media could not be decoded"));
    this.appended.push({ offset: this.offset, bytes });
    return Promise.resolve();
  }
  setTimestampOffset(seconds: number, windowEndSec = Infinity) {
    this.offset = seconds;
    this.windowEnds.push(windowEndSec);
    return Promise.resolve();
  }
  abort() {
    return Promise.resolve();
  }
  windowEnds: number[] = [];
  removed: Array<[number, number]> = [];
  remove(start: number, end: number) {
    this.removed.push([start, end]);
    this.appended = this.appended.filter((a) => a.offset < start);
    return Promise.resolve();
  }
  /** Each timestamp offset's bytes, at 1,000 bytes a second, form one range. */
  buffered(): Array<[number, number]> {
    const byOffset = new Map<number, number>();
    for (const { offset, bytes } of this.appended)
      byOffset.set(offset, (byOffset.get(offset) ?? 0) + bytes.byteLength);
    return [...byOffset].map(([offset, total]) => [offset, offset + total / BYTES_PER_SECOND]);
  }
  bytesAt(offset: number) {
    return Buffer.concat(this.appended.filter((a) => a.offset === offset).map((a) => a.bytes));
  }
  currentTime() {
    return this.time;
  }
  seek(seconds: number) {
    this.time = seconds;
  }
  play() {
    this.playing = true;
    return Promise.resolve();
  }
  pause() {
    this.playing = false;
  }
  isPaused() {
    return !this.playing;
  }
  setVolume(linear: number) {
    this.volume = linear;
  }
  end() {
    this.ended = true;
  }
}

function setUp(
  tracks: Record<string, ReturnType<typeof rendition>>,
  delayOf: (index: number) => number = () => 1,
) {
  const manifestsAsked: string[] = [];
  const source: PieceSource = {
    kind: "server",
    id: "server",
    fetch: (track, index) =>
      new Promise((resolve) =>
        setTimeout(() => resolve(tracks[track.trackId]!.pieces[index]!), delayOf(index)),
      ),
  };
  const accounting = new ByteAccounting();
  const fetcher = new PieceFetcher({ sources: [source], accounting });
  const sink = new FakeSink();
  const events: PlayerEvent[] = [];
  const player = new Player({
    sink,
    server: {
      manifest: (trackId: string) => {
        manifestsAsked.push(trackId);
        return Promise.resolve(tracks[trackId]!.manifest);
      },
    },
    fetcher,
    accounting,
    maxInFlight: 4,
    prefetchNextMs: 3_000,
    onEvent: (event) => events.push(event),
  });
  /** Ticks the player (as its timer would) until `done` holds, or at least `rounds` times; fails after 5 s. */
  const settle = async (rounds = 40, done: () => boolean = () => true) => {
    const deadline = Date.now() + 5_000;
    for (let i = 0; i < rounds || !done(); i++) {
      if (Date.now() > deadline) throw new Error("the player did not get there within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 3));
      await player.tick();
    }
  };
  return { player, sink, events, accounting, manifestsAsked, settle };
}

describe("player", () => {
  it("appends the rendition in byte order even when pieces arrive out of order, and starts playing", async () => {
    const a = rendition("a", 10);
    const { player, sink, events, accounting, settle } = setUp({ a }, (index) => 20 - index * 2);
    await player.play([{ trackId: "a" }]);
    await settle(10, () => sink.bytesAt(0).length >= a.bytes.length && sink.playing);
    expect(sink.bytesAt(0).equals(Buffer.from(a.bytes))).toBe(true);
    expect(sink.playing).toBe(true);
    expect(events.find((e) => e.type === "started")).toBeTruthy();
    expect(accounting.snapshot().bySource.server).toBe(a.bytes.length);
    expect(accounting.snapshot().startLatenciesMs).toHaveLength(1);
  });

  it("starts as soon as appended bytes satisfy the start rule, without waiting for the next tick", async () => {
    const a = rendition("a", 4);
    const { player, sink } = setUp({ a });
    await player.play([{ trackId: "a" }]);
    const deadline = Date.now() + 5_000;
    while (!sink.playing) {
      if (Date.now() > deadline) throw new Error("did not start without a tick");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(sink.bytesAt(0).length).toBeGreaterThan(0);
  });

  it("prefetches the next track only near the end and appends it right after the current one (gapless)", async () => {
    const a = rendition("a", 10);
    const b = rendition("b", 6);
    const { player, sink, events, manifestsAsked, settle } = setUp({ a, b });
    await player.play([{ trackId: "a" }, { trackId: "b" }]);
    await settle();
    expect(manifestsAsked).toEqual(["a"]);
    sink.time = 7.5; // 2.5 s left, under the 3 s prefetch window
    await settle(10, () => sink.bytesAt(10).length >= b.bytes.length);
    expect(manifestsAsked).toEqual(["a", "b"]);
    expect(sink.bytesAt(10).equals(Buffer.from(b.bytes))).toBe(true);
    expect(sink.buffered()).toEqual([
      [0, 10],
      [10, 16],
    ]);
    sink.time = 10.01;
    await player.tick();
    expect(events).toContainEqual({ type: "track", index: 1, trackId: "b" });
    expect(player.currentIndex).toBe(1);
    await settle(5);
    expect(sink.ended).toBe(true);
  });

  it("seeks outside the buffer by appending the init segment, then media from the target's cluster", async () => {
    const a = rendition("a", 20);
    const { player, sink, settle } = setUp({ a }, () => 30);
    await player.play([{ trackId: "a" }]);
    await player.seek(13_000);
    await settle(30);
    expect(sink.time).toBe(13);
    const initSegment = Buffer.from(a.bytes.subarray(0, 500));
    const seekBytes = Buffer.concat(sink.appended.map((x) => x.bytes));
    const initAt = seekBytes.indexOf(initSegment);
    expect(initAt).toBeGreaterThanOrEqual(0);
    const clusterAt12s = a.manifest.seekIndex!.find((p) => p.timeMs === 12_000)!.byteOffset;
    const after = seekBytes.subarray(initAt + 500, initAt + 500 + 300);
    expect(after.equals(Buffer.from(a.bytes.subarray(clusterAt12s, clusterAt12s + 300)))).toBe(true);
  });

  it("after a seek back into the current track, appends it again and sets the next track's offset again", async () => {
    const a = rendition("a", 20);
    const b = rendition("b", 8);
    // The first two pieces of each track come at once, the rest slowly: b is still arriving when the seek comes.
    const { player, sink, settle } = setUp({ a, b }, (index) => (index < 2 ? 1 : 150));
    await player.play([{ trackId: "a" }, { trackId: "b" }]);
    await settle(10, () => sink.bytesAt(0).length >= a.bytes.length);
    sink.time = 17.5; // 2.5 s left: b is fetched and appended at 20 s
    await settle(10, () => sink.bytesAt(20).length >= 2 * PIECE);
    expect(sink.bytesAt(20).length).toBeLessThan(b.bytes.length);
    // a's media is no longer buffered (the browser let it go), though its pieces are held: the seek back must append
    // them again from the target's cluster, with a's offset, and b's later pieces must still go in at 20 s.
    sink.appended = sink.appended.filter((entry) => entry.offset !== 0);
    await player.seek(5_000);
    const clusterAt4s = a.manifest.seekIndex!.find((p) => p.timeMs === 4_000)!.byteOffset;
    await settle(10, () => sink.bytesAt(0).length >= 500 + a.bytes.length - clusterAt4s);
    expect(
      sink
        .bytesAt(0)
        .subarray(500)
        .equals(Buffer.from(a.bytes.subarray(clusterAt4s))),
    ).toBe(true);
    await settle(10, () => sink.bytesAt(20).length >= b.bytes.length);
    expect(sink.bytesAt(20).equals(Buffer.from(b.bytes))).toBe(true);
  });

  it("skips a track that cannot be decoded and goes on with the next", async () => {
    const bad = rendition("bad", 4);
    const b = rendition("b", 4);
    const { player, sink, events, settle } = setUp({ bad, b });
    sink.failFor = (bytes) => Buffer.from(bytes).equals(Buffer.from(bad.bytes.subarray(0, bytes.byteLength)));
    await player.play([{ trackId: "bad" }, { trackId: "b" }]);
    await settle(10, () => sink.bytesAt(0).length >= b.bytes.length);
    expect(events.some((e) => e.type === "error" && e.trackId === "bad")).toBe(true);
    expect(sink.bytesAt(0).equals(Buffer.from(b.bytes))).toBe(true);
    expect(events).toContainEqual({ type: "track", index: 1, trackId: "b" });
  });

  it("applies ReplayGain of the playing track to the volume", async () => {
    const a = rendition("a", 4);
    const { player, sink } = setUp({ a });
    await player.play([{ trackId: "a", replayGain: { trackGainDb: -6, albumGainDb: -3 } }]);
    expect(sink.volume).toBeCloseTo(10 ** (-6 / 20));
    player.setVolume(0.5);
    expect(sink.volume).toBeCloseTo(0.5 * 10 ** (-6 / 20));
  });
});

describe("player queue changes, gapless windows, ReplayGain modes and network recovery", () => {
  it("ends each track's append window at its duration, so encoder padding is cut and the next starts there", async () => {
    const a = rendition("a", 4);
    const b = rendition("b", 4);
    const { player, sink, settle } = setUp({ a, b });
    await player.play([{ trackId: "a" }, { trackId: "b" }]);
    sink.time = 1.5; // inside the 3 s prefetch window
    await settle(10, () => sink.bytesAt(4).length >= b.bytes.length);
    expect(sink.windowEnds).toEqual([4, 8]);
    expect(sink.buffered()).toEqual([
      [0, 4],
      [4, 8],
    ]);
  });

  it("keeps a prefetched next track when the queue changes around it, and drops its media when it is no longer next", async () => {
    const a = rendition("a", 4);
    const b = rendition("b", 4);
    const c = rendition("c", 4);
    const { player, sink, manifestsAsked, settle } = setUp({ a, b, c });
    await player.play([{ trackId: "a" }, { trackId: "b" }]);
    sink.time = 1.5; // inside the 3 s prefetch window
    await settle(10, () => sink.bytesAt(4).length >= b.bytes.length);
    await player.setQueue([{ trackId: "a" }, { trackId: "b" }, { trackId: "c" }], 0);
    expect(sink.removed).toEqual([]);
    expect(manifestsAsked).toEqual(["a", "b"]);
    await player.setQueue([{ trackId: "a" }, { trackId: "c" }], 0);
    expect(sink.removed).toEqual([[4, Infinity]]);
    await settle(10, () => sink.bytesAt(4).length >= c.bytes.length);
    expect(sink.bytesAt(4).equals(Buffer.from(c.bytes))).toBe(true);
    expect(player.currentIndex).toBe(0);
  });

  it("applies album gain, track gain or none as chosen", async () => {
    const a = rendition("a", 4);
    const { player, sink } = setUp({ a });
    await player.play([{ trackId: "a", replayGain: { trackGainDb: -6, albumGainDb: -3 } }]);
    player.setReplayGain("album");
    expect(sink.volume).toBeCloseTo(10 ** (-3 / 20));
    player.setReplayGain("off");
    expect(sink.volume).toBe(1);
    player.setReplayGain("track");
    expect(sink.volume).toBeCloseTo(10 ** (-6 / 20));
  });

  it("says the network failed when a piece cannot be fetched, keeps asking, and says so when bytes come back", async () => {
    const a = rendition("a", 4);
    let down = true;
    const source: PieceSource = {
      kind: "server",
      id: "server",
      fetch: (_track, index) =>
        down ? Promise.reject(new Error("connection refused")) : Promise.resolve(a.pieces[index]!),
    };
    const accounting = new ByteAccounting();
    const fetcher = new PieceFetcher({ sources: [source], accounting, rounds: 1 });
    const sink = new FakeSink();
    const events: PlayerEvent[] = [];
    const player = new Player({
      sink,
      server: { manifest: () => Promise.resolve(a.manifest) },
      fetcher,
      accounting,
      onEvent: (event) => events.push(event),
    });
    await player.play([{ trackId: "a" }]);
    const deadline = Date.now() + 5_000;
    while (!events.some((e) => e.type === "network")) {
      if (Date.now() > deadline) throw new Error("no network event");
      await new Promise((resolve) => setTimeout(resolve, 5));
      await player.tick();
    }
    expect(sink.playing).toBe(false);
    down = false;
    while (sink.bytesAt(0).length < a.bytes.length || !sink.playing) {
      if (Date.now() > deadline) throw new Error("did not recover");
      await new Promise((resolve) => setTimeout(resolve, 5));
      await player.tick();
    }
    expect(events.filter((e) => e.type === "recovered")).toHaveLength(1);
    expect(sink.bytesAt(0).equals(Buffer.from(a.bytes))).toBe(true);
  });
});

/**
 * A rendition the server is still making: the manifest announces the first `known` pieces (with the catalog's
 * duration), and each long-poll answers when the test lets more through; the last step completes it with ffmpeg's
 * own duration.
 */
function growing(track: ReturnType<typeof rendition>, catalogMs: number) {
  const full = track.manifest;
  let known = 0;
  let wake: () => void = () => undefined;
  const at = (count: number): Manifest => {
    const complete = count >= full.pieceCount;
    const sizeBytes = complete ? full.sizeBytes : count * PIECE;
    return {
      ...full,
      durationMs: complete ? full.durationMs : catalogMs,
      sizeBytes,
      pieceCount: complete ? full.pieceCount : count,
      pieceHashes: full.pieceHashes.slice(0, count),
      seekIndex: full.seekIndex!.filter((point) => point.byteOffset < sizeBytes),
      complete,
    };
  };
  return {
    track,
    polls: 0,
    release(count: number) {
      known = Math.min(count, full.pieceCount);
      wake();
    },
    manifest: () => at(known),
    grow(held: Manifest, signal?: AbortSignal): Promise<Manifest> {
      this.polls += 1;
      return new Promise((resolve, reject) => {
        const check = () => {
          if (known > held.pieceCount) resolve(at(known));
        };
        wake = check;
        signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
        check();
      });
    },
  };
}

function setUpGrowing(tracks: Record<string, ReturnType<typeof growing>>, tampered = new Set<string>()) {
  const asked: string[] = [];
  const source: PieceSource = {
    kind: "server",
    id: "server",
    fetch: (track, index) => {
      asked.push(`${track.trackId}:${index}`);
      const key = `${track.trackId}:${index}`;
      if (tampered.delete(key)) return Promise.resolve(new Uint8Array(PIECE).fill(7));
      return Promise.resolve(tracks[track.trackId]!.track.pieces[index]!);
    },
  };
  const accounting = new ByteAccounting();
  const fetcher = new PieceFetcher({ sources: [source], accounting, backoffMs: 1 });
  const sink = new FakeSink();
  const windowMoves: number[] = [];
  const growingSink = Object.assign(sink, {
    setAppendWindowEnd: (end: number) => {
      windowMoves.push(end);
      return Promise.resolve();
    },
  });
  const events: PlayerEvent[] = [];
  const player = new Player({
    sink: growingSink,
    server: {
      manifest: (trackId: string) => Promise.resolve(tracks[trackId]!.manifest()),
      grow: (held: Manifest, signal?: AbortSignal) => tracks[held.trackId]!.grow(held, signal),
    },
    fetcher,
    accounting,
    maxInFlight: 4,
    prefetchNextMs: 3_000,
    onEvent: (event) => events.push(event),
  });
  const until = async (done: () => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 3));
      await player.tick();
    }
  };
  return { player, sink, events, accounting, asked, until, windowMoves };
}

describe("player, next track whose manifest is slow", () => {
  it("loads the next track once however many ticks pass while its manifest comes (a transcode starting)", async () => {
    const a = rendition("a", 4);
    const b = rendition("b", 4);
    let answerB: () => void = () => undefined;
    const bAnswered = new Promise<void>((resolve) => (answerB = resolve));
    const asked: string[] = [];
    const { player, sink, events, settle } = setUp({ a, b });
    // The same player wiring, with b's manifest held back while the timer keeps ticking.
    const server = (
      player as unknown as { options: { server: { manifest: (id: string) => Promise<Manifest> } } }
    ).options.server;
    server.manifest = async (trackId: string) => {
      asked.push(trackId);
      if (trackId === "b") await bAnswered;
      return { a, b }[trackId]!.manifest;
    };
    await player.play([{ trackId: "a" }, { trackId: "b" }]);
    sink.time = 1.5; // inside the 3 s prefetch window
    // The timer keeps firing (it does not wait for a tick to finish) while b's manifest is on its way.
    const ticks: Array<Promise<void>> = [];
    const deadline = Date.now() + 5_000;
    for (let after = 0; after < 10; after += asked.includes("b") ? 1 : 0) {
      if (Date.now() > deadline) throw new Error("b was never asked for");
      ticks.push(player.tick());
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    answerB();
    await Promise.all(ticks);
    await settle(10, () => sink.bytesAt(4).length >= b.bytes.length);
    expect(asked).toEqual(["a", "b"]);
    expect(sink.bytesAt(4).equals(Buffer.from(b.bytes))).toBe(true);
    sink.time = 4.01;
    await settle(3);
    expect(events.filter((event) => event.type === "track")).toEqual([
      { type: "track", index: 1, trackId: "b" },
    ]);
  });
});

describe("player on a growing manifest", () => {
  it("starts on the first announced pieces, asks only for pieces whose hashes it knows, and verifies late ones", async () => {
    const a = growing(rendition("a", 10), 10_000);
    a.release(2);
    const { player, sink, asked, accounting, until } = setUpGrowing({ a }, new Set(["a:6"]));
    await player.play([{ trackId: "a" }]);
    await until(() => sink.playing, "playing on two pieces");
    expect(sink.bytesAt(0).length).toBe(2 * PIECE);
    for (let i = 0; i < 10; i++) await player.tick();
    expect(asked.every((key) => Number(key.split(":")[1]) < 2)).toBe(true);
    a.release(7);
    await until(() => sink.bytesAt(0).length >= 7 * PIECE, "the announced pieces appended");
    expect(asked.some((key) => Number(key.split(":")[1]) >= 7)).toBe(false);
    // Piece 6 came back wrong once: it was refused, fetched again, and only the right bytes were appended.
    expect(accounting.snapshot().rejectedPieces).toBe(1);
    expect(sink.bytesAt(0).equals(Buffer.from(a.track.bytes.subarray(0, 7 * PIECE)))).toBe(true);
    a.release(10);
    await until(() => sink.bytesAt(0).length >= a.track.bytes.length, "the whole track appended");
    expect(sink.bytesAt(0).equals(Buffer.from(a.track.bytes))).toBe(true);
    await until(() => sink.ended, "the queue ends once the manifest is complete");
  });

  it("uses the catalog's duration for the append window while growing, then ffmpeg's, and places the next track there", async () => {
    const a = growing(rendition("a", 4), 4_300);
    const b = growing(rendition("b", 4), 4_000);
    a.release(1);
    b.release(1);
    const { player, sink, until, windowMoves } = setUpGrowing({ a, b });
    await player.play([{ trackId: "a" }, { trackId: "b" }]);
    await until(() => sink.playing, "playing");
    expect(sink.windowEnds).toEqual([4.3]);
    a.release(4);
    await until(() => windowMoves.length > 0, "the window moved to the final duration");
    expect(windowMoves).toEqual([4]);
    sink.time = 1.5;
    // The next track starts on its own first piece: its prefetch does not wait for its transcode to end.
    await until(() => sink.bytesAt(4).length >= PIECE, "the next track's first piece at 4 s");
    expect(b.manifest().complete).toBe(false);
    expect(sink.windowEnds).toEqual([4.3, 8]);
    b.release(4);
    await until(() => sink.bytesAt(4).length >= b.track.bytes.length, "the next track appended");
    expect(sink.bytesAt(4).equals(Buffer.from(b.track.bytes))).toBe(true);
  });

  it("refuses a grown manifest that rewrites an announced hash, and skips the track", async () => {
    const a = growing(rendition("a", 4), 4_000);
    a.release(1);
    const first = a.manifest();
    const rewritten = { ...first, pieceCount: 2, pieceHashes: ["0".repeat(64), "1".repeat(64)] };
    expect(() => extendsManifest(first, rewritten)).toThrow(SourceError);
    expect(
      extendsManifest(first, { ...first, pieceCount: 2, pieceHashes: [...first.pieceHashes, "1".repeat(64)] })
        .pieceCount,
    ).toBe(2);
    const { player, events, until } = setUpGrowing({ a });
    a.grow = () => Promise.reject(new SourceError("a: the rendition changed while it was being made", 409));
    await player.play([{ trackId: "a" }]);
    await until(() => events.some((event) => event.type === "error"), "the track refused");
    expect(events).toContainEqual({
      type: "error",
      trackId: "a",
      message: expect.stringContaining("changed"),
    });
  });
});

describe("player, seek past what the transcode has reached", () => {
  it("plays from an offset rendition with pieces of its own, never cached, and returns to the rendition on a seek back", async () => {
    const long = growing(rendition("long", 60), 60_000);
    long.release(5);
    // The offset rendition from 46 s: other bytes, a 500-byte init segment, then clusters in track time.
    const offsetBytes = Uint8Array.from({ length: 14_000 }, (_, i) => (i * 13 + 5) % 241);
    const offsetPieces = Array.from({ length: 14 }, (_, i) =>
      offsetBytes.subarray(i * PIECE, (i + 1) * PIECE),
    );
    const offsetManifest: Manifest = {
      ...long.track.manifest,
      sizeBytes: offsetBytes.length,
      pieceCount: offsetPieces.length,
      pieceHashes: offsetPieces.map((p) => createHash("sha256").update(p).digest("hex")),
      seekIndex: Array.from({ length: 7 }, (_, i) => ({
        timeMs: 46_000 + i * 2000,
        byteOffset: 500 + i * 2000,
      })),
      complete: true,
      fromMs: 46_000,
    };
    const asked: string[] = [];
    const manifestsAsked: Array<number | undefined> = [];
    const source: PieceSource = {
      kind: "server",
      id: "server",
      fetch: (track, index) => {
        const { fromMs } = track.manifest;
        asked.push(`${fromMs ?? "whole"}:${index}`);
        return Promise.resolve(fromMs === undefined ? long.track.pieces[index]! : offsetPieces[index]!);
      },
    };
    const store = new MemoryPieceStore();
    const fetcher = new PieceFetcher({ sources: [source], store, accounting: new ByteAccounting() });
    const sink = new FakeSink();
    const player = new Player({
      sink,
      server: {
        manifest: (_trackId, _profile, _signal, options) => {
          manifestsAsked.push(options?.fromMs);
          return Promise.resolve(options?.fromMs === 46_000 ? offsetManifest : long.manifest());
        },
        grow: (held, signal) => long.grow(held, signal),
      },
      fetcher,
      accounting: new ByteAccounting(),
    });
    const until = async (done: () => boolean, what: string) => {
      const deadline = Date.now() + 5_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 3));
        await player.tick();
      }
    };
    await player.play([{ trackId: "long" }]);
    await until(() => sink.playing, "playing the first pieces");

    // 46.5 s is 41 s past the last cluster announced: the offset rendition from 46 s is asked for and appended,
    // init segment first, then from the target's cluster (the one at 46 s).
    const before = sink.appended.length;
    await player.seek(46_500);
    expect(manifestsAsked).toEqual([undefined, 46_000]);
    expect(sink.time).toBe(46.5);
    const sinceSeek = () => Buffer.concat(sink.appended.slice(before).map((a) => a.bytes));
    await until(() => sinceSeek().length >= offsetBytes.length, "the offset rendition appended");
    const appended = sinceSeek();
    expect(Buffer.from(appended).equals(Buffer.from(offsetBytes))).toBe(true);
    // Verified against its own hashes, fetched from the server only, and never kept as the rendition's pieces.
    expect(asked.filter((a) => a.startsWith("46000:"))).toHaveLength(14);
    for (let index = 0; index < 14; index++) {
      const held = await store.get("long.opus96", index);
      if (held) expect(Buffer.from(held).equals(Buffer.from(long.track.pieces[index]!))).toBe(true);
    }
    expect(await store.size("long.opus96")).toBe(5 * PIECE);

    // A seek back before 46 s returns to the rendition itself (complete by now).
    long.release(60);
    await player.seek(30_000);
    expect(manifestsAsked).toEqual([undefined, 46_000, undefined]);
    await until(() => asked.includes("whole:30"), "the rendition's piece at 30 s fetched");
    expect(sink.time).toBe(30);
  });

  it("takes a transcode's speed from its growth over time, not from pieces answered back to back", async () => {
    const burst = growing(rendition("burst", 60), 60_000);
    burst.release(5);
    const { player, events, until } = setUpGrowing({ burst });
    await player.play([{ trackId: "burst" }]);
    await until(() => events.some((e) => e.type === "started"), "started");
    // Pieces finished together: each long-poll is answered at once, a few ms after the one before.
    burst.release(6);
    await until(() => burst.polls >= 2, "the first growth answered");
    burst.release(20);
    await until(() => burst.polls >= 3, "the second growth answered");
    const manifest = vi.spyOn(player as unknown as { replaceRendition: () => unknown }, "replaceRendition");
    // 40 s past the last announced cluster: at the assumed 20 times real time 2 s away, so an offset rendition.
    await player.seek(59_000);
    expect(manifest).toHaveBeenCalled();
  });

  it("waits for the transcode when it is about to reach the target", async () => {
    const long = growing(rendition("near", 60), 60_000);
    long.release(10);
    const { player, events, until } = setUpGrowing({ near: long });
    await player.play([{ trackId: "near" }]);
    await until(() => events.some((e) => e.type === "started"), "started");
    const manifest = vi.spyOn(player as unknown as { replaceRendition: () => unknown }, "replaceRendition");
    // One second past the last announced cluster: at the assumed 20 times real time, 50 ms away.
    await player.seek(9_000);
    expect(manifest).not.toHaveBeenCalled();
  });
});
