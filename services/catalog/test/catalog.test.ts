// Scanning the generated fixture library and Debian's freedesktop sounds: tags, grouping, covers, incremental rescans, bad files.
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync, unlinkSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogChangedEvent, catalogContract } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import { createDb, type Db } from "@soundmesh/db";
import {
  SqlCatalogStore,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
  titleFromFileName,
} from "@soundmesh/service-catalog";
import {
  dbTargets,
  freedesktopSounds,
  generateFixtureLibrary,
  type FixtureLibrary,
} from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
let fixture: FixtureLibrary;
const work = mkdtempSync(join(tmpdir(), "soundmesh-catalog-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  fixture = await generateFixtureLibrary();
}, 120_000);

async function startCatalog(db: Db, folders: string[]) {
  await migrateCatalogStore(db);
  const bus = createInProcessBus();
  const service = createCatalogService({
    config: { libraryFolders: folders, cacheDir: join(work, `cache-${Math.random()}`) },
    logger,
    bus: bus.connect(catalogManifest),
    store: new SqlCatalogStore(db),
    clock: { now: () => Date.now() },
  });
  await service.start();
  const client = bus.connect({
    service: "access-point",
    calls: ["catalog"],
    subscribes: ["catalog.changed"],
  });
  const scan = async (full = false) => {
    service.startScan(full);
    return (await service.scanFinished())!;
  };
  return { bus, service, client, scan };
}

const call = <K extends keyof typeof catalogContract.methods>(
  client: Awaited<ReturnType<typeof startCatalog>>["client"],
  method: K,
  params: unknown,
) => client.request(catalogContract, method, params as never, { role: "admin", userId: "u1" });

const targets = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });
afterAll(async () => Promise.all(targets.map((target) => target.dispose())));

