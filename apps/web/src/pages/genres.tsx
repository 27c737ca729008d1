// Genres: the list of genres, and one genre's albums.
import { useEffect, useState } from "react";
import type { AlbumRecord } from "@soundmesh/protocol";
import { AlbumGrid } from "../components/cover";
import type { Connection } from "../connection";
import { hrefOf, navigate } from "../route";
import { catalogContract } from "@soundmesh/protocol";

export function Genres({ connection }: { connection: Connection }) {
  const [genres, setGenres] = useState<Array<{ genre: string; albumCount: number }>>();
  useEffect(() => {
    connection.call(catalogContract, "genres", {}).then(setGenres, () => setGenres([]));
  }, [connection]);
  if (!genres) return <p className="muted">Loading…</p>;
  return (
    <section>
      <h2>Genres</h2>
      <div className="chips">
        {genres.map((g) => (
          <a key={g.genre} className="chip" href={hrefOf({ name: "genre", id: g.genre })}>
            {g.genre} <span className="muted">{g.albumCount}</span>
          </a>
        ))}
      </div>
    </section>
  );
}

export function Genre({ connection, genre }: { connection: Connection; genre: string }) {
  const [albums, setAlbums] = useState<AlbumRecord[]>();
  const [error, setError] = useState("");
  useEffect(() => {
    connection.call(catalogContract, "byGenre", { genre, limit: 200 }).then(
      (r) => setAlbums(r.items),
      (e: Error) => setError(e.message),
    );
  }, [genre, connection]);
  if (error) return <p className="error">{error}</p>;
  return (
    <section>
      <p className="muted">Genre</p>
      <h2>{genre}</h2>
      {albums ? (
        <AlbumGrid albums={albums} open={(id) => navigate({ name: "album", id })} />
      ) : (
        <p className="muted">Loading…</p>
      )}
    </section>
  );
}
