// The catalog's SQL store (the CatalogStore of store.ts): tracks are rows written by scans; albums and artist credits are derived from them in the
// same transaction (album-rows.ts) and read by browse-queries.ts. The same SQL runs on SQLite and PostgreSQL.
import { sql, type Db } from "@soundmesh/db";
import type {
  AlbumRecord,
  ArtistCredit,
  ArtistRecord,
  SearchDocument,
  SmartRules,
  TrackRecord,
} from "@soundmesh/protocol";
import { defaultSplitArtists, type SplitArtists } from "./artist-credits";
import { recordAlbumAliases, rederiveAlbums } from "./album-rows";
import { creditedArtists, rederiveArtists } from "./artist-rows";
import {
  browseAlbum,
  albumsByIds,
  browseAlbums,
  browseArtists,
  genresOfAlbums,
  yearsOfAlbums,
  type AlbumFilter,
  type AlbumOrder,
  type ArtistOrder,
  type Page,
} from "./browse-queries";
import {
  chunks,
  num,
  numOrNull,
  type CatalogDb,
  type TombstoneRow,
  type TrackArtistRow,
  type TrackRow,
} from "./catalog-tables";
import { drawIds, inOrderOf, shuffle } from "./random-rows";
import { searchDocumentsPage } from "./search-documents";
import type { CatalogStore, ScanChanges } from "./store";
import { idOf } from "./tags";
import {
  buryTracks,
  recordFolders,
  recordedFolders,
  settleTombstones,
  tombstoneCount,
  tombstonesMatching,
  trackCount,
  tracksUnder,
} from "./tombstones";
import { basename } from "node:path";

export type { Page } from "./browse-queries";
export type { TombstoneRow, TrackRow } from "./catalog-tables";

/** A scanned track to write. Fields added after the first release may be left out (they default as for old rows). */
export type TrackUpsert = Omit<
  TrackRow,
  "album_folder" | "album_artist_tag" | "compilation_tag" | "original_year" | "file_name"
> &
  Partial<Pick<TrackRow, "album_folder" | "album_artist_tag" | "compilation_tag" | "original_year">> & {
    /** The artists it credits, in order; left out, the artist tag is split. */
    credits?: readonly string[];
  };

/** A track whose album changed because other tracks of its folder did (its own file did not). */
export interface Regrouped {
  id: string;
  album_id: string;
  album_artist: string;
  compilation: number;
}

export type FileState = Pick<
  TrackRow,
  "id" | "path" | "size_bytes" | "mtime_ms" | "fingerprint" | "added_at" | "album_folder" | "album"
>;

/** One page of file states in path order: the `limit` paths after `after` (null: from the first). */
export interface FileStatesPage {
  after: string | null;
  limit: number;
}

export function trackOf(row: TrackRow, credits: readonly ArtistCredit[] = [], hasCover = false): TrackRecord {
  return {
    id: row.id,
    title: row.title,
    artist: row.artist,
    artistId: credits[0]?.id ?? row.artist_id,
    artists: credits.length > 0 ? [...credits] : [{ id: row.artist_id, name: row.artist }],
    album: row.album,
    albumId: row.album_id,
    albumArtist: row.album_artist,
    hasCover,
    trackNumber: numOrNull(row.track_no),
    discNumber: numOrNull(row.disc_no),
    year: numOrNull(row.year),
    genre: row.genre,
    durationMs: num(row.duration_ms),
    codec: row.codec,
    bitrateKbps: numOrNull(row.bitrate_kbps),
    musicBrainzTrackId: row.mb_track_id,
    replayGain: { trackGainDb: numOrNull(row.rg_track_db), albumGainDb: numOrNull(row.rg_album_db) },
    addedAt: num(row.added_at),
  };
}

export interface CatalogStoreOptions {
  /** How an artist tag names several artists (library.artistSeparators); "feat.", "ft.", "featuring", "&", ";". */
  splitArtists?: SplitArtists;
}

export class SqlCatalogStore implements CatalogStore {
  private readonly db: CatalogDb;
  private readonly dialect: Db["dialect"];
  readonly splitArtists: SplitArtists;