describe.each(targets)("catalog on $name", (target) => {
  it("reads tags, groups albums and compilations, and reports bad files without stopping", async () => {
    const opened = await target.open();
    const { db } = opened;
    const close = () => opened.close();
    const library = join(work, `lib-${target.name}`);
    cpSync(fixture.root, library, { recursive: true });
    const { client, scan, service } = await startCatalog(db, [library]);
    const result = await scan();
    expect(result).toMatchObject({ added: fixture.audioFiles, errors: fixture.badFiles.length, removed: 0 });

    const artists = await call(client, "artists", {});
    // Every credited artist: the compilation's track artists too.
    expect(artists.items.map((a) => a.name)).toEqual([
      "Alpha",
      "Beta",
      "Field Recordings",
      "Sigur Rós",
      "Solo Artist",
      "The Testers",
      "Various Artists",
    ]);
    const sigur = artists.items.find((a) => a.name === "Sigur Rós")!;
    const [ageatis] = (await call(client, "albumsOfArtist", { artistId: sigur.id })).items;
    expect(ageatis).toMatchObject({
      title: "Ágætis byrjun",
      year: 1999,
      genre: "Post-Rock",
      trackCount: 2,
      hasCover: true,
      compilation: false,
    });
    const { tracks } = await call(client, "album", { albumId: ageatis!.id });
    expect(tracks.map((t) => [t.trackNumber, t.title])).toEqual([
      [1, "Svefn-g-englar"],
      [2, "Starálfur"],
    ]);
    expect(tracks[0]!.replayGain.trackGainDb).toBeCloseTo(-6.5);
    expect(tracks[0]!.musicBrainzTrackId).toBe("00000000-aaaa-bbbb-cccc-dddddddddddd");
    expect(tracks[0]!.durationMs).toBeGreaterThan(1_900);

    const double = (
      await call(client, "albumsOfArtist", {
        artistId: artists.items.find((a) => a.name === "The Testers")!.id,
      })
    ).items[0]!;
    expect(double).toMatchObject({ title: "Double Album", discCount: 2, trackCount: 4, hasCover: true });
    const doubleTracks = (await call(client, "album", { albumId: double.id })).tracks;
    expect(doubleTracks.map((t) => `${t.discNumber}-${t.trackNumber}`)).toEqual(["1-1", "1-2", "2-1", "2-2"]);

    const various = (
      await call(client, "albumsOfArtist", {
        artistId: artists.items.find((a) => a.name === "Various Artists")!.id,
      })
    ).items[0]!;
    expect(various).toMatchObject({ title: "Summer Hits", compilation: true, trackCount: 2 });
    expect((await call(client, "album", { albumId: various.id })).tracks.map((t) => t.artist)).toEqual([
      "Alpha",
      "Beta",
    ]);

    const untagged = (
      await call(client, "albumsOfArtist", {
        artistId: artists.items.find((a) => a.name === "Field Recordings")!.id,
      })
    ).items[0]!;
    expect(untagged.title).toBe("Untagged Set");
    expect(
      (await call(client, "album", { albumId: untagged.id })).tracks.map((t) => [t.trackNumber, t.title]),
    ).toEqual([
      [3, "Morning Birds"],
      [4, "Evening Rain"],
    ]);

    const errors = await call(client, "scanErrors", {});
    expect(errors.total).toBe(3);
    const reasons = Object.fromEntries(errors.items.map((e) => [e.path.slice(library.length + 1), e.reason]));
    expect(reasons["Broken/empty.flac"]).toMatch(/empty/);
    expect(reasons["Broken/notes.txt"]).toMatch(/not an audio file/);
    expect(reasons["Broken/corrupt.mp3"]).toBeTruthy();

    const cover = await call(client, "cover", { albumId: double.id, size: 64 });
    expect(await sharp(cover.bytes).metadata()).toMatchObject({ width: 64, height: 64, format: "jpeg" });
    const folderCover = await call(client, "cover", { albumId: ageatis!.id, size: 300 });
    expect((await sharp(folderCover.bytes).metadata()).width).toBe(300);
    await expect(call(client, "cover", { albumId: untagged.id, size: 64 })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });

    await service.stop();
    await close();
  });

  it("rescans incrementally: unchanged files are not re-read, a moved file keeps its id, a deleted one goes", async () => {
    const opened = await target.open();
    const { db } = opened;
    const close = () => opened.close();
    const library = join(work, `lib-inc-${target.name}`);
    cpSync(fixture.root, library, { recursive: true });
    const { client, scan, bus } = await startCatalog(db, [library]);
    await scan();
    const before = await call(client, "random", { kind: "tracks", limit: 100 });
    const byTitle = new Map(before.tracks.map((t) => [t.title, t]));

    const changed = new Promise((resolve) => void client.subscribe(catalogChangedEvent, resolve));
    expect(await scan()).toMatchObject({
      added: 0,
      updated: 0,
      removed: 0,
      unchanged: fixture.audioFiles + fixture.badFiles.length,
    });

    renameSync(
      join(library, "Solo Artist/Single/01 Only Song.m4a"),
      join(library, "Solo Artist/Single/01 Only Song (moved).m4a"),
    );
    unlinkSync(join(library, "Compilations/Summer Hits/01 Sunny.ogg"));
    const touched = join(library, "Sigur Rós/Ágætis byrjun/02 Starálfur.flac");
    utimesSync(touched, new Date(), new Date(Date.now() + 5_000));
    const result = await scan();
    expect(result).toMatchObject({
      added: 0,
      updated: 2,
      removed: 1,
      unchanged: fixture.audioFiles + fixture.badFiles.length - 3,
    });
    await expect(changed).resolves.toMatchObject({ updated: 2, removed: 1 });

    const moved = await call(client, "track", { trackId: byTitle.get("Only Song")!.id });
    expect(moved.title).toBe("Only Song");
    await expect(call(client, "track", { trackId: byTitle.get("Sunny")!.id })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect((await call(client, "trackSource", { trackId: moved.id })).path).toContain("(moved)");
    await bus.close();
    await close();
  });
});

