// PlaylistStore over Kysely: the same queries on SQLite and PostgreSQL. Edits lock the playlist row (FOR UPDATE on
// PostgreSQL; SQLite's single connection already runs one transaction at a time). Invitations: sql-invitations.ts.
import type { Db } from "@soundmesh/db";
import type { MemberRole, PlaylistStore, SearchablePlaylist, SearchableQuery } from "./store";
import {
  chunks,
  liveItemsIn,
  playlistOf,
  patchRowOf,
  revisionOf,
  type Executor,
  type PlaylistDb,
  type PlaylistRow,
} from "./sql-tables";
import { createSqlInvitationStore } from "./sql-invitations";
import { transactionFor } from "./sql-transaction";

/** Live playlists with their collaborators and follower counts; ids in `in (…)` lists stay under 500 per query. */
async function searchableIn(executor: Executor, query: SearchableQuery): Promise<SearchablePlaylist[]> {
  let rows: PlaylistRow[];
  const live = executor.selectFrom("playlist_playlists").selectAll().where("deleted_at", "is", null);
  if ("ids" in query) {
    rows = [];
    for (const ids of chunks([...new Set(query.ids)]))
      rows.push(...(await live.where("id", "in", ids).orderBy("id").execute()));
  } else {
    const after = query.afterId;
    rows = await (after === null ? live : live.where("id", ">", after))
      .orderBy("id")
      .limit(query.limit)
      .execute();
  }
  const collaborators = new Map<string, string[]>();
  const followers = new Map<string, number>();
  for (const ids of chunks(rows.map((row) => row.id))) {
    if (ids.length === 0) continue;
    const members = await executor
      .selectFrom("playlist_members")
      .select(["playlist_id", "user_id"])
      .where("playlist_id", "in", ids)
      .where("role", "=", "collaborator")
      .orderBy("playlist_id")
      .orderBy("user_id")
      .execute();
    for (const member of members)
      collaborators.set(member.playlist_id, [
        ...(collaborators.get(member.playlist_id) ?? []),
        member.user_id,
      ]);
    const counts = await executor
      .selectFrom("playlist_members")
      .select((eb) => ["playlist_id", eb.fn.countAll().as("n")])
      .where("playlist_id", "in", ids)
      .where("role", "=", "follower")
      .groupBy("playlist_id")
      .execute();
    for (const count of counts) followers.set(count.playlist_id, Number(count.n));
  }
  return rows.map((row) => ({
    playlist: playlistOf(row),
    collaboratorIds: collaborators.get(row.id) ?? [],
    followerCount: followers.get(row.id) ?? 0,
  }));
}

export function createSqlPlaylistStore(db: Db): PlaylistStore {
  const kysely = db.kysely as PlaylistDb;
  // Reads outside a transaction: on SQLite a second connection, so a long edit's transaction holds up no one's reads.
  const reader = db.reader as PlaylistDb;
  const locks = db.dialect === "postgres";

  const memberRows = (executor: Executor, id: string, role: MemberRole) =>
    executor.selectFrom("playlist_members").where("playlist_id", "=", id).where("role", "=", role);

  return {
    ...createSqlInvitationStore(kysely, db.dialect),

    async insertPlaylist(playlist) {
      await kysely
        .insertInto("playlist_playlists")
        .values({
          id: playlist.id,
          owner_id: playlist.ownerId,
          owner_name: playlist.ownerName,
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
      const row = await reader
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

    liveItems: (id) => liveItemsIn(reader, id),

    readSnapshot(id) {
      // Repeatable read on PostgreSQL: the items and the revision come from the same moment.
      return reader
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
      const rows = await reader
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
      const rows = await memberRows(reader, id, role)
        .select(["user_id", "user_name"])
        .orderBy("added_at")
        .orderBy("user_id")
        .execute();
      return rows.map((row) => ({ userId: row.user_id, name: row.user_name }));
    },

    async followerCount(id) {
      const row = await memberRows(reader, id, "follower")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async isMember(id, role, userId) {
      const row = await memberRows(reader, id, role)
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

    transferOwner(id, newOwner, at) {
      return kysely.transaction().execute(async (trx) => {
        let query = trx
          .selectFrom("playlist_playlists")
          .select(["owner_id", "owner_name"])
          .where("id", "=", id);
        if (locks) query = query.forUpdate();
        const before = await query.executeTakeFirstOrThrow();
        await trx
          .updateTable("playlist_playlists")
          .set({ owner_id: newOwner.userId, owner_name: newOwner.name, updated_at: at })
          .where("id", "=", id)
          .execute();
        await trx
          .deleteFrom("playlist_members")
          .where("playlist_id", "=", id)
          .where("user_id", "=", newOwner.userId)
          .execute();
        await trx
          .insertInto("playlist_members")
          .values({
            playlist_id: id,
            user_id: before.owner_id,
            role: "collaborator",
            user_name: before.owner_name,
            added_at: at,
          })
          .onConflict((conflict) => conflict.columns(["playlist_id", "user_id", "role"]).doNothing())
          .execute();
      });
    },

    async playlistsOf(userId) {
      const rows = await reader
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
      const row = await reader
        .selectFrom("playlist_covers")
        .select("image")
        .where("playlist_id", "=", id)
        .executeTakeFirst();
      return row && new Uint8Array(Buffer.from(row.image, "base64"));
    },

    searchablePlaylists(query) {
      // Repeatable read on PostgreSQL: the rows and their members come from the same moment. On SQLite the reading
      // connection: search fetches a playlist after each of its changes, and on the writing connection that fetch
      // queued with a hot playlist's edits, each group of edits waiting for the one before to be read.
      return reader
        .transaction()
        .setIsolationLevel("repeatable read")
        .execute((trx) => searchableIn(trx, query));
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
