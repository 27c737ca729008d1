// Keeps the offline copies of pinned playlists in step with their edits: on every push for one, and each time the
// socket opens (edits made while this app was closed or offline), its tracks are read again and the offline
// library pins what was added and unpins what no pinned album or playlist holds any more.
import {
  AppError,
  pushTopics,
  type TrackRecord,
  playlistContract,
  catalogContract,
} from "@soundmesh/protocol";
import type { Connection } from "./connection";
import type { OfflineCollection, OfflineLibrary } from "./offline";

const PREFIX = "playlist:";
const CATALOG_BATCH = 500;

/** Follows every pinned playlist while the socket is open; returns the function that stops following. */
export function followPinnedPlaylists(connection: Connection, offline: OfflineLibrary): () => void {
  const followed = new Map<string, () => void>();
  const running = new Set<string>();
  const again = new Set<string>();
  let isStopped = false;

  // One refresh per playlist at a time; pushes meanwhile make one more afterwards.
  const refresh = (playlistId: string) => {
    if (isStopped) return;
    if (running.has(playlistId)) return void again.add(playlistId);
    running.add(playlistId);
    void refreshPlaylist(connection, offline, playlistId).finally(() => {
      running.delete(playlistId);
      if (again.delete(playlistId)) refresh(playlistId);
    });
  };
  const follow = () => {
    const pinned = new Set(
      offline
        .list()
        .filter((c) => c.id.startsWith(PREFIX))
        .map((c) => c.id.slice(PREFIX.length)),
    );
    for (const id of pinned)
      if (!followed.has(id))
        followed.set(
          id,
          connection.subscribe(pushTopics.playlist(id), () => refresh(id)),
        );
    for (const [id, unsubscribe] of followed)
      if (!pinned.has(id)) {
        unsubscribe();
        followed.delete(id);
      }
  };
  follow();
  for (const id of followed.keys()) refresh(id);
  const stopWatching = offline.subscribe(follow);
  // Tracks left the library or came back (same ids): pins drop what cannot play and take back what returned.
  const stopCatalog = connection.subscribe(pushTopics.catalogChanged, () => {
    for (const id of followed.keys()) refresh(id);
  });
  return () => {
    isStopped = true;
    stopWatching();
    stopCatalog();
    for (const unsubscribe of followed.values()) unsubscribe();
    followed.clear();
  };
}

/** Reads the playlist and hands its tracks to the offline library when they changed; never rejects. */
async function refreshPlaylist(
  connection: Connection,
  offline: OfflineLibrary,
  playlistId: string,
): Promise<void> {
  const id = `${PREFIX}${playlistId}`;
  try {
    const snapshot = await connection.call(playlistContract, "get", { playlistId });
    const pinned = offline.list().find((c) => c.id === id);
    if (!pinned) return;
    const tracks = await tracksOf(
      connection,
      snapshot.items.map((item) => item.trackId),
      pinned.tracks,
    );
    const title = snapshot.playlist.name;
    if (title === pinned.title && idsOf(tracks) === idsOf(pinned.tracks)) return;
    const updated: OfflineCollection = { ...pinned, title, albumId: tracks[0]?.albumId, tracks };
    await offline.update(updated);
  } catch (error) {
    const code = error instanceof AppError ? error.code : "";
    // Offline or reconnecting: the next time the socket opens tries again.
    if (code === "UNAVAILABLE") return;
    offline.setProblem(
      id,
      code === "GONE" || code === "NOT_FOUND"
        ? "This playlist was deleted or is no longer shared with you: the offline copy stays until you remove it."
        : `Could not follow this playlist's changes: ${(error as Error).message}`,
    );
  }
}

const idsOf = (tracks: readonly TrackRecord[]) => tracks.map((t) => t.id).join(",");

/** The catalog records of the playlist's tracks, in its order, reusing those already known. */
async function tracksOf(
  connection: Connection,
  trackIds: readonly string[],
  known: readonly TrackRecord[],
): Promise<TrackRecord[]> {
  const records = new Map(known.map((t) => [t.id, t] as const));
  const missing = [...new Set(trackIds)].filter((trackId) => !records.has(trackId));
  for (let i = 0; i < missing.length; i += CATALOG_BATCH) {
    const batch = missing.slice(i, i + CATALOG_BATCH);
    for (const track of await connection.call(catalogContract, "tracks", { trackIds: batch }))
      records.set(track.id, track);
  }
  // A track gone from the library has no record: it cannot be pinned, so it is left out.
  return trackIds.flatMap((trackId) => records.get(trackId) ?? []);
}
