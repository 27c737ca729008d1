// Smart playlists: their items follow rules over the catalog (genre, artist, years, recently added) and are
// brought up to date after every catalog change, as ordinary revisions so followers see them live.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import { catalogContract, type PlaylistItem, type SubmittedOperation } from "@soundmesh/protocol";
import type { PlaylistStore, StoredPlaylist } from "./store";

type Commit = (
  playlistId: string,
  editor: { userId: string; isSystem: boolean },
  baseRevision: number | null,
  operations: readonly SubmittedOperation[],
  traceId?: string,
) => Promise<unknown>;

/** The operations that turn `items` into `trackIds` (in order), keeping the items already there. */
export function smartOperations(
  items: readonly PlaylistItem[],
  trackIds: readonly string[],
  newId: () => string,
): SubmittedOperation[] {
  const wanted = new Set(trackIds);
  const kept = new Map<string, string>();
  const unwanted: string[] = [];
  for (const item of items) {
    if (wanted.has(item.trackId) && !kept.has(item.trackId)) kept.set(item.trackId, item.itemId);
    else unwanted.push(item.itemId);
  }
  const operations: SubmittedOperation[] = [];
  if (unwanted.length > 0)
    operations.push({ opId: newId(), operation: { type: "remove", itemIds: unwanted } });
  const added = trackIds
    .filter((trackId) => !kept.has(trackId))
    .map((trackId) => ({ itemId: newId(), trackId }));
  if (added.length > 0)
    operations.push({ opId: newId(), operation: { type: "insert", afterItemId: "end", items: added } });
  const byTrack = new Map([...kept, ...added.map((item) => [item.trackId, item.itemId] as const)]);
  const current = [...[...kept.values()], ...added.map((item) => item.itemId)];
  const desired = trackIds.map((trackId) => byTrack.get(trackId)!);
  if (current.some((itemId, i) => itemId !== desired[i]))
    operations.push({ opId: newId(), operation: { type: "move", itemIds: desired, afterItemId: null } });
  return operations;
}

export function createSmartPlaylists(deps: {
  bus: ServiceBus;
  store: PlaylistStore;
  logger: Logger;
  newId: () => string;
  commit: Commit;
}) {
  const { bus, store, logger, newId, commit } = deps;
  let running: Promise<void> | undefined;
  let again = false;

  async function refresh(playlistId: string, traceId?: string): Promise<void> {
    const playlist = await store.findPlaylist(playlistId);
    if (!playlist?.smartRules || playlist.deletedAt !== null) return;
    const { trackIds } = await bus.request(
      catalogContract,
      "smartTracks",
      { rules: playlist.smartRules },
      { timeoutMs: 30_000, ...(traceId === undefined ? {} : { traceId }) },
    );
    const operations = smartOperations(await store.liveItems(playlistId), trackIds, newId);
    if (operations.length > 0)
      await commit(playlistId, { userId: playlist.ownerId, isSystem: true }, null, operations, traceId);
  }

  async function refreshAll(traceId?: string): Promise<void> {
    let playlists: StoredPlaylist[];
    try {
      playlists = await store.smartPlaylists();
    } catch (error) {
      logger.error({ err: error, traceId }, "smart playlists not listed for a refresh");
      return;
    }
    for (const playlist of playlists) {
      try {
        await refresh(playlist.id, traceId);
      } catch (error) {
        logger.error({ err: error, playlistId: playlist.id, traceId }, "smart playlist not refreshed");
      }
    }
  }

  /** After a catalog change; changes during a refresh run one more refresh when it ends. */
  function refreshAllInBackground(traceId?: string): void {
    if (running) {
      again = true;
      return;
    }
    running = refreshAll(traceId).finally(() => {
      running = undefined;
      if (again) {
        again = false;
        refreshAllInBackground(traceId);
      }
    });
  }

  return {
    refresh,
    refreshAll,
    refreshAllInBackground,
    idle: async () => {
      while (running) await running;
    },
  };
}
