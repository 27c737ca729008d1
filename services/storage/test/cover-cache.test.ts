// A storage node's covers on its disk: fetched once from the origin however many ask at once, kept under a unique
// temporary name renamed into place, read back from disk, fetched again after a catalog change or a day.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AppError, type CoverImage } from "@soundmesh/protocol";
import { CoverCache } from "../src/cover-cache";

const logger = pino({ level: "silent" });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "soundmesh-cover-cache-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An origin whose answers the test releases: counts calls, answers `bytes` for each. */
function heldOrigin(mimeType = "image/jpeg") {
  const calls: Array<{ albumId: string; size: number; release: () => void }> = [];
  let version = 0;
  const origin = (albumId: string, size: number): Promise<CoverImage> =>
    new Promise((resolve) => {
      version += 1;
      const bytes = new Uint8Array([0xff, 0xd8, size % 256, version]);
      calls.push({ albumId, size, release: () => resolve({ bytes, mimeType }) });
    });
  return { origin, calls };
}

describe("CoverCache", () => {
  it("fetches a cover once for many concurrent requests, keeps it whole on disk and reads it back", async () => {
    const { origin, calls } = heldOrigin();
    const cache = new CoverCache({ dir: join(dir, "covers"), origin, logger });
    const asked = Array.from({ length: 20 }, () => cache.cover("album1", 300));
    await expect.poll(() => calls.length).toBe(1);
    calls[0]!.release();
    const answers = await Promise.all(asked);
    expect(new Set(answers.map((a) => Buffer.from(a.bytes).toString("hex"))).size).toBe(1);
    expect(readdirSync(join(dir, "covers"))).toEqual(["album1-300.jpg"]);
    expect(readFileSync(cache.fileOf("album1", 300))).toEqual(Buffer.from(answers[0]!.bytes));
    const again = await cache.cover("album1", 300);
    expect(Buffer.from(again.bytes)).toEqual(Buffer.from(answers[0]!.bytes));
    expect(calls).toHaveLength(1);
    expect({ hits: cache.hits, fetches: cache.fetches }).toEqual({ hits: 1, fetches: 1 });
  });

  it("fetches again after the catalog changed or past the age limit, and does not keep what was made before a change", async () => {
    let now = Date.now();
    const { origin, calls } = heldOrigin();
    const cache = new CoverCache({ dir, origin, logger, nowMs: () => now, maxAgeMs: 60_000 });
    const first = cache.cover("album1", 64);
    await expect.poll(() => calls.length).toBe(1);
    calls[0]!.release();
    await first;
    now += 1_000;
    cache.forget();
    const second = cache.cover("album1", 64);
    await expect.poll(() => calls.length).toBe(2);
    // A change while this fetch is under way: its answer is given but not kept.
    now += 1_000;
    cache.forget();
    calls[1]!.release();
    expect((await second).bytes[3]).toBe(2);
    const third = cache.cover("album1", 64);
    await expect.poll(() => calls.length).toBe(3);
    calls[2]!.release();
    expect((await third).bytes[3]).toBe(3);
    expect((await cache.cover("album1", 64)).bytes[3]).toBe(3);
    now += 2 * 60_000;
    const old = cache.cover("album1", 64);
    await expect.poll(() => calls.length).toBe(4);
    calls[3]!.release();
    expect((await old).bytes[3]).toBe(4);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("passes on the origin's refusal and keeps nothing that is not a JPEG", async () => {
    const refusing = new CoverCache({
      dir,
      origin: () => Promise.reject(new AppError("NOT_FOUND", "This album has no cover art")),
      logger,
    });
    await expect(refusing.cover("album2", 300)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const { origin, calls } = heldOrigin("image/png");
    const png = new CoverCache({ dir, origin, logger });
    const answer = png.cover("album3", 300);
    await expect.poll(() => calls.length).toBe(1);
    calls[0]!.release();
    expect((await answer).mimeType).toBe("image/png");
    expect(readdirSync(dir)).toEqual([]);
  });
});
