// Search as you type over artists, albums, tracks and playlists: the best few of each kind, each under its heading.
import { useEffect, useState } from "react";
import type { SearchGroup, SearchHit } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { AddToPlaylist } from "../components/add-to-playlist";
import type { Connection } from "../connection";
import { navigate } from "../route";
import { catalogContract, searchContract } from "@soundmesh/protocol";

const groupHeading: Record<SearchHit["kind"], string> = {
  artist: "Artists",
  album: "Albums",
  track: "Songs",
  playlist: "Playlists",
};

export function Search({ connection, audio }: { connection: Connection; audio: AudioController }) {
  const [query, setQuery] = useState(() => sessionStorage.getItem("soundmesh.query") ?? "");
  /** The answer and the query it answers: "no matches" is said only of the query on screen. */
  const [answer, setAnswer] = useState<{ q: string; groups: SearchGroup[] }>();
  const [error, setError] = useState("");
  useEffect(() => {
    sessionStorage.setItem("soundmesh.query", query);
    if (!query.trim()) return setAnswer(undefined);
    let stale = false;
    const timer = window.setTimeout(() => {
      connection
        .call(searchContract, "query", { q: query, perKind: 6, limit: 1 })
        .then((r) => {
          if (stale) return;
          setAnswer({ q: query, groups: r.groups });
          setError("");
        })
        .catch((e: Error) => !stale && setError(e.message));
    }, 80);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, connection]);
  const track = (id: string) => connection.call(catalogContract, "track", { trackId: id });
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
      {answer && answer.q === query && answer.groups.every((group) => group.hits.length === 0) && !error && (
        <p className="muted" role="status">
          Nothing matches “{query.trim()}”.
        </p>
      )}
      {answer?.groups
        .filter((group) => group.hits.length > 0)
        .map((group) => (
          <section key={group.kind} className="hit-group" aria-label={groupHeading[group.kind]}>
            <h3>
              {groupHeading[group.kind]}
              {group.total > group.hits.length && <span className="muted"> · {group.total} in all</span>}
            </h3>
            <ul className="hits">
              {group.hits.map((hit) => (
                <li key={`${hit.kind}:${hit.id}`}>
                  <button onClick={() => open(hit)} data-kind={hit.kind}>
                    <strong>{hit.title}</strong> <span className="muted">{hit.subtitle}</span>
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
                      {/* One click opens the playlist picker: adding needs the track's id, not its record. */}
                      <AddToPlaylist connection={connection} tracks={[{ id: hit.id, title: hit.title }]} />
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </section>
        ))}
    </section>
  );
}