describe("catalog browsing", () => {
  it("pages, filters by genre and year, and validates parameters", async () => {
    const db = createDb({ kind: "sqlite", file: join(work, "browse.db") });
    const { client, scan } = await startCatalog(db, [fixture.root]);
    await scan();
    expect((await call(client, "genres", {})).map((g) => g.genre)).toEqual([
      "Jazz",
      "Pop",
      "Post-Rock",
      "Rock",
    ]);
    expect((await call(client, "byGenre", { genre: "Rock" })).items.map((a) => a.title)).toEqual([
      "Double Album",
    ]);
    expect((await call(client, "byYear", { year: 2010 })).items.map((a) => a.title)).toEqual(["Summer Hits"]);
    const firstPage = await call(client, "recentlyAdded", { limit: 2, offset: 0 });
    const secondPage = await call(client, "recentlyAdded", { limit: 2, offset: 2 });
    expect(firstPage.total).toBe(5);
    expect(new Set([...firstPage.items, ...secondPage.items].map((a) => a.id)).size).toBe(4);
    const docs = await call(client, "searchDocuments", { cursor: 0, limit: 1000 });
    expect(docs.documents.filter((d) => d.kind === "track")).toHaveLength(fixture.audioFiles);
    expect(docs.nextCursor).toBeNull();
    for (const [method, params] of [
      ["albumsOfArtist", { artistId: "../etc" }],
      ["artists", { limit: 0 }],
      ["artists", { limit: 501 }],
      ["track", { trackId: "a/b" }],
      ["cover", { albumId: "x", size: 123 }],
    ] as const) {
      await expect(call(client, method, params), method).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
    await expect(call(client, "album", { albumId: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await db.close();
  });
});

describe.skipIf(!existsSync(freedesktopSounds) && !process.env.CI)("Debian's sound-theme-freedesktop", () => {
  it("names untagged Ogg files from their file names and the folders below the library folder", async () => {
    const db = createDb({ kind: "sqlite", file: join(work, "freedesktop.db") });
    const { client, scan } = await startCatalog(db, [join(freedesktopSounds, "..")]);
    const result = await scan();
    expect(result.added).toBeGreaterThan(20);
    // The theme's index.theme is the only file that is not audio.
    const errors = await call(client, "scanErrors", {});
    expect(errors.items.map((e) => e.reason)).toEqual(
      Array.from({ length: result.errors }, () => "not an audio file"),
    );
    const { tracks } = await call(client, "random", { kind: "tracks", limit: 500 });
    const bell = tracks.find((t) => t.title === "Bell");
    // The library folder is .../freedesktop: its name is not an artist; nothing below "stereo" names one.
    expect(bell).toMatchObject({ album: "Stereo", artist: "Unknown Artist" });
    expect(tracks.map((t) => t.title)).toContain("Audio Volume Change");
    expect(tracks.every((t) => t.durationMs > 0)).toBe(true);
    await db.close();
  });
});

describe("titles from file names", () => {
  it("strips track and disc numbers and tidies separators", () => {
    expect(titleFromFileName("/x/01 - Some Song.ogg")).toEqual({
      title: "Some Song",
      trackNumber: 1,
      discNumber: null,
    });
    expect(titleFromFileName("/x/1-07 Song.mp3")).toEqual({ title: "Song", trackNumber: 7, discNumber: 1 });
    expect(titleFromFileName("/x/audio-volume-change.oga")).toEqual({
      title: "Audio Volume Change",
      trackNumber: null,
      discNumber: null,
    });
    expect(titleFromFileName("/x/Svefn-g-englar.flac").title).toBe("Svefn-g-englar");
  });
});

describe("watching folders", () => {
  it("rescans by itself when a file appears in a watched folder", async () => {
    const library = join(work, "watched");
    cpSync(join(fixture.root, "Solo Artist"), join(library, "Solo Artist"), { recursive: true });
    const db = createDb({ kind: "sqlite", file: join(work, "watch.db") });
    await migrateCatalogStore(db);
    const bus = createInProcessBus();
    const service = createCatalogService({
      config: {
        libraryFolders: [library],
        cacheDir: join(work, "watch-cache"),
        watch: true,
        watchDebounceMs: 100,
      },
      logger,
      bus: bus.connect(catalogManifest),
      store: new SqlCatalogStore(db),
      clock: { now: () => Date.now() },
    });
    await service.start();
    service.startScan();
    await service.scanFinished();
    const listener = bus.connect({ service: "listener", calls: [], subscribes: ["catalog.changed"] });
    const changed = new Promise((resolve) => void listener.subscribe(catalogChangedEvent, resolve));
    cpSync(join(fixture.root, "Compilations"), join(library, "Compilations"), { recursive: true });
    await expect(changed).resolves.toMatchObject({ added: 2 });
    await service.stop();
    await db.close();
  }, 20_000);
});
