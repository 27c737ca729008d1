// Upgrading a catalog written before albums were rows (migration 002), on SQLite and PostgreSQL: albums show at once,
// every file is read again by the next scan, no track id changes, and a split album's old card opens the whole album.
import { cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogContract, type ParamsOf } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import { migrateService, type Kysely } from "@soundmesh/db";
import {
  SqlCatalogStore,
  catalogManifest,
  catalogMigrations,
  createCatalogService,
  idOf,
  migrateCatalogStore,
} from "@soundmesh/service-catalog";
import { dbTargets, generateRealWorldLibrary, type RealWorldLibrary } from "@soundmesh/test-kit";

const work = mkdtempSync(join(tmpdir(), "soundmesh-catalog-migration-"));
let fixture: RealWorldLibrary;
beforeAll(async () => {
  fixture = await generateRealWorldLibrary();
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

const targets = await dbTargets();

/** Rows as the scanner before 002 wrote them: a track without the album-artist tag made a card of its own. */
function rowsOfOldScanner(library: string) {
  const folder = join(library, "Shiroux Dou/Tide Lines");
  const tracks: Array<[string, string, string]> = [
    ["01 Low Water.ogg", "Shiroux Dou", "Shiroux Dou"],
    ["02 Spring Tide.ogg", "Shiroux Dou feat. Mara Lind", "Shiroux Dou feat. Mara Lind"],
    ["03 Slack.ogg", "Shiroux Dou", "Shiroux Dou"],
    ["04 Neap.ogg", "Shiroux Dou", "Shiroux Dou"],
  ];
  return tracks.map(([file, artist, albumArtist], i) => {
    const path = join(folder, file);
    const info = statSync(path);
    return {
      id: `old-track-${i + 1}`,
      path,
      size_bytes: info.size,
      mtime_ms: Math.floor(info.mtimeMs),
      fingerprint: `fingerprint-${i + 1}`,
      title: file.slice(3, -4),
      artist,
      artist_id: idOf(albumArtist),
      album: "Tide Lines",
      album_id: idOf(albumArtist, "Tide Lines"),
      album_artist: albumArtist,
      compilation: 0,
      track_no: i + 1,
      disc_no: null,
      year: 2019,
      genre: i === 3 ? "Jazz" : "Ambient",
      duration_ms: 1_000,
      codec: "Vorbis I",
      bitrate_kbps: 64,
      mb_track_id: null,
      mb_album_id: null,
      rg_track_db: null,
      rg_album_db: null,
      has_picture: 0,
      folder_cover: null,
      added_at: 1_000 + i,
      updated_at: 1_000,
    };
  });
}

describe.each(targets)("migration 002 on $name", (target) => {
  it("shows albums at once, re-reads every file once and keeps every track id", async () => {
    const opened = await target.open();
    const library = join(work, target.name, "Music");
    cpSync(join(fixture.root, "Shiroux Dou/Tide Lines"), join(library, "Shiroux Dou/Tide Lines"), {
      recursive: true,
    });
    await migrateService(opened.db, "catalog", { "001-library": catalogMigrations["001-library"]! });
    const old = rowsOfOldScanner(library);
    await (opened.db.kysely as Kysely<{ catalog_tracks: (typeof old)[number] }>)
      .insertInto("catalog_tracks")
      .values(old)
      .execute();
    expect(await migrateCatalogStore(opened.db)).toEqual([
      "002-albums-and-credits",
      "003-folders-and-tombstones",
      "004-browse-indexes",
    ]);

    const bus = createInProcessBus();
    const service = createCatalogService({
      config: { libraryFolders: [library], cacheDir: join(work, `cache-${target.name}`) },
      logger: pino({ level: "silent" }),
      bus: bus.connect(catalogManifest),
      store: new SqlCatalogStore(opened.db),
      clock: { now: () => Date.now() },
    });
    await service.start();
    const client = bus.connect({ service: "access-point", calls: ["catalog"] });
    const call = <K extends keyof (typeof catalogContract)["methods"]>(
      method: K,
      params: ParamsOf<typeof catalogContract, K>,
    ) => client.request(catalogContract, method, params);

    // Before any scan: the two cards the old scanner made, as album rows.
    const cardId = idOf("Shiroux Dou feat. Mara Lind", "Tide Lines");
    const albumId = idOf("Shiroux Dou", "Tide Lines");
    const before = await call("albums", {});
    expect(before.items.map((album) => [album.id, album.trackCount]).sort()).toEqual(
      [
        [albumId, 3],
        [cardId, 1],
      ].sort(),
    );

    // 004 made artist rows from the credits 002 filled in, and file names for playlist import, before any scan.
    expect((await call("artists", {})).items.map((artist) => [artist.name, artist.trackCount])).toEqual([
      ["Shiroux Dou", 3],
      ["Shiroux Dou feat. Mara Lind", 1],
    ]);
    const byPath = await call("matchEntries", {
      entries: [{ path: "Shiroux Dou/Tide Lines/04 neap.ogg", artist: null, title: null, durationMs: null }],
    });
    expect(byPath.matches).toEqual([{ trackId: "old-track-4", by: "path" }]);

    service.startScan();
    // Nothing changed on disk, yet every file is read again (the new columns need what only the tags say).
    expect(await service.scanFinished()).toMatchObject({ added: 0, updated: 4, removed: 0, unchanged: 0 });
    const after = (await call("albums", {})) as {
      items: Array<{ id: string; trackCount: number; genre: string }>;
    };
    expect(after.items).toEqual([expect.objectContaining({ id: albumId, trackCount: 4, genre: "Ambient" })]);
    const { tracks } = await call("album", { albumId });
    expect(tracks.map((track) => track.id)).toEqual(old.map((row) => row.id));
    // The old card's id opens the album it joined.
    expect(await call("album", { albumId: cardId })).toMatchObject({ album: { id: albumId, trackCount: 4 } });
    await service.stop();
    await opened.close();
  });
});
