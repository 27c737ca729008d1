// Album art with a placeholder when an album has none, and the grid of album cards.
import { useState } from "react";
import type { AlbumRecord } from "@soundmesh/protocol";

/**
 * The server is asked only when the record says the album has art (`hasCover`, on albums and tracks); otherwise the
 * placeholder shows without a request, so an album without art never costs a 404. A failed load
 * shows it for that album only: the same element (the player bar's) shows the next album's art when it has some.
 */
export function Cover({
  albumId,
  size = 300,
  hasCover,
}: {
  albumId: string;
  size?: 64 | 300;
  /** From the album or track record; a record cached before it was carried (undefined) counts as none. */
  hasCover: boolean | undefined;
}) {
  const [failedId, setFailedId] = useState<string | null>(null);
  return !hasCover || failedId === albumId ? (
    <div className="cover placeholder" aria-hidden />
  ) : (
    <img
      className="cover"
      src={`/api/cover/${albumId}?size=${size}`}
      alt=""
      loading="lazy"
      onError={() => setFailedId(albumId)}
    />
  );
}

export function AlbumGrid({ albums, open }: { albums: AlbumRecord[]; open: (id: string) => void }) {
  return (
    <div className="grid">
      {albums.map((album) => (
        <button key={album.id} className="card" onClick={() => open(album.id)}>
          <Cover albumId={album.id} hasCover={album.hasCover} />
          <strong>{album.title}</strong>
          <span>
            {album.albumArtist}
            {album.year ? ` · ${album.year}` : ""}
          </span>
        </button>
      ))}
    </div>
  );
}
