// Album covers under load and abuse: concurrent first requests share one resize, a few decodes at a time, and art over
// the pixel cap is refused from its header (recorded by the scan, never decoded) — on SQLite.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogContract } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import { createDb } from "@soundmesh/db";
import {
  AlbumCovers,
  SqlCatalogStore,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
} from "@soundmesh/service-catalog";
import { writeToneSync } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-covers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ffmpeg = (args: string[]) =>
  execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args]);
/** A solid-colour image made by ffmpeg: a huge one costs little on disk and a lot once decoded. */
const image = (file: string, colour: string, side: number) => {
  ffmpeg(["-f", "lavfi", "-i", `color=c=${colour}:s=${side}x${side}:d=1`, "-frames:v", "1", file]);
  return file;
};
let tone: string;
let huge: string;
beforeAll(() => {
  tone = writeToneSync(join(work, "tone.flac"), { frequency: 330, seconds: 1, codec: ["-c:a", "flac"] });
  huge = image(join(work, "huge.png"), "0x884422", 7000);
});

/** An album folder with one tagged track. */
function album(library: string, name: string): string {
  const dir = join(library, "Grid Artist", name);
  mkdirSync(dir, { recursive: true });
  ffmpeg([
    "-i",
    tone,
    "-metadata",
    `album=${name}`,
    "-metadata",
    "artist=Grid Artist",
    "-c:a",
    "copy",
    join(dir, "01.flac"),
  ]);
  return dir;
}

async function startCatalog(library: string, covers = {}) {
  const db = createDb({ kind: "sqlite", file: join(work, `catalog-${Math.random()}.db`) });
  await migrateCatalogStore(db);
  const bus = createInProcessBus();
  const cacheDir = join(work, `cache-${Math.random()}`);
  const service = createCatalogService({
    config: { libraryFolders: [library], cacheDir, covers },
    logger,
    bus: bus.connect(catalogManifest),
    store: new SqlCatalogStore(db),
    clock: { now: () => Date.now() },
  });
  await service.start();
  const client = bus.connect({ service: "access-point", calls: ["catalog"] });
  const scan = async (full = false) => {
    service.startScan(full);
    return (await service.scanFinished())!;
  };
  const albums = async () =>
    (
      await client.request(catalogContract, "albumsOfArtist", {
        artistId: (await artistId())!,
        limit: 100,
        offset: 0,
      })
    ).items;
  const artistId = async () =>
    (await client.request(catalogContract, "artists", { limit: 10, offset: 0 })).items.find(
      (artist) => artist.name === "Grid Artist",
    )?.id;
  const cover = (albumId: string, size: 64 | 300 | 600) =>
    client.request(catalogContract, "cover", { albumId, size }, { userId: "u1" });
  const scanErrors = async () =>
    (await client.request(catalogContract, "scanErrors", { limit: 100, offset: 0 }, { role: "admin" })).items;
  return {
    service,
    scan,
    albums,
    cover,
    scanErrors,
    coversDir: join(cacheDir, "covers"),
    async close() {
      await service.stop();
      await db.close();
    },
  };
}

