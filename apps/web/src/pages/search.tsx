// Search as you type over artists, albums, tracks and playlists.
import { useEffect, useState } from "react";
import type { SearchHit, TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { AddToPlaylist } from "../components/add-to-playlist";
import type { Connection } from "../connection";
import { navigate } from "../route";

const kindLabel: Record<SearchHit["kind"], string> = {
  track: "Song",
  album: "Album",
  artist: "Artist",
  playlist: "Playlist",
};

export function Search({ connection, audio }: { connection: Connection; audio: AudioController }) {
  const [query, setQuery] = useState(() => sessionStorage.getItem("soundmesh.query") ?? "");
  const [hits, setHits] = useState<SearchHit[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    sessionStorage.setItem("soundmesh.query", query);
    if (!query.trim()) return setHits([]);
    let stale = false;
    const timer = window.setTimeout(() => {
      connection
        .request<{ hits: SearchHit[] }>("search.query", { q: query, limit: 30 })
        .then((r) => {
          if (stale) return;
          setHits(r.hits);
          setError("");
        })
        .catch((e: Error) => !stale && setError(e.message));
    }, 80);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, connection]);
  const track = (id: string) => connection.request<TrackRecord>("catalog.track", { trackId: id });
  const open = (hit: SearchHit) => {
    switch (hit.kind) {
      case "track":
        return void track(hit.id).then(
          (t) => audio.playTracks([t], 0),
          (e: Error) => setError(e.message),
        );
      case "album":
        return navigate({ name: "album", id: hit.id });
      case "artist":
        return navigate({ name: "artist", id: hit.id });
      case "playlist":
        return navigate({ name: "playlist", id: hit.id });
    }
  };
  return (
    <section>
      <input
        className="search"
        autoFocus
        aria-label="Search"
        placeholder="Artists, albums, songs, playlists"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {error && <p className="error">{error}</p>}
      {query.trim() && hits.length === 0 && !error && <p className="muted">No matches yet.</p>}
      <ul className="hits">
        {hits.map((hit) => (
          <li key={`${hit.kind}:${hit.id}`}>
            <button onClick={() => open(hit)} data-kind={hit.kind}>
              <strong>{hit.title}</strong>{" "}
              <span className="muted">
                {/* A playlist hit's subtitle already says "Playlist · <owner>". */}
                {hit.kind === "playlist" ? hit.subtitle : `${kindLabel[hit.kind]} · ${hit.subtitle}`}
              </span>
            </button>
            {hit.kind === "track" && (
              <span className="row-actions">
                <button
                  title="Add to queue"
                  aria-label={`Add ${hit.title} to the queue`}
                  onClick={() => void track(hit.id).then((t) => audio.addToQueue([t]))}
                >
                  +
                </button>
                <TrackHitToPlaylist connection={connection} trackId={hit.id} title={hit.title} />
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** "Add to playlist" for a search hit: the track's record is fetched when the menu is used. */
function TrackHitToPlaylist({
  connection,
  trackId,
  title,
}: {
  connection: Connection;
  trackId: string;
  title: string;
}) {
  const [track, setTrack] = useState<TrackRecord>();
  if (track) return <AddToPlaylist connection={connection} tracks={[track]} />;
  return (
    <button
      title="Add to playlist"
      aria-label={`Add ${title} to a playlist`}
      onClick={() => void connection.request<TrackRecord>("catalog.track", { trackId }).then(setTrack)}
    >
      ♫
    </button>
  );
}
