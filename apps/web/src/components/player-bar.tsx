// The player bar: now playing, play/pause, previous/next, seek, volume, and playback errors.
import { useCallback, useMemo, useSyncExternalStore } from "react";
import type { AudioController } from "../audio";
import { formatTime } from "../http";
import { Cover } from "./cover";
import { Icon } from "./icon";

export function PlayerBar({ audio }: { audio: AudioController }) {
  const subscribe = useCallback((listener: () => void) => audio.subscribe(listener), [audio]);
  const key = useSyncExternalStore(subscribe, () => {
    const s = audio.snapshot();
    return `${s.index}|${s.playing}|${Math.floor(s.positionSec)}|${s.volume}|${s.error ?? ""}|${s.queue.length}`;
  });
  const state = useMemo(() => audio.snapshot(), [audio, key]);
  const track = state.queue[state.index];
  return (
    <footer className="player-bar">
      <div className="now">
        {track && <Cover albumId={track.albumId} size={64} />}
        <div>
          <strong data-testid="now-title">{track?.title ?? "Nothing playing"}</strong>
          <small>{track?.artist ?? ""}</small>
        </div>
      </div>
      <div className="controls">
        <button aria-label="Previous" onClick={() => void audio.next(-1)}>
          <Icon name="prev" />
        </button>
        <button aria-label={state.playing ? "Pause" : "Play"} className="play" onClick={() => audio.toggle()}>
          <Icon name={state.playing ? "pause" : "play"} />
        </button>
        <button aria-label="Next" onClick={() => void audio.next(1)}>
          <Icon name="next" />
        </button>
        <span className="time">{formatTime(state.positionSec)}</span>
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
      <input
        aria-label="Volume"
        className="volume"
        type="range"
        min={0}
        max={1}
        step={0.01}
        defaultValue={1}
        onChange={(e) => audio.setVolume(Number(e.target.value))}
      />
      {state.error && (
        <p role="alert" className="error toast">
          {state.error}
        </p>
      )}
    </footer>
  );
}
