// PlaylistStore over Kysely: the same queries on SQLite and PostgreSQL. Edits lock the playlist row (FOR UPDATE on
// PostgreSQL; SQLite's single connection already runs one transaction at a time).
import { sql, type Db, type Kysely, type Transaction } from "@soundmesh/db";
import { playlistOperation, smartRules, type PlaylistItem, type PlaylistRevision } from "@soundmesh/protocol";
import type {
  MemberRole,
  PlaylistPatch,
  PlaylistStore,
  PlaylistTransaction,
  StoredEntry,
  StoredPlaylist,
} from "./store";

interface PlaylistTables {
  playlist_playlists: {
    id: string;
    owner_id: string;
    name: string;
    description: string;
    is_public: number;
    is_collaborative: number;
    smart_rules: string | null;
    has_cover: number;
    revision: number;
    item_count: number;
    created_at: number;
    updated_at: number;
    deleted_at: number | null;
  };
  playlist_items: {
    playlist_id: string;
    item_id: string;
    track_id: string;
    added_by: string;
    added_at: number;
    position: number;
    removed_revision: number | null;
  };
  playlist_revisions: {
    playlist_id: string;
    revision: number;
    op_id: string;
    author: string;
    at: number;
    operation: string;
  };
  playlist_covers: { playlist_id: string; image: string; updated_at: number };
  playlist_members: {
    playlist_id: string;
    user_id: string;
    role: MemberRole;
    user_name: string;
    added_at: number;
  };
}

type PlaylistDb = Kysely<PlaylistTables>;
type Executor = PlaylistDb | Transaction<PlaylistTables>;
type PlaylistRow = PlaylistTables["playlist_playlists"];

