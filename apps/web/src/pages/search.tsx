// Search as you type over artists, albums and tracks.
import { useEffect, useState } from "react";
import type { SearchHit } from "@soundmesh/protocol";
import type { Connection } from "../connection";

export function Search({
  connection,
  open,
  play,
}: {
  connection: Connection;
  open: (id: string) => void;
  play: (trackId: string) => void;
}) {
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  useEffect(() => {
    if (!query.trim()) return setHits([]);
    let stale = false;
    const timer = window.setTimeout(() => {
      connection
        .request<{ hits: SearchHit[] }>("search.query", { q: query, limit: 30 })
        .then((r) => !stale && setHits(r.hits))
        .catch(() => undefined);
    }, 80);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, connection]);
  return (
    <section>
      <input
        className="search"
        autoFocus
        aria-label="Search"
        placeholder="Artists, albums, songs"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <ul className="hits">
        {hits.map((hit) => (
          <li key={`${hit.kind}:${hit.id}`}>
            <button
              onClick={() =>
                hit.kind === "track" ? play(hit.id) : hit.kind === "album" ? open(hit.id) : undefined
              }
              data-kind={hit.kind}
            >
              <strong>{hit.title}</strong>{" "}
              <span className="muted">
                {hit.kind} · {hit.subtitle}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