  constructor(db: Db, options: CatalogStoreOptions = {}) {
    this.db = db.kysely as CatalogDb;
    this.dialect = db.dialect;
    this.splitArtists = options.splitArtists ?? defaultSplitArtists;
  }

  /**
   * After a scan: SQLite keeps the pages the scan wrote in its connection's page cache (up to 16 MiB) for as long as
   * the process lives; shrink_memory hands them back (browse reads them again from the OS's cache). PostgreSQL's cache
   * is the server's, not ours.
   */
  async releaseMemory(): Promise<void> {
    if (this.dialect === "sqlite") await sql`pragma shrink_memory`.execute(this.db);
  }

  async fileStates(page?: FileStatesPage): Promise<FileState[]> {
    const all = this.db
      .selectFrom("catalog_tracks")
      .select(["id", "path", "size_bytes", "mtime_ms", "fingerprint", "added_at", "album_folder", "album"]);
    if (!page) return all.execute();
    const ordered = all.orderBy("path").limit(page.limit);
    return (page.after === null ? ordered : ordered.where("path", ">", page.after)).execute();
  }

  /** The tracks of these album folders, for grouping them again with the files a scan read. */
  async tracksInFolders(folders: readonly string[]): Promise<TrackRow[]> {
    const rows: TrackRow[] = [];
    for (const part of chunks([...new Set(folders)]))
      rows.push(
        ...(await this.db
          .selectFrom("catalog_tracks")
          .selectAll()
          .where("album_folder", "in", part)
          .execute()),
      );
    return rows;
  }

  /** Applies one scan's changes in a transaction: the catalog never shows half a scan. */
  async applyScan(changes: ScanChanges): Promise<void> {
    const regrouped = changes.regrouped ?? [];
    const nowMs = changes.nowMs ?? Date.now();
    await this.db.transaction().execute(async (trx) => {
      const previousAlbums = new Map<string, string>();
      const ids = [
        ...changes.upserts.map((row) => row.id),
        ...changes.deletions,
        ...regrouped.map((r) => r.id),
      ];
      const storedPaths = new Map<string, string>();
      for (const part of chunks(ids)) {
        const rows = await trx
          .selectFrom("catalog_tracks")
          .select(["id", "album_id", "path"])
          .where("id", "in", part)
          .execute();
        for (const row of rows) {
          previousAlbums.set(row.id, row.album_id);
          storedPaths.set(row.id, row.path);
        }
      }
      await buryTracks(trx, changes.deletions, nowMs);
      const changedTracks = [...ids];
      const albumsBefore = [
        ...previousAlbums.values(),
        ...changes.upserts.map((row) => row.album_id),
        ...regrouped.map((row) => row.album_id),
      ];
      const artistsBefore = await creditedArtists(trx, changedTracks, albumsBefore);
      for (const part of chunks(changes.deletions)) {
        await trx.deleteFrom("catalog_tracks").where("id", "in", part).execute();
        await trx.deleteFrom("catalog_track_artists").where("track_id", "in", part).execute();
      }
      await this.writeTracks(trx, changes.upserts, storedPaths);
      await settleTombstones(
        trx,
        changes.upserts.map((row) => row.id),
        nowMs,
      );
      for (const change of regrouped) {
        const { id, ...albumFields } = change;
        await trx.updateTable("catalog_tracks").set(albumFields).where("id", "=", id).execute();
      }
      const moves = [...changes.upserts, ...regrouped].flatMap((row) => {
        const from = previousAlbums.get(row.id);
        return from === undefined ? [] : [{ from, to: row.album_id }];
      });
      const touched = new Set([
        ...previousAlbums.values(),
        ...changes.upserts.map((row) => row.album_id),
        ...regrouped.map((row) => row.album_id),
      ]);
      const living = await rederiveAlbums(trx, touched, this.splitArtists);
      await recordAlbumAliases(trx, moves, living);
      const artistsAfter = await creditedArtists(trx, changedTracks, [...touched]);
      await rederiveArtists(trx, [...artistsBefore, ...artistsAfter]);
      for (const paths of chunks(changes.clearedErrorPaths))
        await trx.deleteFrom("catalog_scan_errors").where("path", "in", paths).execute();
      for (const error of changes.errors) {
        const { path: _path, ...rest } = error;
        await trx
          .insertInto("catalog_scan_errors")
          .values(error)
          .onConflict((conflict) => conflict.column("path").doUpdateSet(rest))
          .execute();
      }
    });
  }

