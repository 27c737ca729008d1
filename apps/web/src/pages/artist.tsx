// An artist page: their albums with covers.
import { useEffect, useState } from "react";
import type { AlbumRecord, ArtistRecord } from "@soundmesh/protocol";
import { AlbumGrid } from "../components/cover";
import type { Connection } from "../connection";
import { navigate } from "../route";

export function Artist({ connection, artistId }: { connection: Connection; artistId: string }) {
  const [artist, setArtist] = useState<ArtistRecord>();
  const [albums, setAlbums] = useState<AlbumRecord[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    connection
      .request<ArtistRecord>("catalog.artist", { artistId })
      .then(setArtist, (e: Error) => setError(e.message));
    connection.request<{ items: AlbumRecord[] }>("catalog.albumsOfArtist", { artistId, limit: 100 }).then(
      (r) => setAlbums(r.items),
      (e: Error) => setError(e.message),
    );
  }, [artistId, connection]);
  if (error) return <p className="error">{error}</p>;
  if (!artist) return <p className="muted">Loading…</p>;
  return (
    <section>
      <p className="muted">Artist</p>
      <h2>{artist.name}</h2>
      <p className="muted">
        {artist.albumCount} albums · {artist.trackCount} songs
      </p>
      <AlbumGrid albums={albums} open={(id) => navigate({ name: "album", id })} />
    </section>
  );
}
