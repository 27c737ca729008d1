// Browse queries over the rows derived in each scan (004-browse-indexes), on SQLite and PostgreSQL: artist rows follow
// every scan, pages in every order list each album or artist once and end cleanly, random tracks are distinct, and
// playlist import finds files by name whatever their case.
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { SqlCatalogStore, idOf, migrateCatalogStore } from "@soundmesh/service-catalog";
import { dbTargets } from "@soundmesh/test-kit";
import { matchEntries } from "../src/playlist-matching";
import { drawIds } from "../src/random-rows";

type Upsert = Parameters<SqlCatalogStore["applyScan"]>[0]["upserts"][number];

/** A scanned track of `album` by `albumArtist`; the artist tag may credit more than one. */
function track(n: number, album: string, albumArtist: string, over: Partial<Upsert> = {}): Upsert {
  const artist = over.artist ?? albumArtist;
  return {
    id: `t${n}`,
    path: `/music/${albumArtist}/${album}/${String(n).padStart(2, "0")} Song ${n}.MP3`,
    size_bytes: 1,
    mtime_ms: 1,
    fingerprint: `f${n}`,
    title: `Song ${n}`,
    artist,
    artist_id: idOf(artist),
    album,
    album_id: idOf(albumArtist, album),
    album_artist: albumArtist,
    compilation: 0,
    track_no: n,
    disc_no: null,
    year: 1990 + (n % 7),
    genre: "Rock",
    duration_ms: 1_000,
    codec: "MPEG 1 Layer 3",
    bitrate_kbps: 128,
    mb_track_id: null,
    mb_album_id: null,
    rg_track_db: null,
    rg_album_db: null,
    has_picture: 0,
    folder_cover: null,
    added_at: 1_000 + n,
    updated_at: 1_000 + n,
    album_folder: `/music/${albumArtist}/${album}`,
    ...over,
  };
}

const scan = (store: SqlCatalogStore, upserts: Upsert[], deletions: string[] = []) =>
  store.applyScan({ upserts, deletions, errors: [], clearedErrorPaths: [] });

const targets = await dbTargets({ prepare: async (db) => void (await migrateCatalogStore(db)) });
afterAll(async () => Promise.all(targets.map((target) => target.dispose())));