describe("album covers", () => {
  it("answers 180 concurrent first requests for a grid of albums with one resize per cover and size", async () => {
    const library = join(work, "grid");
    const colours = [
      "red",
      "green",
      "blue",
      "yellow",
      "cyan",
      "magenta",
      "white",
      "orange",
      "purple",
      "pink",
      "gray",
      "brown",
    ];
    for (const [i, colour] of colours.entries())
      image(join(album(library, `Album ${i}`), "cover.jpg"), colour, 400);
    const catalog = await startCatalog(library, { maxConcurrentDecodes: 2 });
    try {
      await catalog.scan();
      const albums = await catalog.albums();
      expect(albums).toHaveLength(12);
      const asks = albums.flatMap((entry) =>
        ([64, 300, 600] as const).flatMap((size) =>
          Array.from({ length: 5 }, () => ({ albumId: entry.id, size })),
        ),
      );
      expect(asks).toHaveLength(180);
      const answers = await Promise.all(asks.map(({ albumId, size }) => catalog.cover(albumId, size)));
      const bytesBy = new Map<string, Set<string>>();
      for (const [i, { albumId, size }] of asks.entries()) {
        const key = `${albumId}:${size}`;
        bytesBy.set(
          key,
          (bytesBy.get(key) ?? new Set()).add(Buffer.from(answers[i]!.bytes).toString("base64")),
        );
      }
      // Identical bytes for every request of one cover and size, and 36 different covers.
      expect([...bytesBy.values()].every((set) => set.size === 1)).toBe(true);
      expect(new Set([...bytesBy.values()].map((set) => [...set][0])).size).toBe(36);
      for (const { albumId, size } of asks.slice(0, 15)) {
        const answer = answers[asks.findIndex((ask) => ask.albumId === albumId && ask.size === size)]!;
        expect(await sharp(answer.bytes).metadata()).toMatchObject({
          format: "jpeg",
          width: size,
          height: size,
        });
      }
      expect(catalog.service.covers.gate.decodes).toBe(36);
      expect(catalog.service.covers.gate.peak).toBeLessThanOrEqual(2);
      // Every writer renamed its own temporary file into place: 36 covers, no leftovers.
      const files = readdirSync(catalog.coversDir);
      expect(files.filter((name) => name.endsWith(".jpg"))).toHaveLength(36);
      expect(files.filter((name) => name.endsWith(".tmp"))).toEqual([]);
      // Cached now: no more decoding.
      await catalog.cover(albums[0]!.id, 300);
      expect(catalog.service.covers.gate.decodes).toBe(36);
    } finally {
      await catalog.close();
    }
  });

  it("refuses art over the pixel cap from its header: the scan records why, and it is never decoded", async () => {
    const library = join(work, "huge");
    // A huge cover.png beside a small folder.jpg: the small one is used.
    const both = album(library, "Both Images");
    copyFileSync(huge, join(both, "cover.png"));
    image(join(both, "folder.jpg"), "teal", 300);
    // Only a huge embedded picture: the album has no cover.
    const embedded = join(library, "Grid Artist", "Embedded");
    mkdirSync(embedded, { recursive: true });
    ffmpeg([
      "-i",
      tone,
      "-i",
      huge,
      "-map",
      "0:a",
      "-map",
      "1:v",
      "-c:v",
      "mjpeg",
      "-disposition:v",
      "attached_pic",
      "-metadata",
      "album=Embedded",
      "-metadata",
      "artist=Grid Artist",
      "-c:a",
      "libmp3lame",
      "-id3v2_version",
      "3",
      join(embedded, "01.mp3"),
    ]);
    // A small cover, swapped for a huge one after the scan: the request itself checks the header.
    const swapped = album(library, "Swapped Later");
    image(join(swapped, "cover.png"), "navy", 200);

    const catalog = await startCatalog(library, { maxPixels: 40_000_000 });
    try {
      const result = await catalog.scan();
      expect(result).toMatchObject({ added: 3, errors: 2 });
      const reasons = Object.fromEntries(
        (await catalog.scanErrors()).map((error) => [error.path.slice(library.length + 1), error.reason]),
      );
      expect(reasons).toEqual({
        "Grid Artist/Both Images/cover.png": expect.stringMatching(
          /^folder cover art not shown: 7000×7000 pixels \(49 megapixels\) is over the 40-megapixel limit$/,
        ),
        "Grid Artist/Embedded/01.mp3": expect.stringMatching(
          /^embedded cover art not shown: 7000×7000 pixels/,
        ),
      });
      const byTitle = Object.fromEntries((await catalog.albums()).map((entry) => [entry.title, entry]));
      expect(byTitle["Embedded"]).toMatchObject({ hasCover: false });

      const fromFolder = await catalog.cover(byTitle["Both Images"]!.id, 64);
      expect(await sharp(fromFolder.bytes).metadata()).toMatchObject({ width: 64, height: 64 });
      expect(catalog.service.covers.gate.decodes).toBe(1);

      copyFileSync(huge, join(swapped, "cover.png"));
      utimesSync(join(swapped, "cover.png"), new Date(), new Date(Date.now() + 5_000));
      await expect(catalog.cover(byTitle["Swapped Later"]!.id, 300)).rejects.toMatchObject({
        code: "NOT_FOUND",
        message: expect.stringMatching(/too large to show: 7000×7000 pixels/),
      });
      expect(catalog.service.covers.gate.decodes).toBe(1);

      // A fine image in its place, found by a full scan: the record goes and the image is used.
      image(join(both, "cover.png"), "olive", 300);
      expect((await catalog.scan(true)).errors).toBe(2);
      const after = (await catalog.scanErrors()).map((error) => error.path.slice(library.length + 1));
      expect(after).toEqual(["Grid Artist/Embedded/01.mp3", "Grid Artist/Swapped Later/cover.png"]);
      // An incremental scan keeps what it did not look at again.
      await catalog.scan();
      expect((await catalog.scanErrors()).map((error) => error.path.slice(library.length + 1))).toEqual(
        after,
      );
    } finally {
      await catalog.close();
    }
  });

  it("decodes the same huge image when the cap allows it (the decode counter sees decodes)", async () => {
    const covers = new AlbumCovers(
      join(work, "cap-raised"),
      { maxPixels: 50_000_000, maxConcurrentDecodes: 1 },
      logger,
    );
    const track = { path: join(work, "none.flac"), mtime_ms: 0, has_picture: 0, folder_cover: huge };
    const cover = await covers.cover("albumhuge", [track as never], 64);
    expect(await sharp(cover.bytes).metadata()).toMatchObject({ width: 64, height: 64 });
    expect(covers.gate.decodes).toBe(1);
    const capped = new AlbumCovers(
      join(work, "cap-default"),
      { maxPixels: 40_000_000, maxConcurrentDecodes: 1 },
      logger,
    );
    await expect(capped.cover("albumhuge", [track as never], 64)).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(capped.gate.decodes).toBe(0);
  });
});
