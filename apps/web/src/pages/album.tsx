// An album page: cover, details and its tracks, each playable from there on.
import { useEffect, useState } from "react";
import type { AlbumRecord, TrackRecord } from "@soundmesh/protocol";
import { Cover } from "../components/cover";
import type { Connection } from "../connection";
import { formatTime } from "../http";

export function Album({
  connection,
  albumId,
  playTracks,
}: {
  connection: Connection;
  albumId: string;
  playTracks: (tracks: TrackRecord[], index: number) => void;
}) {
  const [data, setData] = useState<{ album: AlbumRecord; tracks: TrackRecord[] }>();
  const [error, setError] = useState("");
  useEffect(() => {
    connection
      .request<{ album: AlbumRecord; tracks: TrackRecord[] }>("catalog.album", { albumId })
      .then(setData, (e: Error) => setError(e.message));
  }, [albumId, connection]);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <section>
      <header className="album-header">
        <Cover albumId={albumId} />
        <div>
          <p className="muted">{data.album.compilation ? "Compilation" : "Album"}</p>
          <h2>{data.album.title}</h2>
          <p>
            {data.album.albumArtist}
            {data.album.year ? ` · ${data.album.year}` : ""} · {data.tracks.length} songs
          </p>
          <button className="primary" onClick={() => playTracks(data.tracks, 0)}>
            Play
          </button>
        </div>
      </header>
      <ol className="tracks">
        {data.tracks.map((track, index) => (
          <li key={track.id}>
            <button onClick={() => playTracks(data.tracks, index)}>
              <span className="number">{track.trackNumber ?? index + 1}</span>
              <span className="title">
                {track.title}
                <small>{track.artist}</small>
              </span>
              <span className="muted">{formatTime(track.durationMs / 1000)}</span>
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
