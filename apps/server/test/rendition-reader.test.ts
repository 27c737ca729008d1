// The access point's rendition reader over the bus (for an access point without storage beside it) reads what
// storage's own store reads: the same manifests, pieces and ranges, the same refusals, with a real storage service
// and ffmpeg on the in-process bus.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import { AppError } from "@soundmesh/protocol";
import {
  accessPointManifest,
  busRenditionReader,
  type RenditionReader,
} from "@soundmesh/service-access-point";
import { createStorageService, storageManifest, type StorageService } from "@soundmesh/service-storage";
import { writeToneSync } from "@soundmesh/test-kit";

const work = mkdtempSync(join(tmpdir(), "soundmesh-reader-"));
const tone = join(work, "tone.flac");
let bus: Bus;
let storage: StorageService;
let reader: RenditionReader;
const listener = { userId: "u1", traceId: "t1" };

beforeAll(async () => {
  writeToneSync(tone, { frequency: 440, seconds: 6, codec: ["-c:a", "flac"] });
  bus = createInProcessBus();
  storage = createStorageService({
    config: { cacheDir: join(work, "cache"), capBytes: 1e8 },
    logger: pino({ level: "silent" }),
    bus: bus.connect(storageManifest),
    resolveSource: (trackId) => {
      if (trackId !== "tone1") return Promise.reject(new AppError("NOT_FOUND", "No such track"));
      const { size, mtimeMs } = statSync(tone);
      return Promise.resolve({ path: tone, sizeBytes: size, mtimeMs, durationMs: 6_000 });
    },
  });
  await storage.start();
  reader = busRenditionReader(bus.connect(accessPointManifest));
});
afterAll(async () => {
  await storage.stop();
  await bus.close();
  rmSync(work, { recursive: true, force: true });
});

describe("busRenditionReader", () => {
  it("reads the manifest, every piece and a range as storage's store does, original and transcoded", async () => {
    for (const profile of ["original", "opus96"]) {
      const viaBus = await reader.manifest("tone1", profile, listener);
      expect(viaBus).toEqual(await storage.store.manifest("tone1", profile, listener));
      expect(viaBus.pieceHashes.length).toBeGreaterThan(0);
      for (let index = 0; index < viaBus.pieceHashes.length; index++) {
        const { bytes } = await reader.piece("tone1", profile, index, listener);
        const direct = await storage.store.piece("tone1", profile, index, listener);
        expect(Buffer.from(bytes).equals(Buffer.from(direct.bytes)), `${profile} piece ${index}`).toBe(true);
      }
      const end = Math.min(viaBus.sizeBytes - 1, 70_000);
      const range = await reader.range("tone1", profile, 1_000, end, listener);
      expect(range.byteLength).toBe(end - 1_000 + 1);
      expect(
        Buffer.from(range).equals(
          Buffer.from(await storage.store.range("tone1", profile, 1_000, end, listener)),
        ),
      ).toBe(true);
    }
  });

  it("answers a long-poll with the pieces known past havePieces, and refuses what storage refuses", async () => {
    const complete = await reader.manifest("tone1", "opus96", listener);
    expect(await reader.manifest("tone1", "opus96", listener, 0)).toMatchObject({
      pieceHashes: complete.pieceHashes,
    });
    await expect(reader.manifest("nosuchtrack", "opus96", listener)).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(reader.piece("tone1", "opus96", 999_999, listener)).rejects.toBeInstanceOf(AppError);
  });
});
