// The catalog's SQL store: tracks are rows; albums and artists are read as aggregates over them (same SQL on both dialects).
import { sql, type Db, type Kysely } from "@soundmesh/db";
import type { AlbumRecord, ArtistRecord, SearchDocument, SmartRules, TrackRecord } from "@soundmesh/protocol";

export interface TrackRow {
  id: string;
  path: string;
  size_bytes: number;
  mtime_ms: number;
  fingerprint: string;
  title: string;
  artist: string;
  artist_id: string;
  album: string;
  album_id: string;
  album_artist: string;
  compilation: number;
  track_no: number | null;
  disc_no: number | null;
  year: number | null;
  genre: string | null;
  duration_ms: number;
  codec: string | null;
  bitrate_kbps: number | null;
  mb_track_id: string | null;
  mb_album_id: string | null;
  rg_track_db: number | null;
  rg_album_db: number | null;
  has_picture: number;
  folder_cover: string | null;
  added_at: number;
  updated_at: number;
}

interface CatalogTables {
  catalog_tracks: TrackRow;
  catalog_scan_errors: {
    path: string;
    reason: string;
    size_bytes: number;
    mtime_ms: number;
    seen_at: number;
  };
}

export type FileState = Pick<
  TrackRow,
  "id" | "path" | "size_bytes" | "mtime_ms" | "fingerprint" | "added_at"
>;

export interface Page<T> {
  items: T[];
  total: number;
}

const num = (value: unknown): number => Number(value ?? 0);
const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);