function playlistOf(row: PlaylistRow): StoredPlaylist {
  return {
    id: row.id,
    ownerId: row.owner_id,
    name: row.name,
    description: row.description,
    isPublic: Number(row.is_public) !== 0,
    isCollaborative: Number(row.is_collaborative) !== 0,
    smartRules: row.smart_rules === null ? null : smartRules.parse(JSON.parse(row.smart_rules)),
    hasUploadedCover: Number(row.has_cover) !== 0,
    revision: Number(row.revision),
    itemCount: Number(row.item_count),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}

function patchRowOf(patch: PlaylistPatch): Partial<PlaylistRow> {
  const row: Partial<PlaylistRow> = { updated_at: patch.updatedAt };
  if (patch.name !== undefined) row.name = patch.name;
  if (patch.description !== undefined) row.description = patch.description;
  if (patch.isPublic !== undefined) row.is_public = patch.isPublic ? 1 : 0;
  if (patch.isCollaborative !== undefined) row.is_collaborative = patch.isCollaborative ? 1 : 0;
  if (patch.ownerId !== undefined) row.owner_id = patch.ownerId;
  if (patch.smartRules !== undefined)
    row.smart_rules = patch.smartRules === null ? null : JSON.stringify(patch.smartRules);
  if (patch.deletedAt !== undefined) row.deleted_at = patch.deletedAt;
  return row;
}

function revisionOf(row: PlaylistTables["playlist_revisions"]): PlaylistRevision {
  return {
    revision: Number(row.revision),
    opId: row.op_id,
    author: row.author,
    at: Number(row.at),
    operation: playlistOperation.parse(JSON.parse(row.operation)),
  };
}

/** Keeps `in (…)` lists well under both dialects' bound-parameter limits. */
function chunks<T>(items: readonly T[], size = 500): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

async function liveItemsIn(executor: Executor, id: string): Promise<PlaylistItem[]> {
  const rows = await executor
    .selectFrom("playlist_items")
    .select(["item_id", "track_id", "added_by", "added_at"])
    .where("playlist_id", "=", id)
    .where("removed_revision", "is", null)
    .orderBy("position")
    .orderBy("item_id")
    .execute();
  return rows.map((row): PlaylistItem => ({
    itemId: row.item_id,
    trackId: row.track_id,
    addedBy: row.added_by,
    addedAt: Number(row.added_at),
  }));
}

export function createSqlPlaylistStore(db: Db): PlaylistStore {
  const kysely = db.kysely as PlaylistDb;
  const locks = db.dialect === "postgres";

  function transactionFor(trx: Transaction<PlaylistTables>, playlist: StoredPlaylist): PlaylistTransaction {
    const id = playlist.id;
    const items = () => trx.selectFrom("playlist_items").where("playlist_id", "=", id);
    return {
      playlist,
      async revisionOfOperation(opId) {
        const row = await trx
          .selectFrom("playlist_revisions")
          .selectAll()
          .where("playlist_id", "=", id)
          .where("op_id", "=", opId)
          .executeTakeFirst();
        return row && revisionOf(row);
      },
      async entries(itemIds) {
        const found = new Map<string, StoredEntry>();
        for (const part of chunks([...new Set(itemIds)])) {
          const rows = await items()
            .select(["item_id", "position", "removed_revision"])
            .where("item_id", "in", part)
            .execute();
          for (const row of rows)
            found.set(row.item_id, {
              itemId: row.item_id,
              position: Number(row.position),
              isLive: row.removed_revision === null,
            });
        }
        return found;
      },
      async nextPosition(after, excluded) {
        let query = items().select("position");
        if (after !== null) query = query.where("position", ">", after);
        for (const part of chunks(excluded)) query = query.where("item_id", "not in", part);
        const row = await query.orderBy("position").limit(1).executeTakeFirst();
        return row ? Number(row.position) : null;
      },
      async lastPosition(excluded) {
        let query = items().select("position");
        for (const part of chunks(excluded)) query = query.where("item_id", "not in", part);
        const row = await query.orderBy("position", "desc").limit(1).executeTakeFirst();
        return row ? Number(row.position) : null;
      },
      async lastLiveAtOrBefore(position, excluded) {
        let query = items().select("item_id").where("removed_revision", "is", null);
        if (position !== null) query = query.where("position", "<=", position);
        for (const part of chunks(excluded)) query = query.where("item_id", "not in", part);
        const row = await query
          .orderBy("position", "desc")
          .orderBy("item_id", "desc")
          .limit(1)
          .executeTakeFirst();
        return row?.item_id ?? null;
      },
      async insertItems(rows) {
        for (const part of chunks(rows, 200)) {
          await trx
            .insertInto("playlist_items")
            .values(
              part.map((item) => ({
                playlist_id: id,
                item_id: item.itemId,
                track_id: item.trackId,
                added_by: item.addedBy,
                added_at: item.addedAt,
                position: item.position,
                removed_revision: null,
              })),
            )
            .execute();
        }
      },
      async markRemoved(itemIds, revision) {
        for (const part of chunks(itemIds)) {
          await trx
            .updateTable("playlist_items")
            .set({ removed_revision: revision })
            .where("playlist_id", "=", id)
            .where("item_id", "in", part)
            .execute();
        }
      },
      async setPositions(positions) {
        for (const { itemId, position } of positions) {
          await trx
            .updateTable("playlist_items")
            .set({ position })
            .where("playlist_id", "=", id)
            .where("item_id", "=", itemId)
            .execute();
        }
      },
      async renumber() {
        await sql`
          update playlist_items set position = ranked.rank
          from (
            select item_id, row_number() over (order by position, item_id) as rank
            from playlist_items where playlist_id = ${id}
          ) as ranked
          where playlist_items.playlist_id = ${id} and playlist_items.item_id = ranked.item_id`.execute(trx);
      },
      async savepoint(name) {
        await sql`savepoint ${sql.id(name)}`.execute(trx);
      },
      async rollbackToSavepoint(name) {
        await sql`rollback to savepoint ${sql.id(name)}`.execute(trx);
      },
      async releaseSavepoint(name) {
        await sql`release savepoint ${sql.id(name)}`.execute(trx);
      },
      async appendRevision(revision, patch, itemCountDelta) {
        await trx
          .insertInto("playlist_revisions")
          .values({
            playlist_id: id,
            revision: revision.revision,
            op_id: revision.opId,
            author: revision.author,
            at: revision.at,
            operation: JSON.stringify(revision.operation),
          })
          .execute();
        await trx
          .updateTable("playlist_playlists")
          .set((eb) => ({
            ...patchRowOf(patch),
            revision: revision.revision,
            item_count: eb("item_count", "+", itemCountDelta),
          }))
          .where("id", "=", id)
          .execute();
      },
    };
  }

  const memberRows = (executor: Executor, id: string, role: MemberRole) =>
    executor.selectFrom("playlist_members").where("playlist_id", "=", id).where("role", "=", role);

  return {
    async insertPlaylist(playlist) {
      await kysely
        .insertInto("playlist_playlists")
        .values({
          id: playlist.id,
          owner_id: playlist.ownerId,
          name: playlist.name,
          description: playlist.description,
          is_public: playlist.isPublic ? 1 : 0,
          is_collaborative: playlist.isCollaborative ? 1 : 0,
          smart_rules: playlist.smartRules === null ? null : JSON.stringify(playlist.smartRules),
          has_cover: playlist.hasUploadedCover ? 1 : 0,
          revision: playlist.revision,
          item_count: playlist.itemCount,
          created_at: playlist.createdAt,
          updated_at: playlist.updatedAt,
          deleted_at: playlist.deletedAt,
        })
        .execute();
    },

    async findPlaylist(id) {
      const row = await kysely
        .selectFrom("playlist_playlists")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirst();
      return row && playlistOf(row);
    },

    editPlaylist(id, work) {
      return kysely.transaction().execute(async (trx) => {
        let query = trx.selectFrom("playlist_playlists").selectAll().where("id", "=", id);
        if (locks) query = query.forUpdate();
        const row = await query.executeTakeFirst();
        if (!row) return undefined;
        return work(transactionFor(trx, playlistOf(row)));
      });
    },

    async updatePlaylist(id, patch) {
      await kysely.updateTable("playlist_playlists").set(patchRowOf(patch)).where("id", "=", id).execute();
    },

    liveItems: (id) => liveItemsIn(kysely, id),

    readSnapshot(id) {
      // Repeatable read on PostgreSQL: the items and the revision come from the same moment.
      return kysely
        .transaction()
        .setIsolationLevel("repeatable read")
        .execute(async (trx) => {
          const row = await trx
            .selectFrom("playlist_playlists")
            .selectAll()
            .where("id", "=", id)
            .executeTakeFirst();
          if (!row) return undefined;
          return { playlist: playlistOf(row), items: await liveItemsIn(trx, id) };
        });
    },

    async revisionsAfter(id, revision, limit) {
      const rows = await kysely
        .selectFrom("playlist_revisions")
        .selectAll()
        .where("playlist_id", "=", id)
        .where("revision", ">", revision)
        .orderBy("revision")
        .limit(limit)
        .execute();
      return rows.map(revisionOf);
    },

    async members(id, role) {
      const rows = await memberRows(kysely, id, role)
        .select(["user_id", "user_name"])
        .orderBy("added_at")
        .orderBy("user_id")
        .execute();
      return rows.map((row) => ({ userId: row.user_id, name: row.user_name }));
    },

    async followerCount(id) {
      const row = await memberRows(kysely, id, "follower")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async isMember(id, role, userId) {
      const row = await memberRows(kysely, id, role)
        .select("user_id")
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return row !== undefined;
    },

    async addMember(id, role, member, at) {
      await kysely
        .insertInto("playlist_members")
        .values({ playlist_id: id, user_id: member.userId, role, user_name: member.name, added_at: at })
        .onConflict((conflict) => conflict.columns(["playlist_id", "user_id", "role"]).doNothing())
        .execute();
    },

    async removeMember(id, role, userId) {
      const result = await kysely
        .deleteFrom("playlist_members")
        .where("playlist_id", "=", id)
        .where("role", "=", role)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    transferOwner(id, newOwnerId, oldOwner, at) {
      return kysely.transaction().execute(async (trx) => {
        await trx
          .updateTable("playlist_playlists")
          .set({ owner_id: newOwnerId, updated_at: at })
          .where("id", "=", id)
          .execute();
        await trx
          .deleteFrom("playlist_members")
          .where("playlist_id", "=", id)
          .where("user_id", "=", newOwnerId)
          .execute();
        await trx
          .insertInto("playlist_members")
          .values({
            playlist_id: id,
            user_id: oldOwner.userId,
            role: "collaborator",
            user_name: oldOwner.name,
            added_at: at,
          })
          .onConflict((conflict) => conflict.columns(["playlist_id", "user_id", "role"]).doNothing())
          .execute();
      });
    },

    async playlistsOf(userId) {
      const rows = await kysely
        .selectFrom("playlist_playlists")
        .selectAll()
        .where("deleted_at", "is", null)
        .where((eb) =>
          eb.or([
            eb("owner_id", "=", userId),
            eb(
              "id",
              "in",
              eb.selectFrom("playlist_members").select("playlist_id").where("user_id", "=", userId),
            ),
          ]),
        )
        .orderBy("updated_at", "desc")
        .orderBy("id")
        .execute();
      return rows.map(playlistOf);
    },

    setCover(id, jpeg, at) {
      return kysely.transaction().execute(async (trx) => {
        await trx.deleteFrom("playlist_covers").where("playlist_id", "=", id).execute();
        if (jpeg !== null)
          await trx
            .insertInto("playlist_covers")
            .values({ playlist_id: id, image: Buffer.from(jpeg).toString("base64"), updated_at: at })
            .execute();
        await trx
          .updateTable("playlist_playlists")
          .set({ has_cover: jpeg === null ? 0 : 1, updated_at: at })
          .where("id", "=", id)
          .execute();
      });
    },

    async cover(id) {
      const row = await kysely
        .selectFrom("playlist_covers")
        .select("image")
        .where("playlist_id", "=", id)
        .executeTakeFirst();
      return row && new Uint8Array(Buffer.from(row.image, "base64"));
    },

    async smartPlaylists() {
      const rows = await kysely
        .selectFrom("playlist_playlists")
        .selectAll()
        .where("deleted_at", "is", null)
        .where("smart_rules", "is not", null)
        .execute();
      return rows.map(playlistOf);
    },
  };
}
