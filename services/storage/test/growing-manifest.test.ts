// A manifest that grows while ffmpeg runs (the real one): pieces announced with their final hashes, the long-poll,
// and nothing growing ever written to the disk cache. Sources arrive through FIFOs so the test decides how far
// ffmpeg can get, instead of racing it.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, streamManifest, type StreamManifest } from "@soundmesh/protocol";
import { findClusters, RenditionStore, defaultProfiles, type SourceInfo } from "@soundmesh/service-storage";
import { TranscodeScheduler, defaultSchedulerConfig } from "../src/transcode-scheduler";
import { writeToneSync } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-growing-"));
const sources = new Map<string, string>();
const CATALOG_MS = 20_000;
const PIECE = 4 * 1024;
let source: Buffer;
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => {
  source = readFileSync(
    writeToneSync(join(work, "long.flac"), { frequency: 440, seconds: 20, codec: ["-c:a", "flac"] }),
  );
});

const resolveSource = (trackId: string): Promise<SourceInfo> => {
  const path = sources.get(trackId);
  if (!path) return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  // A FIFO's mtime moves as it is written: the catalog's figures for a track stay put while it is read.
  const { size, mtimeMs } = statSync(path);
  const fixed = path.endsWith(".fifo")
    ? { sizeBytes: source.length, mtimeMs: 1 }
    : { sizeBytes: size, mtimeMs };
  return Promise.resolve({ path, ...fixed, durationMs: CATALOG_MS });
};

/** A track whose source is a FIFO: ffmpeg reads only what the test writes. */
function fifoTrack(trackId: string) {
  const fifo = join(work, `${trackId}.fifo`);
  execFileSync("mkfifo", [fifo]);
  sources.set(trackId, fifo);
  return createWriteStream(fifo);
}