  /**
   * Writes scanned tracks, a few hundred rows per statement: each replaces the row of its id and any other row at its
   * path, with its credits. A track that moves, or takes a path another id holds, is written alone first, so no row
   * of a batch ever meets a path that is still taken.
   */
  private async writeTracks(
    trx: CatalogDb,
    upserts: readonly TrackUpsert[],
    storedPaths: ReadonlyMap<string, string>,
  ): Promise<void> {
    const holders = new Map<string, string>();
    for (const paths of chunks(upserts.map((upsert) => upsert.path)))
      for (const held of await trx
        .selectFrom("catalog_tracks")
        .select(["id", "path"])
        .where("path", "in", paths)
        .execute())
        holders.set(held.path, held.id);
    const rows = upserts.map((upsert) => this.rowsOf(upsert));
    const alone = rows.filter(
      ({ track }) =>
        (holders.get(track.path) ?? track.id) !== track.id ||
        (storedPaths.get(track.id) ?? track.path) !== track.path,
    );
    for (const { track } of alone)
      await trx
        .deleteFrom("catalog_tracks")
        .where("path", "=", track.path)
        .where("id", "<>", track.id)
        .execute();
    const columns = Object.keys(rows[0]?.track ?? {}).filter((column) => column !== "id") as Array<
      keyof TrackRow
    >;
    for (const batch of [
      ...alone.map((row) => [row]),
      ...chunks(
        rows.filter((row) => !alone.includes(row)),
        200,
      ),
    ])
      await trx
        .insertInto("catalog_tracks")
        .values(batch.map((row) => row.track))
        .onConflict((conflict) =>
          conflict
            .column("id")
            .doUpdateSet((eb) =>
              Object.fromEntries(columns.map((column) => [column, eb.ref(`excluded.${column}`)])),
            ),
        )
        .execute();
    for (const ids of chunks(rows.map((row) => row.track.id)))
      await trx.deleteFrom("catalog_track_artists").where("track_id", "in", ids).execute();
    for (const credits of chunks(rows.flatMap((row) => row.credits)))
      await trx.insertInto("catalog_track_artists").values(credits).execute();
  }

  /** A scanned track's row (fields it leaves out as for old rows) and the rows of its credited artists. */
  private rowsOf(upsert: TrackUpsert): { track: TrackRow; credits: TrackArtistRow[] } {
    const { credits, ...given } = upsert;
    const track: TrackRow = {
      album_folder: null,
      album_artist_tag: null,
      compilation_tag: 0,
      original_year: null,
      ...given,
      file_name: basename(given.path).toLowerCase(),
    };
    const names = credits && credits.length > 0 ? credits : this.splitArtists(track.artist);
    return {
      track,
      credits: (names.length > 0 ? names : [track.artist]).map((name, position) => ({
        track_id: track.id,
        position,
        artist_id: idOf(name),
        name,
      })),
    };
  }

  /** Removed tracks whose file may have come back: at one of these paths, or with one of these fingerprints. */
  tombstonesMatching(
    paths: readonly string[],
    fingerprints: readonly string[],
    nowMs: number,
  ): Promise<TombstoneRow[]> {
    return tombstonesMatching(this.db, paths, fingerprints, nowMs);
  }

  tombstoneCount(): Promise<number> {
    return tombstoneCount(this.db);
  }

  /** The library folders recorded by the first run (or an explicit --add-library / --replace-library). */
  libraryFolders(): Promise<string[]> {
    return recordedFolders(this.db);
  }

  recordLibraryFolders(folders: readonly string[], nowMs: number): Promise<void> {
    return recordFolders(this.db, folders, nowMs);
  }

  /** Tracks under a folder, or in all when none is named. */
  trackCount(folder?: string): Promise<number> {
    return folder === undefined ? trackCount(this.db) : tracksUnder(this.db, folder);
  }

