// A playlist kept live: the shared client model (optimistic edits, offline queue) synced over the app's socket,
// with the catalog records of its tracks. Edits not yet confirmed are kept in localStorage, per user, so a reload
// (or closing the app while offline) does not lose them: the next open resumes and sends them.
import { useEffect, useState } from "react";
import { PlaylistModel, PlaylistSync, type PlaylistModelState } from "@soundmesh/playlist-model";
import type { ItemSnapshot, TrackRecord } from "@soundmesh/protocol";
import type { Connection } from "./connection";
import { catalogContract, playlistContract, pushTopics } from "@soundmesh/protocol";

export interface LivePlaylist {
  model: PlaylistModel | undefined;
  tracks: ReadonlyMap<string, TrackRecord>;
  /** Tracks the library no longer has, with what they were when added (null when that is not known). */
  unavailable: ReadonlyMap<string, ItemSnapshot | null>;
  error: string;
  deleted: boolean;
  /** Changes on every model change, so the page re-renders. */
  version: number;
}

const queueKey = (userId: string, playlistId: string) => `soundmesh.playlist-queue.${userId}.${playlistId}`;

function savedState(key: string): PlaylistModelState | undefined {
  try {
    const text = localStorage.getItem(key);
    return text ? (JSON.parse(text) as PlaylistModelState) : undefined;
  } catch {
    // Unreadable (changed by hand, or an older format): start from the server's state.
    localStorage.removeItem(key);
    return undefined;
  }
}

/** Keeps the model's confirmed state and queue while edits wait; forgets them once all are confirmed. */
function saveQueue(key: string, model: PlaylistModel): void {
  if (model.pending.length === 0) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(model.save()));
}

export function usePlaylist(connection: Connection, playlistId: string, userId: string): LivePlaylist {
  const [sync, setSync] = useState<PlaylistSync>();
  const [version, setVersion] = useState(0);
  const [error, setError] = useState("");
  const [tracks, setTracks] = useState<ReadonlyMap<string, TrackRecord>>(new Map());
  const [unavailable, setUnavailable] = useState<ReadonlyMap<string, ItemSnapshot | null>>(new Map());
  // A scan removed or brought back tracks: ask again, so removed items grey out and returning ones heal.
  useEffect(
    () =>
      connection.subscribe(pushTopics.catalogChanged, () => {
        setTracks(new Map());
        setUnavailable(new Map());
      }),
    [connection],
  );
  useEffect(() => {
    let current: PlaylistSync | undefined;
    let closed = false;
    setSync(undefined);
    setError("");
    const key = queueKey(userId, playlistId);
    const saved = savedState(key);
    const resume = saved ? { resume: PlaylistModel.restore(saved, { userId }) } : {};
    PlaylistSync.open(connection, playlistId, { userId, ...resume }).then(
      (opened) => {
        if (closed) return opened.close();
        current = opened;
        opened.model.onChange(() => {
          try {
            saveQueue(key, opened.model);
          } catch (e) {
            setError(`Unsaved edits could not be kept for a reload: ${(e as Error).message}`);
          }
          setVersion((v) => v + 1);
        });
        opened.model.onRejected((_op, e) => setError(`An edit was refused (${e.code}).`));
        opened.onChange(() => setVersion((v) => v + 1));
        setSync(opened);
      },
      (e: Error) => setError(e.message),
    );
    return () => {
      closed = true;
      current?.close();
    };
  }, [connection, playlistId, userId]);
  const trackIds = sync?.model.items.map((item) => item.trackId) ?? [];
  const missing = [...new Set(trackIds)].filter((id) => !tracks.has(id) && !unavailable.has(id));
  const missingKey = missing.join(",");
  useEffect(() => {
    if (!missingKey) return;
    const ids = missingKey.split(",");
    void (async () => {
      const found: TrackRecord[] = [];
      for (let i = 0; i < ids.length; i += 500)
        found.push(
          ...(await connection.call(catalogContract, "tracks", { trackIds: ids.slice(i, i + 500) })),
        );
      const foundIds = new Set(found.map((t) => t.id));
      const gone = ids.filter((id) => !foundIds.has(id));
      const snapshots: ItemSnapshot[] = [];
      for (let i = 0; i < gone.length; i += 500)
        snapshots.push(
          ...(await connection.call(playlistContract, "trackSnapshots", {
            playlistId,
            trackIds: gone.slice(i, i + 500),
          })),
        );
      const byId = new Map(snapshots.map((snapshot) => [snapshot.trackId, snapshot]));
      setTracks((previous) => new Map([...previous, ...found.map((t) => [t.id, t] as const)]));
      setUnavailable(
        (previous) => new Map([...previous, ...gone.map((id) => [id, byId.get(id) ?? null] as const)]),
      );
    })().catch((e: Error) => setError(e.message));
  }, [missingKey, connection, playlistId]);
  return { model: sync?.model, tracks, unavailable, error, deleted: sync?.isDeleted ?? false, version };
}