export function trackOf(row: TrackRow): TrackRecord {
  return {
    id: row.id,
    title: row.title,
    artist: row.artist,
    artistId: row.artist_id,
    album: row.album,
    albumId: row.album_id,
    albumArtist: row.album_artist,
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

export class CatalogStore {
  private readonly db: Kysely<CatalogTables>;

  constructor(db: Db) {
    this.db = db.kysely as Kysely<CatalogTables>;
  }

  async fileStates(): Promise<FileState[]> {
    return this.db
      .selectFrom("catalog_tracks")
      .select(["id", "path", "size_bytes", "mtime_ms", "fingerprint", "added_at"])
      .execute();
  }

  /** Applies one scan's changes in a transaction: the catalog never shows half a scan. */
  async applyScan(changes: {
    upserts: TrackRow[];
    deletions: string[];
    errors: Array<{ path: string; reason: string; size_bytes: number; mtime_ms: number; seen_at: number }>;
    clearedErrorPaths: string[];
  }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const ids of chunks(changes.deletions, 500))
        await trx.deleteFrom("catalog_tracks").where("id", "in", ids).execute();
      for (const row of changes.upserts) {
        await trx
          .deleteFrom("catalog_tracks")
          .where("path", "=", row.path)
          .where("id", "<>", row.id)
          .execute();
        const { id: _id, ...rest } = row;
        await trx
          .insertInto("catalog_tracks")
          .values(row)
          .onConflict((conflict) => conflict.column("id").doUpdateSet(rest))
          .execute();
      }
      for (const paths of chunks(changes.clearedErrorPaths, 500)) {
        await trx.deleteFrom("catalog_scan_errors").where("path", "in", paths).execute();
      }
      for (const error of changes.errors) {
        await trx
          .insertInto("catalog_scan_errors")
          .values(error)
          .onConflict((conflict) =>
            conflict.column("path").doUpdateSet({
              reason: error.reason,
              size_bytes: error.size_bytes,
              mtime_ms: error.mtime_ms,
              seen_at: error.seen_at,
            }),
          )
          .execute();
      }
    });
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

  async tracksByIds(ids: string[]): Promise<TrackRow[]> {
    if (ids.length === 0) return [];
    return this.db.selectFrom("catalog_tracks").selectAll().where("id", "in", ids).execute();
  }

  /** Tracks whose title is one of these (compared in lower case), for matching playlist-file entries by tags. */
  async tracksByTitles(titles: string[]): Promise<TrackRow[]> {
    const rows: TrackRow[] = [];
    for (const part of chunks([...new Set(titles.map((t) => t.toLowerCase()))], 500))
      rows.push(
        ...(await this.db
          .selectFrom("catalog_tracks")
          .selectAll()
          .where(sql`lower(title)`, "in", part)
          .execute()),
      );
    return rows;
  }

  /** The ids of the tracks a smart playlist's rules select, in the rules' order. */
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
      query = query.where((eb) =>
        eb.or([eb(sql`lower(artist)`, "in", artists), eb(sql`lower(album_artist)`, "in", artists)]),
      );
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

  private albumQuery() {
    return this.db
      .selectFrom("catalog_tracks")
      .select((eb) => [
        "album_id as id",
        eb.fn.min("album").as("title"),
        eb.fn.min("album_artist").as("album_artist"),
        eb.fn.min("artist_id").as("artist_id"),
        eb.fn.max("year").as("year"),
        eb.fn.min("genre").as("genre"),
        eb.fn.max("compilation").as("compilation"),
        eb.fn.countAll().as("track_count"),
        eb.fn.max("disc_no").as("disc_count"),
        eb.fn.sum("duration_ms").as("duration_ms"),
        eb.fn.max("has_picture").as("has_picture"),
        eb.fn.max("folder_cover").as("folder_cover"),
        eb.fn.min("mb_album_id").as("mb_album_id"),
        eb.fn.min("added_at").as("added_at"),
      ])
      .groupBy("album_id");
  }

  private static albumOf(row: Record<string, unknown>): AlbumRecord {
    return {
      id: String(row.id),
      title: String(row.title),
      albumArtist: String(row.album_artist),
      artistId: String(row.artist_id),
      year: numOrNull(row.year),
      genre: (row.genre as string | null) ?? null,
      compilation: num(row.compilation) !== 0,
      trackCount: num(row.track_count),
      discCount: Math.max(1, num(row.disc_count)),
      durationMs: num(row.duration_ms),
      hasCover: num(row.has_picture) !== 0 || row.folder_cover !== null,
      musicBrainzAlbumId: (row.mb_album_id as string | null) ?? null,
      addedAt: num(row.added_at),
    };
  }

  async album(albumId: string): Promise<AlbumRecord | undefined> {
    const row = await this.albumQuery().where("album_id", "=", albumId).executeTakeFirst();
    return row ? CatalogStore.albumOf(row) : undefined;
  }

  /** Albums filtered by a column, ordered, paged; total counts every matching album. */
  async albums(
    filter: { artistId?: string; genre?: string; year?: number },
    order: "title" | "recent" | "random",
    limit: number,
    offset: number,
  ): Promise<Page<AlbumRecord>> {
    let query = this.albumQuery();
    let count = this.db
      .selectFrom("catalog_tracks")
      .select((eb) => eb.fn.count("album_id").distinct().as("n"));
    if (filter.artistId !== undefined) {
      query = query.where("artist_id", "=", filter.artistId);
      count = count.where("artist_id", "=", filter.artistId);
    }
    if (filter.genre !== undefined) {
      query = query.where("genre", "=", filter.genre);
      count = count.where("genre", "=", filter.genre);
    }
    if (filter.year !== undefined) {
      query = query.where("year", "=", filter.year);
      count = count.where("year", "=", filter.year);
    }
    const ordered =
      order === "recent"
        ? query.orderBy(sql`min(added_at)`, "desc").orderBy("album_id")
        : order === "random"
          ? query.orderBy(sql`random()`)
          : query.orderBy(sql`lower(min(album))`).orderBy("album_id");
    const rows = await ordered.limit(limit).offset(offset).execute();
    return {
      items: rows.map((row) => CatalogStore.albumOf(row)),
      total: num((await count.executeTakeFirst())?.n),
    };
  }

  async artists(limit: number, offset: number, artistId?: string): Promise<Page<ArtistRecord>> {
    let query = this.db
      .selectFrom("catalog_tracks")
      .select((eb) => [
        "artist_id as id",
        eb.fn.min("album_artist").as("name"),
        eb.fn.count("album_id").distinct().as("album_count"),
        eb.fn.countAll().as("track_count"),
      ])
      .groupBy("artist_id");
    if (artistId !== undefined) query = query.where("artist_id", "=", artistId);
    const rows = await query
      .orderBy(sql`lower(min(album_artist))`)
      .limit(limit)
      .offset(offset)
      .execute();
    const total = await this.db
      .selectFrom("catalog_tracks")
      .select((eb) => eb.fn.count("artist_id").distinct().as("n"))
      .executeTakeFirst();
    return {
      items: rows.map((r) => ({
        id: String(r.id),
        name: String(r.name),
        albumCount: num(r.album_count),
        trackCount: num(r.track_count),
      })),
      total: num(total?.n),
    };
  }

  async genres(): Promise<Array<{ genre: string; albumCount: number }>> {
    const rows = await this.db
      .selectFrom("catalog_tracks")
      .select((eb) => ["genre", eb.fn.count("album_id").distinct().as("n")])
      .where("genre", "is not", null)
      .groupBy("genre")
      .orderBy("genre")
      .execute();
    return rows.map((r) => ({ genre: String(r.genre), albumCount: num(r.n) }));
  }

  async years(): Promise<Array<{ year: number; albumCount: number }>> {
    const rows = await this.db
      .selectFrom("catalog_tracks")
      .select((eb) => ["year", eb.fn.count("album_id").distinct().as("n")])
      .where("year", "is not", null)
      .groupBy("year")
      .orderBy("year", "desc")
      .execute();
    return rows.map((r) => ({ year: num(r.year), albumCount: num(r.n) }));
  }

  async randomTracks(limit: number): Promise<TrackRow[]> {
    return this.db
      .selectFrom("catalog_tracks")
      .selectAll()
      .orderBy(sql`random()`)
      .limit(limit)
      .execute();
  }

  /** Every track, album and artist as a search document; the cursor pages over tracks by rowid-free ordering. */
  async searchDocuments(
    cursor: number,
    limit: number,
  ): Promise<{ documents: SearchDocument[]; nextCursor: number | null }> {
    const rows = await this.db
      .selectFrom("catalog_tracks")
      .selectAll()
      .orderBy("id")
      .limit(limit)
      .offset(cursor)
      .execute();
    const documents: SearchDocument[] = rows.map((row) => ({
      id: row.id,
      kind: "track",
      title: row.title,
      subtitle: `${row.artist} · ${row.album}`,
      artist: row.artist,
      album: row.album,
      year: numOrNull(row.year),
      popularity: 0,
    }));
    if (cursor === 0) {
      const albums = await this.albums({}, "title", 1_000_000, 0);
      for (const album of albums.items) {
        documents.push({
          id: album.id,
          kind: "album",
          title: album.title,
          subtitle: album.albumArtist,
          artist: album.albumArtist,
          album: album.title,
          year: album.year,
          popularity: album.trackCount,
        });
      }
      const artists = await this.artists(1_000_000, 0);
      for (const artist of artists.items) {
        documents.push({
          id: artist.id,
          kind: "artist",
          title: artist.name,
          subtitle: `${artist.albumCount} albums`,
          artist: artist.name,
          album: "",
          year: null,
          popularity: artist.trackCount,
        });
      }
    }
    return { documents, nextCursor: rows.length < limit ? null : cursor + rows.length };
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
