// Every album, sorted by title, artist, year or when it was added, a page at a time.
import { useMemo } from "react";
import type { AlbumRecord } from "@soundmesh/protocol";
import { AlbumGrid } from "../components/cover";
import { ShowMore, SortSelect, usePaged, useSort } from "../components/paged-list";
import type { Connection } from "../connection";
import { navigate } from "../route";

const SORTS = { title: "Title", artist: "Artist", year: "Year", recent: "Recently added" } as const;
type AlbumSort = keyof typeof SORTS;

export function Albums({ connection }: { connection: Connection }) {
  const [sort, setSort] = useSort<AlbumSort>("albums", ["title", "artist", "year", "recent"]);
  const params = useMemo(() => ({ sort }), [sort]);
  const { items, total, error, loadMore } = usePaged<AlbumRecord>(connection, "albums", params);
  return (
    <section>
      <div className="list-heading">
        <h2>Albums</h2>
        <SortSelect value={sort} labels={SORTS} onChange={setSort} />
      </div>
      {error && <p className="error">{error}</p>}
      {items === undefined ? (
        <p className="muted">Loading…</p>
      ) : items.length === 0 ? (
        <p className="muted">No albums yet: the library is empty or being scanned.</p>
      ) : (
        <>
          <p className="muted">{total === 1 ? "1 album" : `${total} albums`}</p>
          <AlbumGrid albums={items} open={(id) => navigate({ name: "album", id })} />
          <ShowMore shown={items.length} total={total} onClick={loadMore} />
        </>
      )}
    </section>
  );
}
