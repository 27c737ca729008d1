// The events service's tables: plays (one row per counted play, keyed by its event id so replays insert nothing),
// annotations (stars and ratings of tracks, albums and artists), each user's saved play queue, and the keepsakes
// (bookmarks, internet radio stations, shares).
import { migrateService, type Db, type Kysely, type ServiceMigrations } from "@soundmesh/db";

export const eventsMigrations: ServiceMigrations = {
  "001-history": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events_plays")
        .addColumn("event_id", "varchar(36)", (col) => col.primaryKey())
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("track_id", "varchar(64)", (col) => col.notNull())
        .addColumn("album_id", "varchar(64)")
        .addColumn("artist_id", "varchar(64)")
        .addColumn("played_at", "bigint", (col) => col.notNull())
        .addColumn("played_ms", "integer", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("events_plays_by_user")
        .on("events_plays")
        .columns(["user_id", "played_at"])
        .execute();
      await db.schema.createIndex("events_plays_by_time").on("events_plays").column("played_at").execute();
      await db.schema
        .createTable("events_annotations")
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("kind", "varchar(8)", (col) => col.notNull())
        .addColumn("item_id", "varchar(64)", (col) => col.notNull())
        .addColumn("starred_at", "bigint")
        .addColumn("rating", "integer")
        .addPrimaryKeyConstraint("events_annotations_pk", ["user_id", "kind", "item_id"])
        .execute();
      await db.schema
        .createTable("events_queues")
        .addColumn("user_id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("track_ids", "text", (col) => col.notNull())
        .addColumn("current_index", "integer", (col) => col.notNull())
        .addColumn("position_ms", "integer", (col) => col.notNull())
        .addColumn("device", "varchar(100)", (col) => col.notNull())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .addColumn("revision", "integer", (col) => col.notNull())
        .execute();
    },
  },
  /** Scrobbling: each user's sink accounts, and the durable queue of scrobbles and "now playing" notices. */
  "002-scrobbling": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events_scrobble_accounts")
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("sink", "varchar(16)", (col) => col.notNull())
        .addColumn("credential", "text")
        .addColumn("pending_token", "text")
        .addColumn("username", "varchar(200)")
        .addColumn("enabled", "integer", (col) => col.notNull())
        .addColumn("state", "varchar(24)", (col) => col.notNull())
        .addColumn("last_error", "text")
        .addColumn("last_delivered_at", "bigint")
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .addPrimaryKeyConstraint("events_scrobble_accounts_pk", ["user_id", "sink"])
        .execute();
      await db.schema
        .createTable("events_scrobble_queue")
        .addColumn("id", "varchar(120)", (col) => col.primaryKey())
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("sink", "varchar(16)", (col) => col.notNull())
        .addColumn("kind", "varchar(16)", (col) => col.notNull())
        .addColumn("payload", "text", (col) => col.notNull())
        .addColumn("state", "varchar(16)", (col) => col.notNull())
        .addColumn("attempts", "integer", (col) => col.notNull())
        .addColumn("next_at", "bigint", (col) => col.notNull())
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("done_at", "bigint")
        .execute();
      await db.schema
        .createIndex("events_scrobble_queue_due")
        .on("events_scrobble_queue")
        .columns(["state", "next_at"])
        .execute();
      await db.schema
        .createIndex("events_scrobble_queue_by_user")
        .on("events_scrobble_queue")
        .columns(["user_id", "sink", "state"])
        .execute();
    },
  },
  /** The job runner's runs (jobs.ts): state, progress and timings of each run that did work. */
  "003-jobs": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events_job_runs")
        .addColumn("id", "varchar(36)", (col) => col.primaryKey())
        .addColumn("job", "varchar(64)", (col) => col.notNull())
        .addColumn("params", "text", (col) => col.notNull())
        .addColumn("state", "varchar(12)", (col) => col.notNull())
        .addColumn("progress", "real", (col) => col.notNull())
        .addColumn("note", "text")
        .addColumn("error", "text")
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addColumn("runner", "varchar(16)", (col) => col.notNull())
        .addColumn("host", "varchar(255)", (col) => col.notNull())
        .addColumn("pid", "integer", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("events_job_runs_by_time")
        .on("events_job_runs")
        .column("created_at")
        .execute();
    },
  },
  /** Bookmarks: one saved place (and a comment) per user and track (keepsakes-store.ts). */
  "004-bookmarks": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events_bookmarks")
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("track_id", "varchar(64)", (col) => col.notNull())
        .addColumn("position_ms", "integer", (col) => col.notNull())
        .addColumn("comment", "text", (col) => col.notNull())
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("changed_at", "bigint", (col) => col.notNull())
        .addPrimaryKeyConstraint("events_bookmarks_pk", ["user_id", "track_id"])
        .execute();
    },
  },
  /** The server's internet radio stations, kept by administrators. */
  "005-radio-stations": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events_radio_stations")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("name", "varchar(200)", (col) => col.notNull())
        .addColumn("stream_url", "text", (col) => col.notNull())
        .addColumn("homepage_url", "text")
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .execute();
    },
  },
  /** Public shares of tracks: the id is the link's 128-bit secret; the tracks are fixed when it is made. */
  "006-shares": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("events_shares")
        .addColumn("id", "varchar(32)", (col) => col.primaryKey())
        .addColumn("owner_id", "varchar(64)", (col) => col.notNull())
        .addColumn("track_ids", "text", (col) => col.notNull())
        .addColumn("description", "text", (col) => col.notNull())
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("expires_at", "bigint")
        .addColumn("last_visited_at", "bigint")
        .addColumn("visit_count", "integer", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("events_shares_by_owner")
        .on("events_shares")
        .columns(["owner_id", "created_at"])
        .execute();
    },
  },
};

export function migrateEventsStore(db: Db): Promise<string[]> {
  return migrateService(db, "events", eventsMigrations);
}
