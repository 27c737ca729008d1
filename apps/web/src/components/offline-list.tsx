// The albums and playlists pinned for offline listening, with what stopped their last download or update; each
// plays from the cache with no server.
import type { AudioController } from "../audio";
import { useNowPlaying, useOfflineChanges } from "../use-audio";
import { Cover } from "./cover";
import "./offline-list.css";

export function OfflineList({ audio }: { audio: AudioController }) {
  useNowPlaying(audio);
  useOfflineChanges(audio);
  const offline = audio.offline.list();
  if (offline.length === 0)
    return <p className="muted">Nothing yet: use "Make available offline" on an album.</p>;
  return (
    <ul className="offline-list">
      {offline.map((c) => (
        <li key={c.id}>
          {c.albumId && (
            <Cover
              albumId={c.albumId}
              size={64}
              hasCover={c.tracks.some((t) => t.albumId === c.albumId && t.hasCover)}
            />
          )}
          <button className="track-main" onClick={() => void audio.playTracks(c.tracks, 0)}>
            <span className="title">
              {c.title}
              <small>
                {c.subtitle} · {c.tracks.length} songs
                {audio.offline.downloading.has(c.id) ? " · downloading…" : ""}
              </small>
              {audio.offline.problems.has(c.id) && (
                <small className="error">{audio.offline.problems.get(c.id)}</small>
              )}
            </span>
          </button>
          <button className="secondary" onClick={() => void audio.offline.unpin(c.id)}>
            Remove
          </button>
        </li>
      ))}
    </ul>
  );
}
