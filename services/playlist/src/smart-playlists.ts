// Smart playlists: their items follow rules over the catalog (genre, artist, years, recently added) and the owner's
// listening (plays, rating, stars, last played: smart-listening.ts), and are brought up to date after every catalog
// change and every change of the owner's listening, as ordinary revisions so followers see them live.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import {
  catalogContract,
  rulesUseListening,
  type PlaylistItem,
  type SubmittedOperation,
} from "@soundmesh/protocol";
import { applyListeningRules, catalogRulesOf } from "./smart-listening";
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
  clock: { now(): number };
}) {
  const { bus, store, logger, newId, commit, clock } = deps;
  let running: Promise<void> | undefined;
  let again = false;

  /**
   * One refresh of a playlist at a time: two at once (a new smart playlist's first fill and a listening refresh
   * that lists it) would both read the same items and both insert the chosen tracks.
   */
  const refreshing = new Map<string, Promise<void>>();
  function refresh(playlistId: string, traceId?: string): Promise<void> {
    const previous = refreshing.get(playlistId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => refreshNow(playlistId, traceId));
    refreshing.set(playlistId, next);
    const forget = () => {
      if (refreshing.get(playlistId) === next) refreshing.delete(playlistId);
    };
    next.then(forget, forget);
    return next;
  }

  async function refreshNow(playlistId: string, traceId?: string): Promise<void> {
    const playlist = await store.findPlaylist(playlistId);
    if (!playlist?.smartRules || playlist.deletedAt !== null) return;
    const rules = playlist.smartRules;
    const usesListening = rulesUseListening(rules);
    const { trackIds: chosen } = await bus.request(
      catalogContract,
      "smartTracks",
      { rules: usesListening ? catalogRulesOf(rules) : rules },
      { timeoutMs: 30_000, ...(traceId === undefined ? {} : { traceId }) },
    );
    const trackIds = usesListening
      ? await applyListeningRules(bus, playlist.ownerId, rules, chosen, clock.now(), traceId)
      : chosen;
    const operations = smartOperations(await store.liveItems(playlistId), trackIds, newId);
    if (operations.length > 0)
      await commit(playlistId, { userId: playlist.ownerId, isSystem: true }, null, operations, traceId);
  }

  /** Every smart playlist, or those on listening of these owners (after their plays, stars or ratings changed). */
  async function refreshAll(traceId?: string, listeningOf?: ReadonlySet<string>): Promise<void> {
    let playlists: StoredPlaylist[];
    try {
      playlists = await store.smartPlaylists();
    } catch (error) {
      logger.error({ err: error, traceId }, "smart playlists not listed for a refresh");
      return;
    }
    if (listeningOf)
      playlists = playlists.filter(
        (playlist) =>
          listeningOf.has(playlist.ownerId) && playlist.smartRules && rulesUseListening(playlist.smartRules),
      );
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

  /** Owners whose listening changed, waiting for the next listening refresh. */
  let listeningOwners = new Set<string>();
  let listening: Promise<void> | undefined;
  function refreshListeningInBackground(userIds: readonly string[], traceId?: string): void {
    for (const userId of userIds) listeningOwners.add(userId);
    if (listening) return;
    listening = (async () => {
      while (listeningOwners.size > 0) {
        const owners = listeningOwners;
        listeningOwners = new Set();
        await refreshAll(traceId, owners);
      }
    })().finally(() => {
      listening = undefined;
    });
  }

  return {
    refresh,
    refreshAll,
    refreshAllInBackground,
    refreshListeningInBackground,
    idle: async () => {
      while (running || listening) await (running ?? listening);
    },
  };
}
