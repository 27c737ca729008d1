// One edit's transaction over the playlist's rows: tombstone-aware neighbour queries, positions, savepoints.
import { sql, type Transaction } from "@soundmesh/db";
import type { PlaylistRevision } from "@soundmesh/protocol";
import type { PlaylistTransaction, StoredEntry, StoredPlaylist } from "./store";
import { chunks, patchRowOf, revisionOf, type PlaylistTables } from "./sql-tables";

export function transactionFor(
  trx: Transaction<PlaylistTables>,
  playlist: StoredPlaylist,
): PlaylistTransaction {
  const id = playlist.id;
  const items = () => trx.selectFrom("playlist_items").where("playlist_id", "=", id);
  return {
    playlist,
    async revisionsOfOperations(opIds) {
      const found = new Map<string, PlaylistRevision>();
      for (const part of chunks([...new Set(opIds)])) {
        const rows = await trx
          .selectFrom("playlist_revisions")
          .selectAll()
          .where("playlist_id", "=", id)
          .where("op_id", "in", part)
          .execute();
        for (const row of rows) found.set(row.op_id, revisionOf(row));
      }
      return found;
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
    async countBetween(from, to, excluded) {
      let query = items()
        .select((eb) => eb.fn.countAll().as("n"))
        .where("position", ">=", from)
        .where("position", "<", to);
      for (const part of chunks(excluded)) query = query.where("item_id", "not in", part);
      const row = await query.executeTakeFirst();
      return Number(row?.n ?? 0);
    },
    async entriesBetween(from, to, excluded) {
      let query = items()
        .select(["item_id", "position"])
        .where("position", ">=", from)
        .where("position", "<", to);
      for (const part of chunks(excluded)) query = query.where("item_id", "not in", part);
      const rows = await query.orderBy("position").orderBy("item_id").execute();
      return rows.map((row) => ({ itemId: row.item_id, position: Number(row.position) }));
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
      // One statement per 200 rows (a CASE over item ids): a spread neighbourhood costs a few round trips, not one
      // per row. The cast gives PostgreSQL the column's type for the bound numbers.
      for (const part of chunks(positions, 200)) {
        const cases = part.map(
          ({ itemId, position }) => sql`when ${itemId} then cast(${position} as double precision)`,
        );
        await trx
          .updateTable("playlist_items")
          .set({ position: sql<number>`case item_id ${sql.join(cases, sql` `)} end` })
          .where("playlist_id", "=", id)
          .where(
            "item_id",
            "in",
            part.map((entry) => entry.itemId),
          )
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
    async insertRevisions(revisions) {
      // 200 rows of 6 columns per statement: an edit of 500 operations writes its revisions in 3 round trips.
      for (const part of chunks(revisions, 200)) {
        await trx
          .insertInto("playlist_revisions")
          .values(
            part.map((revision) => ({
              playlist_id: id,
              revision: revision.revision,
              op_id: revision.opId,
              author: revision.author,
              at: revision.at,
              operation: JSON.stringify(revision.operation),
            })),
          )
          .execute();
      }
    },
    async updatePlaylist(state, patch) {
      await trx
        .updateTable("playlist_playlists")
        .set({ ...patchRowOf(patch), revision: state.revision, item_count: state.itemCount })
        .where("id", "=", id)
        .execute();
    },
  };
}
