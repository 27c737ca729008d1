// The storage service with the real ffmpeg: verified pieces, early first piece, shared transcodes, LRU, restart, bad input.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  AppError,
  catalogChangedEvent,
  catalogContract,
  storageContract,
  transcodeProgressEvent,
  type HandlersOf,
  type TranscodeStatus,
} from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  RenditionStore,
  createStorageService,
  defaultProfiles,
  storageManifest,
  type SourceInfo,
} from "@soundmesh/service-storage";
import { writeToneSync } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-storage-"));
const sources = new Map<string, string>();
afterAll(() => rmSync(work, { recursive: true, force: true }));

const makeTone = (name: string, seconds: number, codec: string[]): string =>
  writeToneSync(join(work, name), { frequency: 440, seconds, codec });

const resolveSource = (trackId: string): Promise<SourceInfo> => {
  const path = sources.get(trackId);
  if (!path) return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  const { size, mtimeMs } = statSync(path);
  return Promise.resolve({ path, sizeBytes: size, mtimeMs, durationMs: 5_000 });
};

function newStore(
  cacheDir: string,
  overrides: Partial<ConstructorParameters<typeof RenditionStore>[0]> = {},
) {
  return new RenditionStore(
    {
      cacheDir,
      capBytes: 50 * 1024 * 1024,
      pieceSizeBytes: 16 * 1024,
      ffmpegPath: "ffmpeg",
      profiles: defaultProfiles,
      waitTimeoutMs: 20_000,
      ...overrides,
    },
    resolveSource,
    logger,
  );
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

beforeAll(() => {
  sources.set("flac5", makeTone("tone.flac", 5, ["-c:a", "flac"]));
  sources.set("mp3five", makeTone("tone.mp3", 5, ["-c:a", "libmp3lame"]));
  sources.set("wav5", makeTone("tone.wav", 5, ["-c:a", "pcm_s16le"]));
  sources.set("long20", makeTone("long.flac", 20, ["-c:a", "flac"]));
  const corrupt = join(work, "corrupt.mp3");
  writeFileSync(corrupt, Buffer.from("ID3 this is not audio at all ".repeat(200)));
  sources.set("corrupt", corrupt);
});

describe("renditions", () => {
  it("cuts an Opus/WebM rendition into pieces that all match the manifest's hashes", async () => {
    const store = newStore(join(work, "cache-a"));
    await store.load();
    const manifest = await store.manifest("flac5", "opus96");
    expect(manifest).toMatchObject({
      trackId: "flac5",
      profile: "opus96",
      codec: "opus",
      mimeType: 'audio/webm; codecs="opus"',
      pieceSizeBytes: 16_384,
    });
    expect(manifest.durationMs).toBeGreaterThan(4_900);
    expect(manifest.durationMs).toBeLessThan(5_200);
    expect(manifest.pieceCount).toBe(Math.ceil(manifest.sizeBytes / 16_384));
    for (let index = 0; index < manifest.pieceCount; index++) {
      const { bytes } = await store.piece("flac5", "opus96", index);
      expect(sha(bytes), `piece ${index}`).toBe(manifest.pieceHashes[index]);
    }
    expect(manifest.seekIndex!.length).toBeGreaterThan(1);
    expect(manifest.seekIndex![0]).toEqual({ timeMs: 0, byteOffset: expect.any(Number) });
  });

  it("serves the original rendition as the untouched source bytes", async () => {
    const store = newStore(join(work, "cache-b"));
    const manifest = await store.manifest("mp3five", "original");
    expect(manifest).toMatchObject({
      mimeType: "audio/mpeg",
      sizeBytes: statSync(sources.get("mp3five")!).size,
    });
    const bytes = Buffer.concat(
      await Promise.all(
        manifest.pieceHashes.map(async (_, i) => (await store.piece("mp3five", "original", i)).bytes),
      ),
    );
    expect(bytes.equals(readFileSync(sources.get("mp3five")!))).toBe(true);
  });

  it("serves the first piece while the rest is still being transcoded", async () => {
    // The source arrives through a FIFO: ffmpeg cannot finish before the test lets the rest through.
    const fifo = join(work, "slow.fifo");
    execFileSync("mkfifo", [fifo]);
    sources.set("slowly", fifo);
    const store = newStore(join(work, "cache-c"), { pieceSizeBytes: 4 * 1024 });
    const source = readFileSync(sources.get("long20")!);
    const writer = createWriteStream(fifo);
    const first = store.piece("slowly", "opus96", 0);
    writer.write(source.subarray(0, Math.floor(source.length * 0.6)));
    const piece = await first;
    expect(piece.complete).toBe(false);
    expect(piece.bytes.byteLength).toBe(4 * 1024);
    writer.end(source.subarray(Math.floor(source.length * 0.6)));
    const manifest = await store.manifest("slowly", "opus96");
    expect(manifest.pieceHashes[0]).toBe(sha(piece.bytes));
  });

  it("shares one transcode between concurrent requests for the same rendition", async () => {
    const store = newStore(join(work, "cache-d"));
    const results = await Promise.all([
      store.manifest("flac5", "opus160"),
      store.manifest("flac5", "opus160"),
      store.piece("flac5", "opus160", 0),
    ]);
    expect(store.stats().transcodesStarted).toBe(1);
    expect(results[0].pieceHashes).toEqual(results[1].pieceHashes);
  });

  it("evicts the least recently used rendition past the size cap", async () => {
    const sizeOf = async (trackId: string) =>
      (await newStore(join(work, "cache-size")).manifest(trackId, "opus96")).sizeBytes;
    const [a, b, c] = [await sizeOf("flac5"), await sizeOf("mp3five"), await sizeOf("wav5")];
    // Opus output varies by a few bytes between runs: leave a little room, far less than a third rendition.
    const store = newStore(join(work, "cache-e"), { capBytes: a + c + 2_000 });
    await store.manifest("flac5", "opus96");
    await store.manifest("mp3five", "opus96");
    await store.manifest("flac5", "opus96"); // touch: mp3five is now the least recently used
    await store.manifest("wav5", "opus96");
    expect(store.stats()).toMatchObject({ evictions: 1, renditions: 2 });
    expect(store.stats().cachedBytes).toBeLessThanOrEqual(a + c + 2_000);
    await store.manifest("flac5", "opus96");
    expect(store.stats().transcodesStarted).toBe(3);
    await store.manifest("mp3five", "opus96");
    expect(store.stats().transcodesStarted).toBe(4);
    expect(b).toBeGreaterThan(0);
  });

  it("keeps complete renditions across a restart and drops one cut short by a crash", async () => {
    const cacheDir = join(work, "cache-f");
    const first = newStore(cacheDir);
    await first.load();
    const manifest = await first.manifest("flac5", "opus96");
    const partial = join(cacheDir, "deadbeefdeadbeefdeadbeefdeadbeef");
    mkdirSync(partial);
    writeFileSync(join(partial, "data.tmp"), "half a rendition");
    const second = newStore(cacheDir);
    await second.load();
    expect(existsSync(partial)).toBe(false);
    expect(second.stats().renditions).toBe(1);
    await expect(second.manifest("flac5", "opus96")).resolves.toEqual(manifest);
    expect(second.stats().transcodesStarted).toBe(0);
  });

  it("reports an undecodable file as UNPLAYABLE and a missing ffmpeg as DEPENDENCY_MISSING naming the fix", async () => {
    await expect(newStore(join(work, "cache-g")).manifest("corrupt", "opus96")).rejects.toMatchObject({
      code: "UNPLAYABLE",
    });
    const error = await newStore(join(work, "cache-h"), { ffmpegPath: "/nonexistent/ffmpeg" })
      .manifest("flac5", "opus96")
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "DEPENDENCY_MISSING",
      message: expect.stringContaining("apt-get install ffmpeg"),
    });
  });
});

