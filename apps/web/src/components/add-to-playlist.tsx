// "Add to playlist" from any track row or search hit, in one click: a small menu of the playlists the user can edit
// (the one last added to in this browser first, then the most recently changed), or a new one.
import { useState } from "react";
import { newRandomId } from "@soundmesh/playlist-model";
import type { PlaylistInfo, TrackRecord } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import "./menu.css";
import { playlistContract } from "@soundmesh/protocol";

const LAST_USED_KEY = "soundmesh.lastPlaylist";

/** The playlists to offer: the one last added to first, then the most recently changed. */
export function pickerOrder(playlists: readonly PlaylistInfo[], lastUsedId: string | null): PlaylistInfo[] {
  return [...playlists].sort(
    (a, b) => Number(b.id === lastUsedId) - Number(a.id === lastUsedId) || b.updatedAt - a.updatedAt,
  );
}

export async function appendToPlaylist(connection: Connection, playlist: PlaylistInfo, trackIds: string[]) {
  // The service rebases an edit made on an older revision, so the listed revision is a fine base.
  await connection.call(playlistContract, "edit", {
    playlistId: playlist.id,
    baseRevision: playlist.revision,
    operations: [
      {
        opId: newRandomId(),
        operation: {
          type: "insert",
          afterItemId: "end",
          items: trackIds.map((trackId) => ({ itemId: newRandomId(), trackId })),
        },
      },
    ],
  });
}

/** What adding needs of a track: a search hit has this much before its record is fetched. */
type TrackRef = Pick<TrackRecord, "id" | "title">;

export function AddToPlaylist({ connection, tracks }: { connection: Connection; tracks: TrackRef[] }) {
  const [playlists, setPlaylists] = useState<PlaylistInfo[]>();
  const [message, setMessage] = useState("");
  const label = tracks.length === 1 ? tracks[0]!.title : `${tracks.length} songs`;
  const open = () =>
    void connection.call(playlistContract, "list", {}).then(
      (all) =>
        setPlaylists(
          pickerOrder(
            all.filter((p) => p.access.canEdit && !p.smartRules),
            localStorage.getItem(LAST_USED_KEY),
          ),
        ),
      (e: Error) => setMessage(e.message),
    );
  const add = (playlist: PlaylistInfo) =>
    void appendToPlaylist(
      connection,
      playlist,
      tracks.map((t) => t.id),
    ).then(
      () => {
        localStorage.setItem(LAST_USED_KEY, playlist.id);
        setPlaylists(undefined);
        setMessage(`Added to ${playlist.name}`);
        window.setTimeout(() => setMessage(""), 2_000);
      },
      (e: Error) => setMessage(e.message),
    );
  const create = () => {
    const name = window.prompt("Name of the new playlist")?.trim();
    if (!name) return;
    void connection.call(playlistContract, "create", { name, trackIds: tracks.map((t) => t.id) }).then(
      (s) => {
        localStorage.setItem(LAST_USED_KEY, s.playlist.id);
        setPlaylists(undefined);
        setMessage(`Added to ${s.playlist.name}`);
      },
      (e: Error) => setMessage(e.message),
    );
  };
  return (
    <span className="menu-anchor">
      <button
        title="Add to playlist"
        aria-label={`Add ${label} to a playlist`}
        onClick={() => (playlists ? setPlaylists(undefined) : open())}
      >
        ♫
      </button>
      {playlists && (
        <span className="menu" role="menu">
          {playlists.map((p) => (
            <button key={p.id} role="menuitem" onClick={() => add(p)}>
              {p.name}
            </button>
          ))}
          <button role="menuitem" onClick={create}>
            New playlist…
          </button>
        </span>
      )}
      {message && (
        <span className="menu-message" role="status">
          {message}
        </span>
      )}
    </span>
  );
}
