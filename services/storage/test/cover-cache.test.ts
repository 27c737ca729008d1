// A storage node's covers on its disk: fetched once from the origin however many ask at once, kept under a unique
// temporary name renamed into place, read back from disk, fetched again after a catalog change or a day.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
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

  it("keeps the folder under its cap, letting the least recently answered covers go, across restarts", async () => {
    // Covers of 1,000 bytes; the folder holds 3,500 bytes.
    const origin = (albumId: string): Promise<CoverImage> =>
      Promise.resolve({ bytes: new Uint8Array(1_000).fill(albumId.charCodeAt(5)), mimeType: "image/jpeg" });
    const covers = join(dir, "covers");
    // What a previous run left: two covers (album0 the older) and a temporary file of a write cut short.
    mkdirSync(covers, { recursive: true });
    for (const [index, name] of ["album0-64.jpg", "album9-64.jpg"].entries()) {
      writeFileSync(join(covers, name), new Uint8Array(1_000));
      const at = Date.now() / 1000 - 100 + index;
      utimesSync(join(covers, name), at, at);
    }
    writeFileSync(join(covers, "album5-64.jpg.123.abc.tmp"), new Uint8Array(500));
    const cache = new CoverCache({ dir: covers, origin, logger, maxBytes: 3_500 });
    await cache.cover("album1", 64);
    // Measured at start: the temporary file gone, the three covers counted.
    expect(readdirSync(covers).sort()).toEqual(["album0-64.jpg", "album1-64.jpg", "album9-64.jpg"]);
    expect(cache.bytes).toBe(3_000);
    // album0 answered again: album9 is now the least recently answered, and goes for album2.
    await cache.cover("album0", 64);
    await cache.cover("album2", 64);
    expect(readdirSync(covers).sort()).toEqual(["album0-64.jpg", "album1-64.jpg", "album2-64.jpg"]);
    expect(cache.bytes).toBe(3_000);
    // The one gone is fetched again when asked, and answers whole.
    const back = await cache.cover("album9", 64);
    expect(back.bytes).toHaveLength(1_000);
    expect(readdirSync(covers)).toHaveLength(3);
    expect(cache.fetches).toBe(3);
  });
});
