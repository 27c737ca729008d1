// An album page: cover, artists, year, total length, its tracks under a heading per disc (each playable from there
// on), queueing and offline pinning.
import { Fragment, useEffect, useState } from "react";
import type { AlbumRecord, TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { AddToPlaylist } from "../components/add-to-playlist";
import { Cover } from "../components/cover";
import { MenuButton } from "../components/menu-button";
import { StartRadioItem } from "../components/radio-items";
import { OfflineButton } from "../components/offline-button";
import { ArtistLink, TrackList } from "../components/track-list";
import type { Connection } from "../connection";
import { useNowPlaying } from "../use-audio";
import { hrefOf } from "../route";
import { catalogContract } from "@soundmesh/protocol";

/** "48 min 5 s", "1 h 12 min": an album's length as people say it. */
export function formatLength(durationMs: number): string {
  const seconds = Math.round(durationMs / 1000);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours > 0) return `${hours} h ${minutes} min`;
  return minutes > 0 ? `${minutes} min ${seconds % 60} s` : `${seconds} s`;
}

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
    connection.call(catalogContract, "album", { albumId }).then(setData, (e: Error) => setError(e.message));
  }, [albumId, connection]);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  const { album, tracks } = data;
  const isMultiDisc = new Set(tracks.map((track) => track.discNumber ?? 1)).size > 1;
  return (
    <section>
      <header className="album-header">
        <Cover albumId={album.id} hasCover={album.hasCover} />
        <div>
          <p className="muted">{album.compilation ? "Compilation" : "Album"}</p>
          <h2>{album.title}</h2>
          <p data-testid="album-details">
            {album.artists.map((artist, i) => (
              <Fragment key={artist.id}>
                {i > 0 && ", "}
                <ArtistLink artistId={artist.id} name={artist.name} />
              </Fragment>
            ))}
            {album.year ? ` · ${album.year}` : ""}
            {album.genre && (
              <>
                {" · "}
                <a className="link" href={hrefOf({ name: "genre", id: album.genre })}>
                  {album.genre}
                </a>
              </>
            )}
            {` · ${tracks.length === 1 ? "1 song" : `${tracks.length} songs`}, ${formatLength(album.durationMs)}`}
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
            <MenuButton label="More ▾" ariaLabel="More album actions">
              <StartRadioItem seed={{ kind: "album", id: album.id }} label={album.title} />
            </MenuButton>
          </div>
        </div>
      </header>
      <TrackList
        tracks={tracks}
        audio={audio}
        connection={connection}
        numbered="track"
        {...(isMultiDisc ? { sectionOf: (track: TrackRecord) => `Disc ${track.discNumber ?? 1}` } : {})}
      />
    </section>
  );
}
