// One batch's transaction over the playlist's rows: its order read once, the batch's changes written in a few
// multi-row statements.
import { sql, type Transaction } from "@soundmesh/db";
import type { PlaylistRevision } from "@soundmesh/protocol";
import type { PlaylistTransaction, StoredPlaylist } from "./store";
import { nextTurn } from "./commit-edits";
import { chunks, patchRowOf, revisionOf, type PlaylistTables } from "./sql-tables";

/**
 * Rows per INSERT, and operation ids per look-up, of a big group: on SQLite a statement is one block of the event loop,
 * and building and running an insert of 200 item rows took about 2 ms (the turns between statements are where other
 * requests run).
 */
const INSERT_ROWS = 100;

export function transactionFor(
  trx: Transaction<PlaylistTables>,
  playlist: StoredPlaylist,
): PlaylistTransaction {
  const id = playlist.id;
  const items = () => trx.selectFrom("playlist_items").where("playlist_id", "=", id);
  /**
   * Sets a column to a value per item: one statement per 200 rows (on SQLite a statement blocks the event loop), the
   * new values as a table joined on the item id (UPDATE … FROM, in SQLite and PostgreSQL alike), so a spread
   * neighbourhood or a group's removals cost a round trip, not one per row — and, unlike a CASE over the ids, the work
   * grows with the rows, not their square. The `item_id in (…)` repeats the join for SQLite's planner: without it,
   * SQLite walks every item of the playlist and looks each up in the values (5 ms for 200 rows of a 20,000-item
   * playlist, 0.4 ms with it: one primary-key lookup per row). The casts give PostgreSQL the values' types.
   */
  async function updateEach(
    column: "position" | "removed_revision",
    values: ReadonlyArray<{ itemId: string; value: number }>,
    type: "double precision" | "integer",
  ): Promise<void> {
    for (const [index, part] of chunks(values, 200).entries()) {
      if (index > 0) await nextTurn();
      const rows = part.map(
        ({ itemId, value }) => sql`(cast(${itemId} as text), cast(${value} as ${sql.raw(type)}))`,
      );
      await sql`with changed(item_id, value) as (values ${sql.join(rows)})
        update playlist_items set ${sql.ref(column)} = changed.value from changed
        where playlist_items.playlist_id = ${id} and playlist_items.item_id = changed.item_id
          and playlist_items.item_id in (select item_id from changed)`.execute(trx);
    }
  }
  return {
    playlist,
    async revisionsOfOperations(opIds) {
      const found = new Map<string, PlaylistRevision>();
      // A big edit's 500 ids in one statement held the loop for several milliseconds: a turn between slices.
      for (const [index, part] of chunks([...new Set(opIds)], INSERT_ROWS).entries()) {
        if (index > 0) await nextTurn();
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
    async loadOrder() {
      const rows = await items()
        .select(["item_id", "position", "removed_revision"])
        .orderBy("position")
        .execute();
      return rows.map((row) => ({
        itemId: row.item_id,
        position: Number(row.position),
        removedRevision: row.removed_revision === null ? null : Number(row.removed_revision),
      }));
    },
    async insertItems(rows) {
      for (const [index, part] of chunks(rows, INSERT_ROWS).entries()) {
        if (index > 0) await nextTurn();
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
              // What the track is now, when the service already knows it (item-snapshots.ts): no fill afterwards.
              snapshot_title: item.snapshot?.title ?? null,
              snapshot_artist: item.snapshot?.artist ?? null,
              snapshot_album: item.snapshot?.album ?? null,
              snapshot_duration_ms: item.snapshot?.durationMs ?? null,
            })),
          )
          .execute();
      }
    },
    async setPositions(positions) {
      await updateEach(
        "position",
        positions.map(({ itemId, position }) => ({ itemId, value: position })),
        "double precision",
      );
    },
    async markRemoved(removals) {
      await updateEach(
        "removed_revision",
        removals.map(({ itemId, revision }) => ({ itemId, value: revision })),
        "integer",
      );
    },
    async insertRevisions(revisions) {
      // An edit of 500 operations writes its revisions in 5 statements.
      for (const [index, part] of chunks(revisions, INSERT_ROWS).entries()) {
        if (index > 0) await nextTurn();
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