describe("storage service over the bus", () => {
  it("refuses path-like and unknown ids, unknown profiles, and out-of-range pieces and ranges", async () => {
    const bus = createInProcessBus();
    const service = createStorageService({
      config: { cacheDir: join(work, "cache-bus"), capBytes: 1e8 },
      logger,
      bus: bus.connect(storageManifest),
      resolveSource,
    });
    await service.start();
    const client = bus.connect({ service: "access-point", calls: ["storage"] });
    for (const trackId of ["../../etc/passwd", "/etc/passwd", "a b", "", "x".repeat(65)]) {
      await expect(
        client.request(storageContract, "manifest", { trackId, profile: "opus96" }),
        trackId,
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
    await expect(
      client.request(storageContract, "manifest", { trackId: "nope", profile: "opus96" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      client.request(storageContract, "manifest", { trackId: "flac5", profile: "mp3320" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    const manifest = await client.request(storageContract, "manifest", {
      trackId: "flac5",
      profile: "opus96",
    });
    await expect(
      client.request(storageContract, "piece", {
        trackId: "flac5",
        profile: "opus96",
        index: manifest.pieceCount,
      }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      client.request(storageContract, "range", {
        trackId: "flac5",
        profile: "opus96",
        start: manifest.sizeBytes,
        endInclusive: manifest.sizeBytes + 10,
      }),
    ).rejects.toMatchObject({ code: "RANGE_NOT_SATISFIABLE" });
    const piece = await client.request(storageContract, "piece", {
      trackId: "flac5",
      profile: "opus96",
      index: 0,
    });
    expect(sha(piece.bytes)).toBe(manifest.pieceHashes[0]);
    await service.stop();
  });

  it("transcodes ahead of time in the background", async () => {
    const bus = createInProcessBus();
    const service = createStorageService({
      config: { cacheDir: join(work, "cache-prepare"), capBytes: 1e8 },
      logger,
      bus: bus.connect(storageManifest),
      resolveSource,
    });
    await service.start();
    const client = bus.connect({ service: "catalog", calls: ["storage"] });
    await expect(
      client.request(storageContract, "prepare", { trackIds: ["flac5", "mp3five"] }),
    ).resolves.toEqual({ queued: 2 });
    await service.idle();
    expect(await client.request(storageContract, "stats", {})).toMatchObject({
      renditions: 2,
      transcodesStarted: 2,
      queued: 0,
    });
    await service.stop();
  });

  it("follows catalog.changed: the newest tracks a scan added are transcoded ahead, up to prepareAfterScan", async () => {
    const bus = createInProcessBus();
    const service = createStorageService({
      config: { cacheDir: join(work, "cache-after-scan"), capBytes: 1e8, prepareAfterScan: 2 },
      logger,
      bus: bus.connect(storageManifest),
      resolveSource,
    });
    const asked: Array<{ limit: number; offset: number }> = [];
    const catalog = bus.connect({ service: "catalog", calls: [], publishes: ["catalog.changed"] });
    const handlers = Object.fromEntries(
      Object.keys(catalogContract.methods).map((method) => [
        method,
        () => {
          throw new AppError("INTERNAL", `catalog.${method} is not part of this test`);
        },
      ]),
    ) as unknown as HandlersOf<typeof catalogContract>;
    handlers.recentTrackIds = ({ limit, offset }) => {
      asked.push({ limit, offset });
      return { trackIds: ["flac5", "mp3five", "wav5"].slice(offset, offset + limit) };
    };
    await catalog.serve(catalogContract, handlers);
    await service.start();
    const client = bus.connect({ service: "access-point", calls: ["storage"] });

    // Only updated or removed tracks: nothing to prepare, the catalog is not even asked.
    await catalog.publish(catalogChangedEvent, { scanId: "s1", added: 0, updated: 4, removed: 1 });
    await catalog.publish(catalogChangedEvent, { scanId: "s2", added: 5, updated: 0, removed: 0 });
    await vi.waitFor(() => expect(asked).toEqual([{ limit: 2, offset: 0 }]));
    await vi.waitFor(async () =>
      expect(await client.request(storageContract, "transcodeStatus", {})).toMatchObject({ total: 2 }),
    );
    await service.idle();
    expect(await client.request(storageContract, "stats", {})).toMatchObject({ renditions: 2, queued: 0 });
    await service.stop();
  });

  it("transcodes the newest tracks on an admin's word, publishing the batch's progress to the end", async () => {
    const bus = createInProcessBus();
    const service = createStorageService({
      config: { cacheDir: join(work, "cache-ahead"), capBytes: 1e8, progressEveryMs: 0 },
      logger,
      bus: bus.connect(storageManifest),
      resolveSource,
    });
    // The catalog's newest tracks: one of them cannot be decoded.
    const newest = ["wav5", "corrupt", "flac5", "mp3five"];
    const asked: Array<{ limit: number; offset: number }> = [];
    const catalog = bus.connect({ service: "catalog", calls: [] });
    // Only recentTrackIds is needed: every other catalog method fails loudly.
    const handlers = Object.fromEntries(
      Object.keys(catalogContract.methods).map((method) => [
        method,
        () => {
          throw new AppError("INTERNAL", `catalog.${method} is not part of this test`);
        },
      ]),
    ) as unknown as HandlersOf<typeof catalogContract>;
    handlers.recentTrackIds = ({ limit, offset }) => {
      asked.push({ limit, offset });
      return { trackIds: newest.slice(offset, offset + limit) };
    };
    await catalog.serve(catalogContract, handlers);
    await service.start();
    const progress: TranscodeStatus[] = [];
    const watcher = bus.connect({
      service: "access-point",
      calls: ["storage"],
      subscribes: ["storage.transcodeProgress"],
    });
    await watcher.subscribe(transcodeProgressEvent, (status) => void progress.push(status));

    const started = await watcher.request(storageContract, "transcodeAhead", { tracks: 3 });
    expect(asked).toEqual([{ limit: 3, offset: 0 }]);
    expect(started).toMatchObject({ working: true, total: 3 });
    // Asking again while they are under way queues nothing twice.
    expect(await watcher.request(storageContract, "prepare", { trackIds: ["wav5", "flac5"] })).toEqual({
      queued: 0,
    });
    await service.idle();
    await vi.waitFor(() => expect(progress.at(-1)).toEqual({ working: false, done: 2, failed: 1, total: 3 }));
    // Progress only grows, and each event adds up.
    for (const [i, status] of progress.entries()) {
      expect(status.done + status.failed).toBeLessThanOrEqual(status.total);
      if (i > 0)
        expect(status.done + status.failed).toBeGreaterThanOrEqual(
          progress[i - 1]!.done + progress[i - 1]!.failed,
        );
    }
    expect(await watcher.request(storageContract, "transcodeStatus", {})).toEqual({
      working: false,
      done: 2,
      failed: 1,
      total: 3,
    });

    // A new batch starts counting afresh; renditions already made are done at once.
    await watcher.request(storageContract, "transcodeAhead", { tracks: 10 });
    await service.idle();
    await vi.waitFor(async () =>
      expect(await watcher.request(storageContract, "transcodeStatus", {})).toEqual({
        working: false,
        done: 3,
        failed: 1,
        total: 4,
      }),
    );
    await expect(
      watcher.request(storageContract, "transcodeAhead", { tracks: 1, profiles: ["mp3320"] }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    for (const params of [
      { tracks: 0 },
      { tracks: -1 },
      { tracks: 1.5 },
      { profiles: [] },
      { profiles: ["../x"] },
    ])
      await expect(
        watcher.request(storageContract, "transcodeAhead", params as never),
        JSON.stringify(params),
      ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await service.stop();
  });
});
