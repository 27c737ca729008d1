// A playlist kept live: the shared client model (optimistic edits, offline queue) synced over the app's socket,
// with the catalog records of its tracks.
import { useEffect, useState } from "react";
import { PlaylistSync, type PlaylistModel } from "@soundmesh/playlist-model";
import type { TrackRecord } from "@soundmesh/protocol";
import type { Connection, ConnectionState } from "./connection";

export interface LivePlaylist {
  model: PlaylistModel | undefined;
  tracks: ReadonlyMap<string, TrackRecord>;
  error: string;
  deleted: boolean;
  /** Changes on every model change, so the page re-renders. */
  version: number;
}

export function usePlaylist(
  connection: Connection,
  playlistId: string,
  state: ConnectionState,
): LivePlaylist {
  const [sync, setSync] = useState<PlaylistSync>();
  const [version, setVersion] = useState(0);
  const [error, setError] = useState("");
  const [tracks, setTracks] = useState<ReadonlyMap<string, TrackRecord>>(new Map());
  useEffect(() => {
    let current: PlaylistSync | undefined;
    let closed = false;
    setSync(undefined);
    setError("");
    PlaylistSync.open(connection, playlistId).then(
      (opened) => {
        if (closed) return opened.close();
        current = opened;
        opened.model.onChange(() => setVersion((v) => v + 1));
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
  }, [connection, playlistId]);
  // Back from a disconnection: fetch what others changed meanwhile, then send what was edited offline.
  useEffect(() => {
    if (state === "open") void sync?.reconnected();
  }, [state, sync]);
  const trackIds = sync?.model.items.map((item) => item.trackId) ?? [];
  const missing = [...new Set(trackIds)].filter((id) => !tracks.has(id));
  const missingKey = missing.join(",");
  useEffect(() => {
    if (!missingKey) return;
    const ids = missingKey.split(",");
    void (async () => {
      const found: TrackRecord[] = [];
      for (let i = 0; i < ids.length; i += 500)
        found.push(
          ...(await connection.request<TrackRecord[]>("catalog.tracks", { trackIds: ids.slice(i, i + 500) })),
        );
      setTracks((previous) => new Map([...previous, ...found.map((t) => [t.id, t] as const)]));
    })().catch((e: Error) => setError(e.message));
  }, [missingKey, connection]);
  return { model: sync?.model, tracks, error, deleted: sync?.isDeleted ?? false, version };
}
