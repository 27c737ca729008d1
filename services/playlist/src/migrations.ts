// The playlist service's tables. Items keep their row when removed (a tombstone at its position) so operations
// anchored on removed items still resolve; positions are doubles, spread out locally when a gap fills (positions.ts).
import { migrateService, sql, type Db, type Kysely, type ServiceMigrations } from "@soundmesh/db";

export const playlistMigrations: ServiceMigrations = {
  "001-playlists": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("playlist_playlists")
        .addColumn("id", "varchar(64)", (col) => col.primaryKey())
        .addColumn("owner_id", "varchar(64)", (col) => col.notNull())
        .addColumn("name", "text", (col) => col.notNull())
        .addColumn("description", "text", (col) => col.notNull())
        .addColumn("is_public", "integer", (col) => col.notNull())
        .addColumn("is_collaborative", "integer", (col) => col.notNull())
        .addColumn("smart_rules", "text")
        .addColumn("revision", "integer", (col) => col.notNull())
        .addColumn("item_count", "integer", (col) => col.notNull())
        .addColumn("created_at", "bigint", (col) => col.notNull())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .addColumn("deleted_at", "bigint")
        .execute();
      await db.schema
        .createIndex("playlist_playlists_by_owner")
        .on("playlist_playlists")
        .column("owner_id")
        .execute();
      await db.schema
        .createTable("playlist_items")
        .addColumn("playlist_id", "varchar(64)", (col) =>
          col.notNull().references("playlist_playlists.id").onDelete("cascade"),
        )
        .addColumn("item_id", "varchar(64)", (col) => col.notNull())
        .addColumn("track_id", "varchar(64)", (col) => col.notNull())
        .addColumn("added_by", "varchar(64)", (col) => col.notNull())
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .addColumn("position", "double precision", (col) => col.notNull())
        .addColumn("removed_revision", "integer")
        .addPrimaryKeyConstraint("playlist_items_pk", ["playlist_id", "item_id"])
        .execute();
      await db.schema
        .createIndex("playlist_items_by_position")
        .on("playlist_items")
        .columns(["playlist_id", "position"])
        .execute();
      await db.schema
        .createTable("playlist_revisions")
        .addColumn("playlist_id", "varchar(64)", (col) =>
          col.notNull().references("playlist_playlists.id").onDelete("cascade"),
        )
        .addColumn("revision", "integer", (col) => col.notNull())
        .addColumn("op_id", "varchar(64)", (col) => col.notNull())
        .addColumn("author", "varchar(64)", (col) => col.notNull())
        .addColumn("at", "bigint", (col) => col.notNull())
        .addColumn("operation", "text", (col) => col.notNull())
        .addPrimaryKeyConstraint("playlist_revisions_pk", ["playlist_id", "revision"])
        .addUniqueConstraint("playlist_revisions_op_unique", ["playlist_id", "op_id"])
        .execute();
      await db.schema
        .createTable("playlist_members")
        .addColumn("playlist_id", "varchar(64)", (col) =>
          col.notNull().references("playlist_playlists.id").onDelete("cascade"),
        )
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("role", "varchar(16)", (col) =>
          col.notNull().check(sql`role in ('collaborator', 'follower')`),
        )
        .addColumn("user_name", "varchar(64)", (col) => col.notNull())
        .addColumn("added_at", "bigint", (col) => col.notNull())
        .addPrimaryKeyConstraint("playlist_members_pk", ["playlist_id", "user_id", "role"])
        .execute();
      await db.schema
        .createIndex("playlist_members_by_user")
        .on("playlist_members")
        .column("user_id")
        .execute();
    },
  },
  "002-covers": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable("playlist_playlists")
        .addColumn("has_cover", "integer", (col) => col.notNull().defaultTo(0))
        .execute();
      // The uploaded image, normalised to a 600 px JPEG, as base64 text (portable across both dialects).
      await db.schema
        .createTable("playlist_covers")
        .addColumn("playlist_id", "varchar(64)", (col) =>
          col.primaryKey().references("playlist_playlists.id").onDelete("cascade"),
        )
        .addColumn("image", "text", (col) => col.notNull())
        .addColumn("updated_at", "bigint", (col) => col.notNull())
        .execute();
    },
  },
  "003-owner-names": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable("playlist_playlists")
        .addColumn("owner_name", "varchar(64)", (col) => col.notNull().defaultTo(""))
        .execute();
    },
  },
  "004-invitations": {
    async up(db: Kysely<unknown>) {
      // Collaboration is an invitation the invitee accepts; the row goes once it is answered or withdrawn.
      await db.schema
        .createTable("playlist_invitations")
        .addColumn("playlist_id", "varchar(64)", (col) =>
          col.notNull().references("playlist_playlists.id").onDelete("cascade"),
        )
        .addColumn("invitee_id", "varchar(64)", (col) => col.notNull())
        .addColumn("invitee_name", "varchar(64)", (col) => col.notNull())
        .addColumn("inviter_id", "varchar(64)", (col) => col.notNull())
        .addColumn("inviter_name", "varchar(64)", (col) => col.notNull())
        .addColumn("is_hidden", "integer", (col) => col.notNull())
        .addColumn("invited_at", "bigint", (col) => col.notNull())
        .addPrimaryKeyConstraint("playlist_invitations_pk", ["playlist_id", "invitee_id"])
        .execute();
      await db.schema
        .createIndex("playlist_invitations_by_invitee")
        .on("playlist_invitations")
        .columns(["invitee_id", "invited_at"])
        .execute();
      await db.schema
        .createIndex("playlist_invitations_by_inviter")
        .on("playlist_invitations")
        .columns(["inviter_id", "invitee_id"])
        .execute();
      // One row per invitation sent in the last hour, for the hourly limit (a withdrawn one still counts).
      await db.schema
        .createTable("playlist_invitations_sent")
        .addColumn("inviter_id", "varchar(64)", (col) => col.notNull())
        .addColumn("sent_at", "bigint", (col) => col.notNull())
        .execute();
      await db.schema
        .createIndex("playlist_invitations_sent_by_inviter")
        .on("playlist_invitations_sent")
        .columns(["inviter_id", "sent_at"])
        .execute();
      await db.schema
        .createTable("playlist_blocks")
        .addColumn("user_id", "varchar(64)", (col) => col.notNull())
        .addColumn("blocked_id", "varchar(64)", (col) => col.notNull())
        .addColumn("blocked_name", "varchar(64)", (col) => col.notNull())
        .addColumn("blocked_at", "bigint", (col) => col.notNull())
        .addPrimaryKeyConstraint("playlist_blocks_pk", ["user_id", "blocked_id"])
        .execute();
    },
  },
  /**
   * Each item keeps what its track was when added (title, artist, album, duration), so an item whose track is gone
   * from the library still shows what it was. Filled after the insert from the catalog (item-snapshots.ts).
   */
  "005-item-snapshots": {
    async up(db: Kysely<unknown>) {
      for (const column of ["snapshot_title", "snapshot_artist", "snapshot_album"])
        await db.schema.alterTable("playlist_items").addColumn(column, "text").execute();
      await db.schema.alterTable("playlist_items").addColumn("snapshot_duration_ms", "integer").execute();
      await db.schema
        .createIndex("playlist_items_by_track")
        .on("playlist_items")
        .column("track_id")
        .execute();
    },
  },
};

export function migratePlaylistStore(db: Db): Promise<string[]> {
  return migrateService(db, "playlist", playlistMigrations);
}
