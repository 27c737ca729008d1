// A list of tracks: click plays from there; each row can be queued next, added to the queue or to a playlist.
import type { TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { useNowPlaying } from "../use-audio";
import type { Connection } from "../connection";
import { formatTime } from "../http";
import { hrefOf } from "../route";
import { AddToPlaylist } from "./add-to-playlist";
import { TrackMenu } from "./radio-items";

export interface TrackListProps {
  tracks: TrackRecord[];
  audio: AudioController;
  /** Given, each row offers "add to playlist". */
  connection?: Connection;
  /** Show the album's track numbers (album pages) rather than positions. */
  numbered?: "track" | "position";
  showAlbum?: boolean;
  /** Extra per-row actions, e.g. "add to playlist" or "remove from playlist". */
  extra?: (track: TrackRecord, index: number) => React.ReactNode;
  /** A heading before each run of tracks it names alike ("Disc 2"); the list still plays as one. */
  sectionOf?: (track: TrackRecord) => string | undefined;
}

export function TrackList({
  tracks,
  audio,
  connection,
  numbered = "position",
  showAlbum = false,
  extra,
  sectionOf,
}: TrackListProps) {
  const state = useNowPlaying(audio);
  const playing = audio.queue.current?.id;
  return (
    <ol className="tracks">
      {tracks.map((track, index) => {
        const loading = state.loading && track.id === playing;
        const failure = state.failed.get(track.id);
        return [
          sectionOf && (index === 0 || sectionOf(tracks[index - 1]!) !== sectionOf(track)) && (
            <li key={`section:${index}`} className="section-heading">
              <h3>{sectionOf(track)}</h3>
            </li>
          ),
          <li
            key={`${track.id}:${index}`}
            data-playing={track.id === playing || undefined}
            data-loading={loading || undefined}
            data-failed={failure !== undefined || undefined}
            aria-busy={loading || undefined}
          >
            <button className="track-main" onClick={() => void audio.playTracks(tracks, index)}>
              <span className="number">
                {loading ? (
                  <span className="spinner" role="img" aria-label="Loading" />
                ) : numbered === "track" ? (
                  (track.trackNumber ?? index + 1)
                ) : (
                  index + 1
                )}
              </span>
              <span className="title">
                {track.title}
                <small>
                  {track.artist}
                  {showAlbum ? ` · ${track.album}` : ""}
                </small>
                {failure !== undefined && (
                  <small className="row-error" role="status">
                    Cannot play: {failure}
                  </small>
                )}
              </span>
              <span className="muted">{formatTime(track.durationMs / 1000)}</span>
            </button>
            <span className="row-actions">
              <button
                title="Play next"
                aria-label={`Play ${track.title} next`}
                onClick={() => void audio.playNext([track])}
              >
                ⤵
              </button>
              <button
                title="Add to queue"
                aria-label={`Add ${track.title} to the queue`}
                onClick={() => void audio.addToQueue([track])}
              >
                +
              </button>
              {connection && <AddToPlaylist connection={connection} tracks={[track]} />}
              {extra?.(track, index)}
              <TrackMenu track={track} />
            </span>
          </li>,
        ];
      })}
    </ol>
  );
}

export function ArtistLink({ artistId, name }: { artistId: string; name: string }) {
  return (
    <a className="link" href={hrefOf({ name: "artist", id: artistId })}>
      {name}
    </a>
  );
}
