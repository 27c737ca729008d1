// An artist page, for every credited artist: their own albums, and the albums they appear on (a track credits them).
import { useEffect, useMemo, useState } from "react";
import type { AlbumRecord, ArtistRecord } from "@soundmesh/protocol";
import { AlbumGrid } from "../components/cover";
import { MenuButton } from "../components/menu-button";
import { ShowMore, usePaged } from "../components/paged-list";
import { StartRadioItem } from "../components/radio-items";
import type { Connection } from "../connection";
import { navigate } from "../route";
import { artistSummary } from "./artists";
import { catalogContract } from "@soundmesh/protocol";

function ArtistAlbums({
  connection,
  artistId,
  role,
  heading,
}: {
  connection: Connection;
  artistId: string;
  role: "albumArtist" | "appearsOn";
  heading: string;
}) {
  const params = useMemo(() => ({ artistId, role }), [artistId, role]);
  const { items, total, error, loadMore } = usePaged<AlbumRecord>(connection, "albumsOfArtist", params);
  if (error) return <p className="error">{error}</p>;
  if (!items || items.length === 0) return null;
  return (
    <section aria-label={heading}>
      <h3>{heading}</h3>
      <AlbumGrid albums={items} open={(id) => navigate({ name: "album", id })} />
      <ShowMore shown={items.length} total={total} onClick={loadMore} />
    </section>
  );
}

export function Artist({ connection, artistId }: { connection: Connection; artistId: string }) {
  const [artist, setArtist] = useState<ArtistRecord>();
  const [error, setError] = useState("");
  useEffect(() => {
    setArtist(undefined);
    setError("");
    connection
      .call(catalogContract, "artist", { artistId })
      .then(setArtist, (e: Error) => setError(e.message));
  }, [artistId, connection]);
  if (error) return <p className="error">{error}</p>;
  if (!artist) return <p className="muted">Loading…</p>;
  return (
    <section>
      <p className="muted">Artist</p>
      <h2>{artist.name}</h2>
      <p className="muted">{artistSummary(artist)}</p>
      <div className="actions">
        <MenuButton label="More ▾" ariaLabel="More artist actions">
          <StartRadioItem seed={{ kind: "artist", id: artist.id }} label={artist.name} />
        </MenuButton>
      </div>
      <ArtistAlbums connection={connection} artistId={artistId} role="albumArtist" heading="Albums" />
      <ArtistAlbums connection={connection} artistId={artistId} role="appearsOn" heading="Appears on" />
    </section>
  );
}
