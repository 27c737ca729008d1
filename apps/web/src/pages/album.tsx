// An album page: cover, details, its tracks (each playable from there on), queueing and offline pinning.
import { useEffect, useState } from "react";
import type { AlbumRecord, TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { AddToPlaylist } from "../components/add-to-playlist";
import { Cover } from "../components/cover";
import { OfflineButton } from "../components/offline-button";
import { ArtistLink, TrackList } from "../components/track-list";
import type { Connection } from "../connection";
import { useNowPlaying } from "../use-audio";
import { hrefOf } from "../route";

export function Album({
  connection,
  albumId,
  audio,
}: {
  connection: Connection;
  albumId: string;
  audio: AudioController;
}) {
  const [data, setData] = useState<{ album: AlbumRecord; tracks: TrackRecord[] }>();
  const [error, setError] = useState("");
  useNowPlaying(audio);
  useEffect(() => {
    connection
      .request<{ album: AlbumRecord; tracks: TrackRecord[] }>("catalog.album", { albumId })
      .then(setData, (e: Error) => setError(e.message));
  }, [albumId, connection]);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { album, tracks } = data;
  return (
    <section>
      <header className="album-header">
        <Cover albumId={albumId} hasCover={album.hasCover} />
        <div>
          <p className="muted">{album.compilation ? "Compilation" : "Album"}</p>
          <h2>{album.title}</h2>
          <p>
            <ArtistLink artistId={album.artistId} name={album.albumArtist} />
            {album.year ? ` · ${album.year}` : ""}
            {album.genre && (
              <>
                {" · "}
                <a className="link" href={hrefOf({ name: "genre", id: album.genre })}>
                  {album.genre}
                </a>
              </>
            )}
            {` · ${tracks.length} songs`}
          </p>
          <div className="actions">
            <button className="primary" onClick={() => void audio.playTracks(tracks, 0)}>
              Play
            </button>
            <button className="secondary" onClick={() => void audio.addToQueue(tracks)}>
              Add to queue
            </button>
            <AddToPlaylist connection={connection} tracks={tracks} />
            <OfflineButton
              audio={audio}
              collection={{
                id: `album:${album.id}`,
                title: album.title,
                subtitle: album.albumArtist,
                albumId: album.id,
                tracks,
              }}
            />
          </div>
        </div>
      </header>
      <TrackList tracks={tracks} audio={audio} connection={connection} numbered="track" />
    </section>
  );
}
