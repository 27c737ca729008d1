// Playlist covers on SQLite and PostgreSQL: an uploaded image (checked, normalised), or a mosaic of album art.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { dbTargets } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, trackRowOf, type Harness } from "./harness";

const targets = await dbTargets({ prepare: preparePlaylistDb });
const colours = [
  { r: 255, g: 0, b: 0 },
  { r: 0, g: 255, b: 0 },
  { r: 0, g: 0, b: 255 },
  { r: 255, g: 255, b: 0 },
];

const solid = (colour: { r: number; g: number; b: number }, format: "png" | "jpeg" = "png") => {
  const image = sharp({ create: { width: 40, height: 40, channels: 3, background: colour } });
  return (format === "png" ? image.png() : image.jpeg()).toBuffer();
};

/** The colour at (x, y) of an image. */
async function pixel(bytes: Uint8Array, x: number, y: number) {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  const at = (y * info.width + x) * info.channels;
  return { r: data[at]!, g: data[at + 1]!, b: data[at + 2]! };
}

const near = (actual: { r: number; g: number; b: number }, expected: { r: number; g: number; b: number }) =>
  Math.abs(actual.r - expected.r) + Math.abs(actual.g - expected.g) + Math.abs(actual.b - expected.b) < 60;

describe.each(targets)("playlist covers on $name", (target) => {
  let h: Harness;
  let artDir: string;
  /** 7000×7000 pixels: 156 KB as a PNG, 147 MB once decoded. */
  let huge: Buffer;
  beforeAll(async () => {
    huge = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: "#884422" } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    artDir = mkdtempSync(join(tmpdir(), "soundmesh-playlist-art-"));
    for (const [i, colour] of colours.entries())
      writeFileSync(join(artDir, `${i}.jpg`), await solid(colour, "jpeg"));
  });
  afterAll(async () => {
    rmSync(artDir, { recursive: true, force: true });
    await target.dispose();
  });
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(() => h.close());

  it("stores an uploaded image as a square JPEG and serves it at each size to those who may see it", async () => {
    const created = await h.call("create", { name: "Covered", isPublic: true });
    const playlistId = created.playlist.id;
    const image = await solid(colours[2]!);
    const info = await h.call("setCover", { playlistId, image });
    expect(info.hasUploadedCover).toBe(true);
    await expect.poll(() => h.events.at(-1)).toMatchObject({ playlistId, membersChanged: true });
    for (const size of [64, 300, 600] as const) {
      const cover = await h.call("cover", { playlistId, size }, "bob");
      expect(cover.mimeType).toBe("image/jpeg");
      expect(await sharp(cover.bytes).metadata()).toMatchObject({
        format: "jpeg",
        width: size,
        height: size,
      });
      expect(near(await pixel(cover.bytes, size / 2, size / 2), colours[2]!)).toBe(true);
    }
    expect((await h.failure("setCover", { playlistId, image }, "bob")).code).toBe("FORBIDDEN");
    expect((await h.failure("setCover", { playlistId, image: Buffer.from("not an image") })).code).toBe(
      "BAD_REQUEST",
    );
    const removed = await h.call("setCover", { playlistId, image: null });
    expect(removed.hasUploadedCover).toBe(false);
    expect((await h.failure("cover", { playlistId, size: 300 })).code).toBe("NOT_FOUND");
  });

  it("keeps a private playlist's cover from others", async () => {
    const created = await h.call("create", { name: "Private" });
    await h.call("setCover", {
      playlistId: created.playlist.id,
      image: await solid(colours[0]!),
    });
    expect((await h.failure("cover", { playlistId: created.playlist.id, size: 64 }, "bob")).code).toBe(
      "NOT_FOUND",
    );
  });

  it("makes a mosaic of the first four albums' art, or shows one album's art when there are fewer", async () => {
    const rows = colours.map((_, i) => ({
      ...trackRowOf({
        id: `t-art${i}`,
        path: `Art/Album ${i}/01 Song.mp3`,
        title: `Song ${i}`,
        artist: "Art",
        album: `Album ${i}`,
      }),
      album_id: `album-art-${i}`,
      folder_cover: join(artDir, `${i}.jpg`),
    }));
    await h.catalog.applyScan({ upserts: rows, deletions: [], errors: [], clearedErrorPaths: [] });
    // A track without art first: its album is skipped.
    const four = await h.call("create", {
      name: "Four",
      trackIds: ["t-blue1", "t-art0", "t-art1", "t-art0", "t-art2", "t-art3"],
    });
    const mosaic = await h.call("cover", { playlistId: four.playlist.id, size: 300 });
    expect(await sharp(mosaic.bytes).metadata()).toMatchObject({ width: 300, height: 300 });
    const quadrants = [
      [75, 75],
      [225, 75],
      [75, 225],
      [225, 225],
    ] as const;
    for (const [i, [x, y]] of quadrants.entries())
      expect(near(await pixel(mosaic.bytes, x, y), colours[i]!), `quadrant ${i}`).toBe(true);

    const two = await h.call("create", { name: "Two", trackIds: ["t-art3", "t-art1"] });
    const single = await h.call("cover", { playlistId: two.playlist.id, size: 64 });
    expect(near(await pixel(single.bytes, 10, 50), colours[3]!)).toBe(true);
    const none = await h.call("create", { name: "None", trackIds: ["t-okc1"] });
    expect((await h.failure("cover", { playlistId: none.playlist.id, size: 64 })).code).toBe("NOT_FOUND");
  });
  it("refuses an upload over 40 megapixels from its header, before decoding it", async () => {
    const { playlist } = await h.call("create", { name: "Huge" });
    const tooLarge = /^The cover is 7000×7000 pixels \(49 megapixels\); at most 40 megapixels are accepted$/;
    const refused = await h.failure("setCover", {
      playlistId: playlist.id,
      image: huge,
    });
    expect(refused).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(tooLarge) });
    // Only the header of this one is whole: decoding it would fail differently, so the header alone refused it.
    const headerOnly = huge.subarray(0, 1_000);
    expect(await h.failure("setCover", { playlistId: playlist.id, image: headerOnly })).toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(tooLarge),
    });
    expect((await h.call("get", { playlistId: playlist.id })).playlist.hasUploadedCover).toBe(false);
  });

  it("makes one mosaic for concurrent first requests of a playlist's cover", async () => {
    const rows = colours.map((_, i) => ({
      ...trackRowOf({
        id: `t-flight${i}`,
        path: `Flight/Album ${i}/01 Song.mp3`,
        title: `Song ${i}`,
        artist: "Flight",
        album: `Flight ${i}`,
      }),
      album_id: `album-flight-${i}`,
      folder_cover: join(artDir, `${i}.jpg`),
    }));
    await h.catalog.applyScan({ upserts: rows, deletions: [], errors: [], clearedErrorPaths: [] });
    const { playlist } = await h.call("create", { name: "Grid", trackIds: rows.map((row) => row.id) });
    const lookups = vi.spyOn(h.catalog, "tracksByIds");
    const covers = await Promise.all(
      Array.from({ length: 20 }, () => h.call("cover", { playlistId: playlist.id, size: 300 })),
    );
    expect(new Set(covers.map((cover) => Buffer.from(cover.bytes).toString("base64"))).size).toBe(1);
    expect(lookups).toHaveBeenCalledTimes(1);
  });
});
