// Album art with a placeholder when an album has none, and the grid of album cards.
import { useState } from "react";
import type { AlbumRecord } from "@soundmesh/protocol";

export function Cover({ albumId, size = 300 }: { albumId: string; size?: 64 | 300 }) {
  const [failed, setFailed] = useState(false);
  return failed ? (
    <div className="cover placeholder" aria-hidden />
  ) : (
    <img
      className="cover"
      src={`/api/cover/${albumId}?size=${size}`}
      alt=""
      loading="lazy"
      onError={() => setFailed(true)}
    />
  );
}

export function AlbumGrid({ albums, open }: { albums: AlbumRecord[]; open: (id: string) => void }) {
  return (
    <div className="grid">
      {albums.map((album) => (
        <button key={album.id} className="card" onClick={() => open(album.id)}>
          <Cover albumId={album.id} />
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
