// The player bar: now playing, play/pause, previous/next, shuffle, repeat, seek, volume, the queue, and problems.
import { Fragment } from "react";
import type { AudioController } from "../audio";
import { formatTime } from "../http";
import { hrefOf, navigate } from "../route";
import { useNowPlaying } from "../use-audio";
import { Cover } from "./cover";
import { Icon } from "./icon";
import "./player-bar.css";

export function PlayerBar({ audio }: { audio: AudioController }) {
  const state = useNowPlaying(audio);
  const track = state.track;
  return (
    <footer className="player-bar">
      <div className="now">
        {track && <Cover albumId={track.albumId} size={64} hasCover={track.hasCover} />}
        <div>
          <strong data-testid="now-title">{track?.title ?? "Nothing playing"}</strong>
          {track && (
            <small data-testid="now-artists">
              {/* Each credited artist's own page; a track cached before credits existed links its one artist. */}
              {(track.artists?.length ? track.artists : [{ id: track.artistId, name: track.artist }]).map(
                (artist, i) => (
                  <Fragment key={artist.id}>
                    {i > 0 && ", "}
                    <a className="link" href={hrefOf({ name: "artist", id: artist.id })}>
                      {artist.name}
                    </a>
                  </Fragment>
                ),
              )}
            </small>
          )}
        </div>
      </div>
      <div className="controls">
        <div className="buttons">
          <button
            aria-label="Shuffle"
            aria-pressed={state.shuffle}
            className="toggle"
            onClick={() => void audio.setShuffle(!state.shuffle)}
          >
            <Icon name="shuffle" />
          </button>
          <button aria-label="Previous" onClick={() => void audio.next(-1)}>
            <Icon name="prev" />
          </button>
          <button
            aria-label={state.loading ? "Loading" : state.playing ? "Pause" : "Play"}
            aria-busy={state.loading || undefined}
            className={state.loading ? "play loading" : "play"}
            onClick={() => audio.toggle()}
          >
            {state.loading ? (
              <span className="spinner" aria-hidden="true" />
            ) : (
              <Icon name={state.playing ? "pause" : "play"} />
            )}
          </button>
          <button aria-label="Next" onClick={() => void audio.next(1)}>
            <Icon name="next" />
          </button>
          <button
            aria-label={`Repeat: ${state.repeat}`}
            aria-pressed={state.repeat !== "off"}
            className="toggle"
            data-repeat={state.repeat}
            onClick={() => void audio.cycleRepeat()}
          >
            <Icon name="repeat" />
          </button>
        </div>
        <div className="progress">
          <span className="time" data-testid="position">
            {formatTime(state.positionSec)}
          </span>
          <input
            aria-label="Seek"
            type="range"
            min={0}
            max={Math.max(1, state.durationSec)}
            step={0.5}
            value={Math.min(state.positionSec, state.durationSec)}
            onChange={(e) => void audio.seek(Number(e.target.value))}
          />
          <span className="time">{formatTime(state.durationSec)}</span>
        </div>
      </div>
      <div className="side">
        <button aria-label="Queue" onClick={() => navigate({ name: "queue" })}>
          <Icon name="queue" />
        </button>
        <input
          aria-label="Volume"
          className="volume"
          type="range"
          min={0}
          max={1}
          step={0.01}
          value={state.volume}
          onChange={(e) => audio.setVolume(Number(e.target.value))}
        />
      </div>
      {(state.error ?? state.networkProblem) && (
        <p role="alert" className="error toast">
          {state.networkProblem ?? state.error}
        </p>
      )}
    </footer>
  );
}