  async errorStates(): Promise<Array<{ path: string; size_bytes: number; mtime_ms: number }>> {
    return this.db.selectFrom("catalog_scan_errors").select(["path", "size_bytes", "mtime_ms"]).execute();
  }

  async scanErrors(
    limit: number,
    offset: number,
  ): Promise<Page<{ path: string; reason: string; seenAt: number }>> {
    const rows = await this.db
      .selectFrom("catalog_scan_errors")
      .selectAll()
      .orderBy("path")
      .limit(limit)
      .offset(offset)
      .execute();
    const total = await this.db
      .selectFrom("catalog_scan_errors")
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirst();
    return {
      items: rows.map((r) => ({ path: r.path, reason: r.reason, seenAt: num(r.seen_at) })),
      total: num(total?.n),
    };
  }

  async track(id: string): Promise<TrackRow | undefined> {
    return this.db.selectFrom("catalog_tracks").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async tracksByIds(ids: readonly string[]): Promise<TrackRow[]> {
    const rows: TrackRow[] = [];
    for (const part of chunks([...ids]))
      rows.push(
        ...(await this.db.selectFrom("catalog_tracks").selectAll().where("id", "in", part).execute()),
      );
    return rows;
  }

  /** Track records with their credited artists, in the order of the rows given. */
  async trackRecords(rows: readonly TrackRow[]): Promise<TrackRecord[]> {
    const credits = new Map<string, ArtistCredit[]>();
    for (const part of chunks(rows.map((row) => row.id))) {
      const found = await this.db
        .selectFrom("catalog_track_artists")
        .select(["track_id", "artist_id", "name"])
        .where("track_id", "in", part)
        .orderBy("track_id")
        .orderBy("position")
        .execute();
      for (const credit of found)
        credits.set(credit.track_id, [
          ...(credits.get(credit.track_id) ?? []),
          { id: credit.artist_id, name: credit.name },
        ]);
    }
    const withCover = new Set<string>();
    for (const part of chunks([...new Set(rows.map((row) => row.album_id))]))
      for (const album of await this.db
        .selectFrom("catalog_albums")
        .select("id")
        .where("id", "in", part)
        .where("has_cover", "!=", 0)
        .execute())
        withCover.add(album.id);
    return rows.map((row) => trackOf(row, credits.get(row.id), withCover.has(row.album_id)));
  }

  /** Tracks whose title is one of these (compared in lower case), for matching playlist-file entries by tags. */
  async tracksByTitles(titles: string[]): Promise<TrackRow[]> {
    const rows: TrackRow[] = [];
    for (const part of chunks([...new Set(titles.map((t) => t.toLowerCase()))]))
      rows.push(
        ...(await this.db
          .selectFrom("catalog_tracks")
          .selectAll()
          .where(sql`lower(title)`, "in", part)
          .execute()),
      );
    return rows;
  }

  /** Tracks whose file name is one of these (in lower case), for matching playlist-file entries by path. */
  async tracksByFileNames(names: readonly string[]): Promise<TrackRow[]> {
    const rows: TrackRow[] = [];
    for (const part of chunks([...new Set(names)]))
      rows.push(
        ...(await this.db.selectFrom("catalog_tracks").selectAll().where("file_name", "in", part).execute()),
      );
    return rows;
  }

  async recentTrackIds(limit: number, offset: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("catalog_tracks")
      .select("id")
      .orderBy("added_at", "desc")
      .orderBy("id")
      .limit(limit)
      .offset(offset)
      .execute();
    return rows.map((row) => row.id);
  }

  /** The ids of the tracks a smart playlist's rules select, in the rules' order. */
  async smartTrackIds(rules: SmartRules, nowMs: number): Promise<string[]> {
    let query = this.db.selectFrom("catalog_tracks").select("id");
    if (rules.genres.length > 0)
      query = query.where(
        sql`lower(genre)`,
        "in",
        rules.genres.map((g) => g.toLowerCase()),
      );
    if (rules.artists.length > 0) {
      const artists = rules.artists.map((a) => a.toLowerCase());
      // An artist rule also takes tracks that credit the artist among others ("A feat. B" for B). Three indexed
      // lookups joined, not one OR that reads every track.
      const matching = this.db
        .selectFrom("catalog_tracks")
        .select("id")
        .where(sql`lower(artist)`, "in", artists)
        .union(
          this.db
            .selectFrom("catalog_tracks")
            .select("id")
            .where(sql`lower(album_artist)`, "in", artists),
        )
        .union(
          this.db
            .selectFrom("catalog_track_artists")
            .select("track_id as id")
            .where(sql`lower(name)`, "in", artists),
        );
      query = query.where("id", "in", matching);
    }
    if (rules.yearFrom !== null) query = query.where("year", ">=", rules.yearFrom);
    if (rules.yearTo !== null) query = query.where("year", "<=", rules.yearTo);
    if (rules.addedWithinDays !== null)
      query = query.where("added_at", ">=", nowMs - rules.addedWithinDays * 86_400_000);
    const ordered =
      rules.order === "recentlyAdded"
        ? query.orderBy("added_at", "desc")
        : rules.order === "year"
          ? query.orderBy(sql`coalesce(year, 0)`)
          : rules.order === "title"
            ? query.orderBy(sql`lower(title)`)
            : query
                .orderBy(sql`lower(album_artist)`)
                .orderBy(sql`lower(album)`)
                .orderBy(sql`coalesce(disc_no, 1)`)
                .orderBy(sql`coalesce(track_no, 0)`);
    const rows = await ordered.orderBy("id").limit(rules.limit).execute();
    return rows.map((row) => row.id);
  }

  async tracksOfAlbum(albumId: string): Promise<TrackRow[]> {
    return this.db
      .selectFrom("catalog_tracks")
      .selectAll()
      .where("album_id", "=", albumId)
      .orderBy(sql`coalesce(disc_no, 1)`)
      .orderBy(sql`coalesce(track_no, 0)`)
      .orderBy("title")
      .execute();
  }

  /** The album with this id, or with the id an old one became (see recordAlbumAliases). */
  album(albumId: string): Promise<AlbumRecord | undefined> {
    return browseAlbum(this.db, albumId);
  }

  albums(filter: AlbumFilter, order: AlbumOrder, limit: number, offset: number): Promise<Page<AlbumRecord>> {
    return browseAlbums(this.db, filter, order, limit, offset);
  }

  artists(order: ArtistOrder, limit: number, offset: number, artistId?: string): Promise<Page<ArtistRecord>> {
    return browseArtists(this.db, order, limit, offset, artistId);
  }

  genres(): Promise<Array<{ genre: string; albumCount: number }>> {
    return genresOfAlbums(this.db);
  }

  years(): Promise<Array<{ year: number; albumCount: number }>> {
    return yearsOfAlbums(this.db);
  }

  /** Tracks at random: ids drawn by seeks on the primary key (random-rows.ts), then only those rows read. */
  async randomTracks(limit: number): Promise<TrackRow[]> {
    const ids = await drawIds(this.db, "catalog_tracks", limit);
    if (ids.length < limit) {
      // A small library: sorting it at random is cheap, and gives every track when there are fewer than `limit`.
      const chosen = this.db
        .selectFrom("catalog_tracks")
        .select("id")
        .orderBy(sql`random()`)
        .limit(limit);
      const rows = await this.db.selectFrom("catalog_tracks").selectAll().where("id", "in", chosen).execute();
      return shuffle(rows);
    }
    return inOrderOf(
      ids,
      await this.db.selectFrom("catalog_tracks").selectAll().where("id", "in", ids).execute(),
    );
  }

  /** Albums at random, drawn like randomTracks. */
  async randomAlbums(limit: number): Promise<AlbumRecord[]> {
    const ids = await drawIds(this.db, "catalog_albums", limit);
    if (ids.length < limit) return (await browseAlbums(this.db, {}, "random", limit, 0)).items;
    return inOrderOf(ids, await albumsByIds(this.db, ids));
  }

  /** Every track, then album, then credited artist as a search document; the cursor is a place in that list. */
  searchDocuments(
    cursor: number,
    limit: number,
  ): Promise<{ documents: SearchDocument[]; nextCursor: number | null }> {
    return searchDocumentsPage(this.db, cursor, limit);
  }
}