describe.each(targets)("browse rows on $name", (target) => {
  it("keeps artist rows in step with every scan: counts, guests, and an artist no longer credited gone", async () => {
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      await scan(store, [
        track(1, "First", "alpha"),
        track(2, "First", "alpha", { artist: "alpha feat. Beta" }),
        track(3, "Second", "alpha"),
        track(4, "Solo", "Gamma"),
      ]);
      const names = await store.artists("name", 50, 0);
      expect(names.total).toBe(3);
      // By name whatever the case: alpha, Beta, Gamma.
      expect(names.items.map((a) => [a.name, a.albumCount, a.appearsOnCount, a.trackCount])).toEqual([
        ["alpha", 2, 0, 3],
        ["Beta", 0, 1, 1],
        ["Gamma", 1, 0, 1],
      ]);
      expect((await store.artists("recent", 50, 0)).items.map((a) => a.name)).toEqual([
        "Gamma",
        "alpha",
        "Beta",
      ]);
      // The guest's track is retagged, then Gamma's only track goes: both lose their rows.
      await scan(store, [track(2, "First", "alpha")], ["t4"]);
      const after = await store.artists("name", 50, 0);
      expect(after.items.map((a) => [a.name, a.trackCount])).toEqual([["alpha", 3]]);
      expect(after.total).toBe(1);
      expect((await store.artists("name", 1, 0, idOf("Gamma"))).items).toEqual([]);
    } finally {
      await opened.close();
    }
  });

  it("pages every order of albums and artists to the end: each once, then an empty page with the same total", async () => {
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      const upserts: Upsert[] = [];
      for (let a = 0; a < 23; a++) {
        // Mixed case and shared years, so the order's later keys (and the id) decide ties.
        const artist = a % 2 === 0 ? `artist ${a % 5}` : `Artist ${a % 5}`;
        upserts.push(
          track(a, a % 3 === 0 ? `album ${a}` : `Album ${a}`, artist, {
            year: a % 4 === 0 ? null : 2000 + (a % 3),
          }),
        );
      }
      await scan(store, upserts);
      for (const order of ["title", "artist", "year", "recent"] as const) {
        const whole = await store.albums({}, order, 500, 0);
        expect(whole.total).toBe(23);
        const paged = [];
        for (let offset = 0; offset < 30; offset += 5)
          paged.push(...(await store.albums({}, order, 5, offset)).items);
        expect(paged.map((album) => album.id)).toEqual(whole.items.map((album) => album.id));
        expect(new Set(paged.map((album) => album.id)).size).toBe(23);
        const beyond = await store.albums({}, order, 5, 23);
        expect(beyond).toEqual({ items: [], total: 23 });
      }
      const titles = (await store.albums({}, "title", 500, 0)).items.map((album) =>
        album.title.toLowerCase(),
      );
      expect(titles).toEqual([...titles].sort());
      const years = (await store.albums({}, "year", 500, 0)).items.map((album) => album.year ?? -1);
      expect(years).toEqual([...years].sort((x, y) => y - x));
      for (const order of ["name", "recent"] as const) {
        const whole = await store.artists(order, 500, 0);
        const paged = [];
        for (let offset = 0; offset < whole.total + 2; offset += 2)
          paged.push(...(await store.artists(order, 2, offset)).items);
        expect(paged).toEqual(whole.items);
        expect((await store.artists(order, 2, whole.total)).items).toEqual([]);
      }
    } finally {
      await opened.close();
    }
  });

  it("pages search documents through tracks, then albums, then artists: each once, and a null cursor at the end", async () => {
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      await scan(store, [
        ...Array.from({ length: 7 }, (_, n) => track(n, `Album ${n % 3}`, `Artist ${n % 2}`)),
        track(7, "Album 0", "Artist 0", { artist: "Artist 0 feat. Guest" }),
      ]);
      const seen: string[] = [];
      let cursor: number | null = 0;
      let pages = 0;
      while (cursor !== null) {
        const page = await store.searchDocuments(cursor, 3);
        expect(page.documents.length).toBeLessThanOrEqual(3);
        seen.push(...page.documents.map((document) => `${document.kind}:${document.id}`));
        cursor = page.nextCursor;
        pages += 1;
      }
      const albums = (await store.albums({}, "title", 500, 0)).items;
      const artists = (await store.artists("name", 500, 0)).items;
      expect(seen).toHaveLength(8 + albums.length + artists.length);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((key) => key.startsWith("artist:"))).toHaveLength(3);
      expect(pages).toBe(Math.ceil(seen.length / 3));
      // Past the end: nothing, and no cursor to follow.
      expect(await store.searchDocuments(seen.length, 3)).toEqual({ documents: [], nextCursor: null });
      const all = await store.searchDocuments(0, 5_000);
      expect(all.nextCursor).toBeNull();
      expect(all.documents.map((document) => `${document.kind}:${document.id}`).sort()).toEqual(
        [...seen].sort(),
      );
    } finally {
      await opened.close();
    }
  });

  it("draws random tracks without repeats, at most the number asked for", async () => {
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      await scan(
        store,
        Array.from({ length: 12 }, (_, n) => track(n, "Only", "Delta")),
      );
      const drawn = await store.randomTracks(5);
      expect(drawn).toHaveLength(5);
      expect(new Set(drawn.map((row) => row.id)).size).toBe(5);
      const all = await store.randomTracks(50);
      expect(all.map((row) => row.id).sort()).toEqual(Array.from({ length: 12 }, (_, n) => `t${n}`).sort());
    } finally {
      await opened.close();
    }
  });

  it("draws tracks and albums by seeks at random points of the key space: distinct, and every one in its turn", async () => {
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      // Ids as the scanner makes them: random for tracks, hashed for albums.
      const tracks = Array.from({ length: 400 }, (_, n) =>
        track(n, `Album ${n % 100}`, `Artist ${n % 100}`, { id: randomBytes(12).toString("base64url") }),
      );
      await scan(store, tracks);
      const seenTracks = new Set<string>();
      const seenAlbums = new Set<string>();
      for (let round = 0; round < 200; round += 1) {
        const ids = await drawIds(opened.db.kysely, "catalog_tracks", 50);
        expect(ids).toHaveLength(50);
        expect(new Set(ids).size).toBe(50);
        for (const id of ids) seenTracks.add(id);
        const albums = await store.randomAlbums(20);
        expect(new Set(albums.map((album) => album.id)).size).toBe(20);
        for (const album of albums) seenAlbums.add(album.id);
      }
      expect(seenTracks).toEqual(new Set(tracks.map((row) => row.id)));
      expect(seenAlbums.size).toBe(100);
      const rows = await store.randomTracks(50);
      expect(new Set(rows.map((row) => row.id)).size).toBe(50);
      expect(rows.every((row) => seenTracks.has(row.id))).toBe(true);
    } finally {
      await opened.close();
    }
  });

  it("matches playlist entries by file name in any case, and by tags when no file is named so", async () => {
    const opened = await target.open();
    try {
      const store = new SqlCatalogStore(opened.db);
      await scan(store, [track(1, "Album", "Eps"), track(2, "Other", "Eps")]);
      const matches = await matchEntries(
        store,
        ["/music"],
        [
          { path: "eps/album/01 song 1.mp3", artist: null, title: null, durationMs: null },
          { path: "C:\\Music\\Eps\\Other\\02 SONG 2.mp3", artist: null, title: null, durationMs: null },
          { path: "nowhere/99 Nothing.mp3", artist: "Eps", title: "Song 2", durationMs: 1_000 },
          { path: "nowhere/98 Nothing.mp3", artist: null, title: null, durationMs: null },
        ],
      );
      expect(matches).toEqual([
        { trackId: "t1", by: "path" },
        { trackId: "t2", by: "path" },
        { trackId: "t2", by: "tags" },
        { trackId: null, by: null },
      ]);
    } finally {
      await opened.close();
    }
  });
});
