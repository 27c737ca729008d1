// The catalog's tables: tracks are the truth; albums and artists are derived from them after every scan.
import { migrateService, type Db, type Kysely, type ServiceMigrations } from "@soundmesh/db";

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
};

export function migrateCatalogStore(db: Db): Promise<string[]> {
  return migrateService(db, "catalog", catalogMigrations);
}
