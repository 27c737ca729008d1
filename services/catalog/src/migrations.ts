// The catalog's tables: tracks are the truth; albums and the artists credited on tracks and albums are derived from
// them in the same transaction as every scan's changes.
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { migrateService, sql, type Db, type Kysely, type ServiceMigrations } from "@soundmesh/db";

/** idOf as it was when 002 was written: a migration never changes with the code around it. */
const idOf002 = (...parts: string[]) =>
  createHash("sha256")
    .update(parts.map((part) => part.normalize("NFKC").toLowerCase().trim()).join("\u0000"))
    .digest("base64url")
    .slice(0, 22);

/** A track's file name as 004 stored it: the last part of its path, in lower case. */
const fileNameOf004 = (path: string) => basename(path).toLowerCase();

export const catalogMigrations: ServiceMigrations = {
  "001-library": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("catalog_tracks")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("path", "text", (col) => col.notNull().unique())
        .addColumn("size_bytes", "bigint", (col) => col.notNull())
        .addColumn("mtime_ms", "bigint", (col) => col.notNull())
        .addColumn("fingerprint", "varchar(64)", (col) => col.notNull())
        .addColumn("title", "text", (col) => col.notNull())
        .addColumn("artist", "text", (col) => col.notNull())
        .addColumn("artist_id", "varchar(64)", (col) => col.notNull())
        .addColumn("album", "text", (col) => col.notNull())
        .addColumn("album_id", "varchar(64)", (col) => col.notNull())
        .addColumn("album_artist", "text", (col) => col.notNull())
        .addColumn("compilation", "integer", (col) => col.notNull())
        .addColumn("track_no", "integer")
        .addColumn("disc_no", "integer")
        .addColumn("year", "integer")
        .addColumn("genre", "text")
        .addColumn("duration_ms", "integer", (col) => col.notNull())
        .addColumn("codec", "text")
        .addColumn("bitrate_kbps", "integer")
        .addColumn("mb_track_id", "text")
        .addColumn("mb_album_id", "text")
        .addColumn("rg_track_db", "real")
        .addColumn("rg_album_db", "real")
        .addColumn("has_picture", "integer", (col) => col.notNull())
        .addColumn("folder_cover", "text")
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("catalog_tracks_by_album")
        .on("catalog_tracks")
        .column("album_id")
        .execute();
      await db.schema
        .createIndex("catalog_tracks_by_artist")
        .on("catalog_tracks")
        .column("artist_id")
        .execute();
      await db.schema
        .createIndex("catalog_tracks_by_fingerprint")
        .on("catalog_tracks")
        .column("fingerprint")
        .execute();
      await db.schema
        .createTable("catalog_scan_errors")
        .addColumn("path", "text", (col) => col.primaryKey())
        .addColumn("reason", "text", (col) => col.notNull())
        .addColumn("size_bytes", "bigint", (col) => col.notNull())
        .addColumn("mtime_ms", "bigint", (col) => col.notNull())
        .addColumn("seen_at", "bigint", (col) => col.notNull())
        .execute();
    },
  },
  /**
   * Albums become rows (one genre and year for every page), every credited artist gets an id, and tracks keep what
   * their tags said before grouping (album-artist tag, compilation flag, original year, album folder). Those were
   * never stored, so every file is marked for re-reading: the next scan reads each once, keeping every track id
   * (tracks are matched by path). Until then albums and credits are filled from what the rows hold.
   */
  "002-albums-and-credits": {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("catalog_tracks").addColumn("album_folder", "text").execute();
      await db.schema.alterTable("catalog_tracks").addColumn("album_artist_tag", "text").execute();
      await db.schema
        .alterTable("catalog_tracks")
        .addColumn("compilation_tag", "integer", (col) => col.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("catalog_tracks").addColumn("original_year", "integer").execute();
      await db.schema
        .createIndex("catalog_tracks_by_album_folder")
        .on("catalog_tracks")
        .column("album_folder")
        .execute();
      await db.schema
        .createTable("catalog_albums")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("title", "text", (col) => col.notNull())
        .addColumn("album_artist", "text", (col) => col.notNull())
        .addColumn("artist_id", "varchar(64)", (col) => col.notNull())
        .addColumn("year", "integer")
        .addColumn("genre", "text")
        .addColumn("compilation", "integer", (col) => col.notNull())
        .addColumn("track_count", "integer", (col) => col.notNull())
        .addColumn("disc_count", "integer", (col) => col.notNull())
        .addColumn("duration_ms", "bigint", (col) => col.notNull())
        .addColumn("has_cover", "integer", (col) => col.notNull())
        .addColumn("mb_album_id", "text")
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .execute();
      for (const column of ["genre", "year", "added_at"])
        await db.schema
          .createIndex(`catalog_albums_by_${column}`)
          .on("catalog_albums")
          .column(column)
          .execute();
      for (const [table, owner] of [
        ["catalog_track_artists", "track_id"],
        ["catalog_album_artists", "album_id"],
      ] as const) {
        await db.schema
          .createTable(table)
          .addColumn(owner, "varchar(64)", (col) => col.notNull())
          .addColumn("position", "integer", (col) => col.notNull())
          .addColumn("artist_id", "varchar(64)", (col) => col.notNull())
          .addColumn("name", "text", (col) => col.notNull())
          .addPrimaryKeyConstraint(`${table}_pk`, [owner, "position"])
          .execute();
        await db.schema.createIndex(`${table}_by_artist`).on(table).column("artist_id").execute();
      }
      /** An album id that went away (its tracks now form another album) answers with the album it became. */
      await db.schema
        .createTable("catalog_album_aliases")
        .addColumn("old_id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("album_id", "varchar(64)", (col) => col.notNull())
        .execute();

      await sql`
        insert into catalog_albums (id, title, album_artist, artist_id, year, genre, compilation, track_count,
          disc_count, duration_ms, has_cover, mb_album_id, added_at)
        select album_id, min(album), min(album_artist), min(artist_id), max(year), min(genre), max(compilation),
          count(*), coalesce(max(disc_no), 1), sum(duration_ms),
          case when max(has_picture) > 0 or max(folder_cover) is not null then 1 else 0 end,
          min(mb_album_id), min(added_at)
        from catalog_tracks group by album_id`.execute(db);
      const albums = await sql<{ id: string; album_artist: string }>`
        select id, album_artist from catalog_albums`.execute(db);
      const tracks = await sql<{ id: string; artist: string }>`select id, artist from catalog_tracks`.execute(
        db,
      );
      const credits = db as Kysely<Record<string, Record<string, unknown>>>;
      const credit = (owner: string, id: string, name: string) => ({
        [owner]: id,
        position: 0,
        artist_id: idOf002(name),
        name,
      });
      for (let i = 0; i < albums.rows.length; i += 500)
        await credits
          .insertInto("catalog_album_artists")
          .values(albums.rows.slice(i, i + 500).map((a) => credit("album_id", a.id, a.album_artist)))
          .execute();
      for (let i = 0; i < tracks.rows.length; i += 500)
        await credits
          .insertInto("catalog_track_artists")
          .values(tracks.rows.slice(i, i + 500).map((t) => credit("track_id", t.id, t.artist)))
          .execute();
      await sql`update catalog_tracks set mtime_ms = -1`.execute(db);
    },
  },
  /**
   * The library folders the server was given (a scan of another folder needs an explicit flag), and removed tracks
   * kept as tombstones with their ids for 30 days: a file that comes back, at its path or moved (found by its content
   * fingerprint), gets its old id, so playlists and pins heal.
   */
  "003-folders-and-tombstones": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("catalog_library_folders")
        .addColumn("path", "text", (col) => col.primaryKey())
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .execute();
      await db.schema
        .createTable("catalog_tombstones")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("path", "text", (col) => col.notNull())
        .addColumn("fingerprint", "varchar(64)", (col) => col.notNull())
        .addColumn("title", "text", (col) => col.notNull())
        .addColumn("artist", "text", (col) => col.notNull())
        .addColumn("album", "text", (col) => col.notNull())
        .addColumn("duration_ms", "integer", (col) => col.notNull())
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .addColumn("removed_at", "bigint", (col) => col.notNull())
        .execute();
      for (const column of ["path", "fingerprint", "removed_at"])
        await db.schema
          .createIndex(`catalog_tombstones_by_${column}`)
          .on("catalog_tombstones")
          .column(column)
          .execute();
    },
  },
  /**
   * Browsing 100,000 tracks within 20 ms: artists become rows derived in each scan (artist-rows.ts) instead of a
   * grouping of every credit per page; albums get an index for each order they are listed in, tracks one for "most
   * recently added", for titles, genres and artists in lower case and the smart playlists' artist order (credited
   * names too), and one on their
   * file name in lower case (playlist import matches paths by it).
   */
  "004-browse-indexes": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("catalog_artists")
        .addColumn("artist_id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("name", "text", (col) => col.notNull())
        .addColumn("sort_name", "text", (col) => col.notNull())
        .addColumn("album_count", "integer", (col) => col.notNull())
        .addColumn("appears_on_count", "integer", (col) => col.notNull())
        .addColumn("track_count", "integer", (col) => col.notNull())
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .execute();
      await sql`create index catalog_artists_by_name on catalog_artists (sort_name, artist_id)`.execute(db);
      await sql`create index catalog_artists_by_added on catalog_artists (added_at desc, artist_id)`.execute(
        db,
      );
      await sql`
        insert into catalog_artists
          (artist_id, name, sort_name, album_count, appears_on_count, track_count, added_at)
        select artist_id, min(name), lower(min(name)),
          count(distinct case when is_album = 1 then album_id end),
          count(distinct album_id) - count(distinct case when is_album = 1 then album_id end),
          count(distinct track_id), max(added_at)
        from (
          select c.artist_id, c.name, c.album_id, cast(null as varchar(64)) as track_id, 1 as is_album, a.added_at
            from catalog_album_artists c join catalog_albums a on a.id = c.album_id
          union all
          select c.artist_id, c.name, t.album_id, c.track_id, 0 as is_album, t.added_at
            from catalog_track_artists c join catalog_tracks t on t.id = c.track_id
        ) credited
        group by artist_id`.execute(db);
      for (const [name, columns] of [
        ["catalog_albums_by_title", "lower(title), id"],
        ["catalog_albums_by_artist", "lower(album_artist), coalesce(year, 0), lower(title), id"],
        ["catalog_albums_by_year_desc", "coalesce(year, -1) desc, lower(title), id"],
        ["catalog_albums_by_added_desc", "added_at desc, id"],
        ["catalog_albums_by_genre_title", "genre, lower(title), id"],
        ["catalog_albums_by_year_title", "year, lower(title), id"],
      ])
        await sql`create index ${sql.raw(name!)} on catalog_albums (${sql.raw(columns!)})`.execute(db);
      for (const [name, columns] of [
        ["catalog_tracks_by_added_desc", "added_at desc, id"],
        // Titles in lower case: playlist import matches by them; smart playlists list by them.
        ["catalog_tracks_by_title", "lower(title), id"],
        // Smart playlists: their default order, and their genre rule.
        [
          "catalog_tracks_by_artist_order",
          "lower(album_artist), lower(album), coalesce(disc_no, 1), coalesce(track_no, 0), id",
        ],
        ["catalog_tracks_by_genre", "lower(genre)"],
        ["catalog_tracks_by_artist_name", "lower(artist)"],
      ])
        await sql`create index ${sql.raw(name!)} on catalog_tracks (${sql.raw(columns!)})`.execute(db);
      await sql`create index catalog_track_artists_by_name on catalog_track_artists (lower(name))`.execute(
        db,
      );
      await db.schema.alterTable("catalog_tracks").addColumn("file_name", "text").execute();
      const tracks = await sql<{ id: string; path: string }>`select id, path from catalog_tracks`.execute(db);
      for (const track of tracks.rows)
        await sql`update catalog_tracks set file_name = ${fileNameOf004(track.path)} where id = ${track.id}`.execute(
          db,
        );
      await db.schema
        .createIndex("catalog_tracks_by_file_name")
        .on("catalog_tracks")
        .column("file_name")
        .execute();
    },
  },
};

export function migrateCatalogStore(db: Db): Promise<string[]> {
  return migrateService(db, "catalog", catalogMigrations);
}