function newStore(cacheDir: string, longPollMs = 20_000, onPid?: (pid: number) => void) {
  const scheduler = new TranscodeScheduler(defaultSchedulerConfig(2), (event) => {
    if (event.type === "started" && "pid" in event && event.pid !== undefined) onPid?.(event.pid);
  });
  return new RenditionStore(
    {
      cacheDir,
      capBytes: 50 * 1024 * 1024,
      pieceSizeBytes: PIECE,
      ffmpegPath: "ffmpeg",
      profiles: defaultProfiles,
      waitTimeoutMs: 30_000,
      longPollMs,
    },
    resolveSource,
    logger,
    scheduler,
  );
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("a growing manifest", () => {
  it("announces pieces with their final hashes while ffmpeg runs, and completes with the same ones", async () => {
    const writer = fifoTrack("grow1");
    const store = newStore(join(work, "cache-1"));
    const firstPoll = store.manifest("grow1", "opus96", undefined, 0);
    writer.write(source.subarray(0, Math.floor(source.length * 0.5)));
    const early = streamManifest.parse(await firstPoll);
    // ffmpeg cannot have finished: half the source is still unwritten.
    expect(early.complete).toBe(false);
    expect(early.pieceCount).toBeGreaterThan(0);
    expect(early.pieceHashes).toHaveLength(early.pieceCount);
    expect(early.sizeBytes).toBe(early.pieceCount * PIECE);
    expect(early.durationMs).toBe(CATALOG_MS);
    for (let index = 0; index < early.pieceCount; index++) {
      const piece = await store.piece("grow1", "opus96", index);
      expect(sha(piece.bytes), `piece ${index}`).toBe(early.pieceHashes[index]);
    }
    expect(early.seekIndex!.every((point) => point.byteOffset < early.sizeBytes)).toBe(true);

    // Follow it as the player does; every answer extends the last one and never rewrites a hash.
    writer.end(source.subarray(Math.floor(source.length * 0.5)));
    const seen: StreamManifest[] = [early];
    let last = early;
    while (!last.complete) {
      last = await store.manifest("grow1", "opus96", undefined, last.pieceCount);
      seen.push(last);
    }
    for (const manifest of seen)
      expect(last.pieceHashes.slice(0, manifest.pieceCount)).toEqual(manifest.pieceHashes);
    expect(last.durationMs).toBeGreaterThan(19_000);
    expect(last.durationMs).toBeLessThan(20_500);
    expect(last).toEqual(await store.manifest("grow1", "opus96"));
    // Scanning in steps found exactly what one scan of the whole rendition finds.
    const bytes = Buffer.concat(
      await Promise.all(
        last.pieceHashes.map(async (_, i) => (await store.piece("grow1", "opus96", i)).bytes),
      ),
    );
    expect(bytes.byteLength).toBe(last.sizeBytes);
    expect(last.seekIndex).toEqual(findClusters(bytes));
    last.pieceHashes.forEach((hash, i) => expect(sha(bytes.subarray(i * PIECE, (i + 1) * PIECE))).toBe(hash));
  });

  it("long-polls: answers on progress, and after its bound unchanged when there is none", async () => {
    const writer = fifoTrack("grow2");
    const store = newStore(join(work, "cache-2"), 300);
    // Nothing written: ffmpeg waits on its input, so the bound answers with what exists (nothing yet).
    const idle = await store.manifest("grow2", "opus96", undefined, 0);
    expect(idle).toMatchObject({ complete: false, pieceCount: 0, pieceHashes: [], sizeBytes: 0 });
    const waiting = store.manifest("grow2", "opus96", undefined, 0);
    writer.write(source.subarray(0, Math.floor(source.length * 0.3)));
    const progressed = await waiting;
    expect(progressed.pieceCount).toBeGreaterThan(0);
    // Asking beyond what exists while the writer is stalled: the same state after the bound.
    const same = await store.manifest("grow2", "opus96", undefined, 1_000);
    expect(same.complete).toBe(false);
    expect(same.pieceHashes.slice(0, progressed.pieceCount)).toEqual(progressed.pieceHashes);
    writer.end(source.subarray(Math.floor(source.length * 0.3)));
    // Each poll answers on progress (or at its bound): ask again until the transcode has ended, as the player does.
    let done = await store.manifest("grow2", "opus96", undefined, 1_000);
    for (let polls = 0; !done.complete && polls < 60; polls++)
      done = await store.manifest("grow2", "opus96", undefined, 1_000);
    expect(done.complete).toBe(true);
  });

  it("leaves nothing on disk when the transcode is killed midway, and fails the waiting poll", async () => {
    const writer = fifoTrack("grow3");
    const cacheDir = join(work, "cache-3");
    let pid: number | undefined;
    const store = newStore(cacheDir, 20_000, (started) => (pid = started));
    await store.load();
    const poll = store.manifest("grow3", "opus96", undefined, 0);
    writer.write(source.subarray(0, Math.floor(source.length * 0.4)));
    expect((await poll).pieceCount).toBeGreaterThan(0);
    expect(pid).toBeDefined();
    const next = store.manifest("grow3", "opus96", undefined, 1_000).catch((error: unknown) => error);
    process.kill(pid!, "SIGKILL");
    writer.on("error", () => undefined);
    writer.destroy();
    expect(await next).toMatchObject({ code: "UNPLAYABLE" });
    const dirs = readdirSync(cacheDir);
    expect(dirs.filter((dir) => existsSync(join(cacheDir, dir, "manifest.json")))).toEqual([]);
    const reloaded = newStore(cacheDir);
    await reloaded.load();
    expect(reloaded.stats().renditions).toBe(0);
  });

  it("answers a long-poll on a complete rendition at once", async () => {
    sources.set("whole", join(work, "long.flac"));
    const store = newStore(join(work, "cache-4"));
    const complete = await store.manifest("whole", "opus96");
    expect(complete.complete).toBe(true);
    await expect(store.manifest("whole", "opus96", undefined, complete.pieceCount)).resolves.toEqual(
      complete,
    );
  });
});
