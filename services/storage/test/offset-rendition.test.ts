// An offset rendition (the real ffmpeg): a seek past what a transcode has reached gets the track from that second on,
// its clusters in track time, its pieces hashed and addressed apart from the rendition's own, never cached on disk;
// the rendition itself is still made whole. Bad offsets are refused with typed errors.
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError, storageContract, type StreamManifest } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  createStorageService,
  storageManifest,
  type SchedulerEvent,
  type SourceInfo,
  type StorageService,
} from "@soundmesh/service-storage";
import { writeToneSync } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-offset-"));
const TRACK_MS = 60_000;
const PIECE = 16 * 1024;
let path: string;
let storage: StorageService;
const events: SchedulerEvent[] = [];
const cacheDir = join(work, "cache");

const resolveSource = (trackId: string): Promise<SourceInfo> => {
  if (trackId !== "long") return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  const { size, mtimeMs } = statSync(path);
  return Promise.resolve({ path, sizeBytes: size, mtimeMs, durationMs: TRACK_MS });
};

const bus = createInProcessBus();
const client = bus.connect({ service: "access-point", calls: ["storage"] });
const ask = (params: { havePieces?: number; fromMs?: number; profile?: string }) =>
  client.request(
    storageContract,
    "manifest",
    { trackId: "long", profile: "opus96", ...params },
    { userId: "alice", timeoutMs: 60_000 },
  );
const piece = (index: number, fromMs?: number) =>
  client.request(
    storageContract,
    "piece",
    { trackId: "long", profile: "opus96", index, ...(fromMs === undefined ? {} : { fromMs }) },
    { userId: "alice", timeoutMs: 60_000 },
  );
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  path = writeToneSync(join(work, "long.flac"), { frequency: 440, seconds: 60, codec: ["-c:a", "flac"] });
  storage = createStorageService({
    config: { cacheDir, capBytes: 1e9, pieceSizeBytes: PIECE, waitTimeoutMs: 60_000 },
    logger,
    bus: bus.connect(storageManifest),
    resolveSource,
    onSchedulerEvent: (event) => events.push(event),
  });
  await storage.start();
});
afterAll(async () => {
  await storage.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Follows a growing manifest (long-polls) until it is complete. */
async function follow(params: { fromMs?: number }): Promise<StreamManifest> {
  let manifest = await ask({ ...params, havePieces: 0 });
  while (!manifest.complete) manifest = await ask({ ...params, havePieces: manifest.pieceCount });
  return manifest;
}

describe("an offset rendition", () => {
  it("holds the track from its second on, in track time, with pieces of its own; the rendition is made whole", async () => {
    const [offset, whole] = await Promise.all([follow({ fromMs: 45_000 }), follow({})]);
    expect(offset).toMatchObject({ trackId: "long", profile: "opus96", fromMs: 45_000, complete: true });
    expect(whole.fromMs).toBeUndefined();
    // Its clusters say where they belong on the track's timeline (Opus's pre-skip starts it a few ms early).
    const first = offset.seekIndex![0]!;
    expect(first.timeMs).toBeGreaterThan(44_900);
    expect(first.timeMs).toBeLessThanOrEqual(45_000);
    expect(offset.durationMs).toBeGreaterThan(59_500);
    expect(offset.durationMs).toBeLessThan(60_500);
    // About a quarter of the track's bytes.
    expect(offset.sizeBytes).toBeLessThan(whole.sizeBytes * 0.4);
    expect(offset.sizeBytes).toBeGreaterThan(whole.sizeBytes * 0.15);

    // Each piece matches its own manifest's hash, and the rendition's own pieces are the rendition's.
    for (let index = 0; index < offset.pieceCount; index++)
      expect(sha((await piece(index, 45_000)).bytes)).toBe(offset.pieceHashes[index]);
    expect(sha((await piece(0)).bytes)).toBe(whole.pieceHashes[0]);
    expect(offset.pieceHashes[1]).not.toBe(whole.pieceHashes[1]);
    await expect(piece(offset.pieceCount, 45_000)).rejects.toMatchObject({ code: "NOT_FOUND" });

    // Only the whole rendition is on disk.
    const dirs = readdirSync(cacheDir);
    expect(dirs).toHaveLength(1);
    expect((await ask({})).pieceHashes).toEqual(whole.pieceHashes);
    // Asked again, the same offset rendition comes from memory: no second ffmpeg.
    const started = events.filter((event) => event.type === "started").length;
    expect(await ask({ fromMs: 45_000 })).toEqual(offset);
    expect(events.filter((event) => event.type === "started")).toHaveLength(started);
  });

  it("refuses an offset past the track's end, inside an original, or not on a whole second", async () => {
    await expect(ask({ fromMs: 60_000 })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      message: expect.stringContaining("ends at 60000"),
    });
    await expect(ask({ fromMs: 10_000, profile: "original" })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(ask({ fromMs: 1_500 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(ask({ fromMs: -1_000 })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });
});
