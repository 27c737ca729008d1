// What each playlist item's track was when it was added (title, artist, album, duration), so an item whose track
// left the library still says what it was, greyed, until the track comes back with its id (catalog tombstones).
// Filled from the catalog after the edit that added the item, outside its transaction (the edit path stays as fast);
// items a fill missed (a crash, the catalog busy) are filled at start and after each catalog change.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import { catalogContract, type ItemSnapshot } from "@soundmesh/protocol";
import { chunks, type PlaylistDb } from "./sql-tables";

export interface ItemSnapshotStore {
  /** Tracks of live items that have no snapshot yet. */
  tracksWithoutSnapshot(limit: number): Promise<string[]>;
  /** Fills the items of these tracks that have none (an item's snapshot never changes once made). */
  saveSnapshots(snapshots: readonly ItemSnapshot[]): Promise<void>;
  snapshotsIn(playlistId: string, trackIds: readonly string[]): Promise<ItemSnapshot[]>;
}

export function createSqlSnapshotStore(db: Db): ItemSnapshotStore {
  const kysely = db.kysely as PlaylistDb;
  return {
    async tracksWithoutSnapshot(limit) {
      const rows = await kysely
        .selectFrom("playlist_items")
        .select("track_id")
        .distinct()
        .where("snapshot_title", "is", null)
        .where("removed_revision", "is", null)
        .limit(limit)
        .execute();
      return rows.map((row) => row.track_id);
    },
    async saveSnapshots(snapshots) {
      await kysely.transaction().execute(async (trx) => {
        for (const snapshot of snapshots)
          await trx
            .updateTable("playlist_items")
            .set({
              snapshot_title: snapshot.title,
              snapshot_artist: snapshot.artist,
              snapshot_album: snapshot.album,
              snapshot_duration_ms: snapshot.durationMs,
            })
            .where("track_id", "=", snapshot.trackId)
            .where("snapshot_title", "is", null)
            .execute();
      });
    },
    async snapshotsIn(playlistId, trackIds) {
      const found = new Map<string, ItemSnapshot>();
      for (const part of chunks(trackIds))
        for (const row of await kysely
          .selectFrom("playlist_items")
          .select(["track_id", "snapshot_title", "snapshot_artist", "snapshot_album", "snapshot_duration_ms"])
          .where("playlist_id", "=", playlistId)
          .where("track_id", "in", part)
          .where("snapshot_title", "is not", null)
          .orderBy("added_at")
          .execute())
          if (!found.has(row.track_id))
            found.set(row.track_id, {
              trackId: row.track_id,
              title: row.snapshot_title ?? "",
              artist: row.snapshot_artist ?? "",
              album: row.snapshot_album ?? "",
              durationMs: Number(row.snapshot_duration_ms ?? 0),
            });
      return [...found.values()];
    },
  };
}

export interface ItemSnapshots {
  /**
   * Fills the snapshots of these tracks' items (just inserted), or of every item without one when none are named;
   * in the background, one run at a time, later calls joining the next run.
   */
  fill(trackIds?: readonly string[], traceId?: string): void;
  /** Resolves when no fill runs. */
  idle(): Promise<void>;
}

export function createItemSnapshots({
  store,
  bus,
  logger,
  batch = 500,
}: {
  store: ItemSnapshotStore;
  bus: ServiceBus;
  logger: Logger;
  batch?: number;
}): ItemSnapshots {
  let running: Promise<void> | undefined;
  const pending = new Set<string>();
  let isSweepPending = false;
  let pendingTraceId: string | undefined;

  async function fillTracks(trackIds: string[], traceId?: string): Promise<void> {
    const entries = await bus.request(
      catalogContract,
      "trackEntries",
      { trackIds },
      traceId === undefined ? {} : { traceId },
    );
    await store.saveSnapshots(
      entries.map(({ trackId, title, artist, album, durationMs }) => ({
        trackId,
        title,
        artist,
        album,
        durationMs,
      })),
    );
  }

  /** Every item without a snapshot; tracks the catalog does not have are asked for once per sweep. */
  async function sweep(traceId?: string): Promise<void> {
    const asked = new Set<string>();
    for (;;) {
      const trackIds = (await store.tracksWithoutSnapshot(batch + asked.size)).filter((id) => !asked.has(id));
      if (trackIds.length === 0) return;
      for (const id of trackIds) asked.add(id);
      await fillTracks(trackIds, traceId);
    }
  }

  async function drain(): Promise<void> {
    while (pending.size > 0 || isSweepPending) {
      const traceId = pendingTraceId;
      if (isSweepPending) {
        isSweepPending = false;
        pending.clear();
        await sweep(traceId);
        continue;
      }
      const trackIds = [...pending].slice(0, batch);
      for (const id of trackIds) pending.delete(id);
      await fillTracks(trackIds, traceId);
    }
  }

  function fill(trackIds?: readonly string[], traceId?: string): void {
    if (trackIds === undefined) isSweepPending = true;
    else for (const id of trackIds) pending.add(id);
    pendingTraceId = traceId;
    if (running) return;
    running = drain()
      .catch((error: unknown) => logger.warn({ err: error, traceId }, "playlist item snapshots not filled"))
      .finally(() => {
        running = undefined;
        // What came in after a failure waits for the next call (the next catalog change sweeps it up).
      });
  }

  return {
    fill,
    async idle() {
      while (running) await running;
    },
  };
}
