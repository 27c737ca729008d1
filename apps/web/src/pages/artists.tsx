// Every credited artist (album artists and the artists tracks credit), by name or most recently added.
import { useMemo } from "react";
import type { ArtistRecord } from "@soundmesh/protocol";
import { ShowMore, SortSelect, usePaged, useSort } from "../components/paged-list";
import type { Connection } from "../connection";
import { hrefOf } from "../route";

const SORTS = { name: "Name", recent: "Recently added" } as const;
type ArtistSort = keyof typeof SORTS;

const plural = (count: number, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;

/** "2 albums · appears on 1 · 14 songs", leaving out what is zero. */
export function artistSummary(artist: ArtistRecord): string {
  return [
    artist.albumCount > 0 ? plural(artist.albumCount, "album") : "",
    artist.appearsOnCount > 0 ? `appears on ${artist.appearsOnCount}` : "",
    artist.trackCount > 0 ? plural(artist.trackCount, "song") : "",
  ]
    .filter(Boolean)
    .join(" · ");
}

export function Artists({ connection }: { connection: Connection }) {
  const [sort, setSort] = useSort<ArtistSort>("artists", ["name", "recent"]);
  const params = useMemo(() => ({ sort }), [sort]);
  const { items, total, error, loadMore } = usePaged<ArtistRecord>(connection, "artists", params);
  return (
    <section>
      <div className="list-heading">
        <h2>Artists</h2>
        <SortSelect value={sort} labels={SORTS} onChange={setSort} />
      </div>
      {error && <p className="error">{error}</p>}
      {items === undefined ? (
        <p className="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p className="muted">No artists yet: the library is empty or being scanned.</p>
      ) : (
        <>
          <p className="muted">{total === 1 ? "1 artist" : `${total} artists`}</p>
          <ul className="artist-list">
            {items.map((artist) => (
              <li key={artist.id}>
                <a className="link" href={hrefOf({ name: "artist", id: artist.id })}>
                  <strong>{artist.name}</strong>
                </a>
                <span className="muted">{artistSummary(artist)}</span>
              </li>
            ))}
          </ul>
          <ShowMore shown={items.length} total={total} onClick={loadMore} />
        </>
      )}
    </section>
  );
}
