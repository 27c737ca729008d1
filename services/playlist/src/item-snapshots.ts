// What each playlist item's track was when it was added (title, artist, album, duration), so an item whose track
// left the library still says what it was, greyed, until the track comes back with its id (catalog tombstones).
// Filled from the catalog after the edit that added the item, outside its transaction (the edit path stays as fast);
// items a fill missed (a crash, the catalog busy) are filled at start and after each catalog change.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import { catalogContract, type ItemSnapshot } from "@soundmesh/protocol";
import { chunks, type PlaylistDb } from "./sql-tables";

/** One playlist item, by its key, and the track it holds. */
export interface ItemRef {
  playlistId: string;
  itemId: string;
  trackId: string;
}

export interface ItemSnapshotStore {
  /** Live items without a snapshot yet, in key order after `after` (a sweep's cursor), at most `limit`. */
  itemsWithoutSnapshot(limit: number, after?: ItemRef): Promise<ItemRef[]>;
  /** Fills these items' snapshots where they have none (an item's snapshot never changes once made). */
  saveSnapshots(items: ReadonlyArray<{ item: ItemRef; snapshot: ItemSnapshot }>): Promise<void>;
  snapshotsIn(playlistId: string, trackIds: readonly string[]): Promise<ItemSnapshot[]>;
}

/** Items written per transaction: each is an update by the item's key (its track is not indexed). */
const SAVE_SLICE = 100;

export function createSqlSnapshotStore(db: Db): ItemSnapshotStore {
  const kysely = db.kysely as PlaylistDb;
  return {
    async itemsWithoutSnapshot(limit, after) {
      let query = kysely
        .selectFrom("playlist_items")
        .select(["playlist_id", "item_id", "track_id"])
        .where("snapshot_title", "is", null)
        .where("removed_revision", "is", null);
      if (after)
        query = query.where((eb) =>
          eb.or([
            eb("playlist_id", ">", after.playlistId),
            eb.and([eb("playlist_id", "=", after.playlistId), eb("item_id", ">", after.itemId)]),
          ]),
        );
      const rows = await query.orderBy("playlist_id").orderBy("item_id").limit(limit).execute();
      return rows.map((row) => ({ playlistId: row.playlist_id, itemId: row.item_id, trackId: row.track_id }));
    },
    async saveSnapshots(items) {
      for (const [index, slice] of chunks([...items], SAVE_SLICE).entries()) {
        if (index > 0) await new Promise((resolve) => setImmediate(resolve));
        await kysely.transaction().execute(async (trx) => {
          for (const { item, snapshot } of slice)
            await trx
              .updateTable("playlist_items")
              .set({
                snapshot_title: snapshot.title,
                snapshot_artist: snapshot.artist,
                snapshot_album: snapshot.album,
                snapshot_duration_ms: snapshot.durationMs,
              })
              .where("playlist_id", "=", item.playlistId)
              .where("item_id", "=", item.itemId)
              .where("snapshot_title", "is", null)
              .execute();
        });
      }
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
   * Fills the snapshots of these items (just inserted), or of every item without one when none are named; in the
   * background, one run at a time, later calls joining the next run.
   */
  fill(items?: readonly ItemRef[], traceId?: string): void;
  /** The track's snapshot as the catalog last gave it, when a fill asked lately (most recent tracks, bounded). */
  known(trackId: string): ItemSnapshot | undefined;
  /** Lets every known snapshot go: the catalog changed, and new items take what tracks are now. */
  forgetKnown(): void;
  /** Resolves when no fill runs. */
  idle(): Promise<void>;
}

/** Tracks whose snapshots are kept for the next items that add them (a few hundred bytes each). */
const KNOWN_TRACKS = 10_000;

const keyOf = (item: ItemRef) => `${item.playlistId}\u0000${item.itemId}`;

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
  const pending = new Map<string, ItemRef>();
  let isSweepPending = false;
  let pendingTraceId: string | undefined;
  /** Least recently asked first. */
  const knownTracks = new Map<string, ItemSnapshot>();
  const remember = (snapshot: ItemSnapshot) => {
    knownTracks.delete(snapshot.trackId);
    knownTracks.set(snapshot.trackId, snapshot);
    if (knownTracks.size > KNOWN_TRACKS) knownTracks.delete(knownTracks.keys().next().value!);
  };

  /** Asks the catalog once per track; items of tracks it does not have stay without a snapshot. */
  async function fillItems(items: readonly ItemRef[], traceId?: string): Promise<void> {
    const entries = await bus.request(
      catalogContract,
      "trackEntries",
      { trackIds: [...new Set(items.map((item) => item.trackId))] },
      traceId === undefined ? {} : { traceId },
    );
    const byTrack = new Map(entries.map((entry) => [entry.trackId, entry]));
    for (const { trackId, title, artist, album, durationMs } of entries)
      remember({ trackId, title, artist, album, durationMs });
    const found = items.flatMap((item) => {
      const entry = byTrack.get(item.trackId);
      if (!entry) return [];
      const { trackId, title, artist, album, durationMs } = entry;
      return [{ item, snapshot: { trackId, title, artist, album, durationMs } }];
    });
    if (found.length > 0) await store.saveSnapshots(found);
  }

  /** Every item without a snapshot, once, in key order. */
  async function sweep(traceId?: string): Promise<void> {
    let after: ItemRef | undefined;
    for (;;) {
      const items = await store.itemsWithoutSnapshot(batch, after);
      if (items.length === 0) return;
      await fillItems(items, traceId);
      after = items.at(-1);
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
      const items = [...pending.values()].slice(0, batch);
      for (const item of items) pending.delete(keyOf(item));
      await fillItems(items, traceId);
    }
  }

  function fill(items?: readonly ItemRef[], traceId?: string): void {
    if (items === undefined) isSweepPending = true;
    else for (const item of items) pending.set(keyOf(item), item);
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
    known: (trackId) => knownTracks.get(trackId),
    forgetKnown: () => knownTracks.clear(),
    async idle() {
      while (running) await running;
    },
  };
}
