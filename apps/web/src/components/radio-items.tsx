// Radio's controls: "Start radio" for a menu (track, album, artist, playlist), a track's own menu (radio and similar
// tracks), the notice while a radio starts or cannot, and the radio's state on the queue page.
import type { RadioSeed, TrackRecord } from "@soundmesh/protocol";
import { useRadio } from "../radio";
import { navigate } from "../route";
import { MenuButton } from "./menu-button";

export function StartRadioItem({
  seed,
  label,
  seedTrack,
}: {
  seed: RadioSeed;
  label: string;
  seedTrack?: TrackRecord;
}) {
  const { radio } = useRadio();
  if (!radio) return null;
  return (
    <button role="menuitem" onClick={() => void radio.start(seed, label, seedTrack)}>
      Start radio
    </button>
  );
}

/** A track row's "⋯" menu: radio from it, and the tracks most like it. */
export function TrackMenu({ track }: { track: TrackRecord }) {
  const { radio } = useRadio();
  if (!radio) return null;
  return (
    <MenuButton label="⋯" ariaLabel={`More actions for ${track.title}`}>
      <StartRadioItem seed={{ kind: "track", id: track.id }} label={track.title} seedTrack={track} />
      <button role="menuitem" onClick={() => navigate({ name: "similar", id: track.id })}>
        Similar tracks
      </button>
    </MenuButton>
  );
}

/** Shown on every page: a radio being started, or why it could not. */
export function RadioNotice() {
  const { radio, state } = useRadio();
  if (state.status === "starting")
    return (
      <div className="banner" role="status" aria-busy="true">
        Starting radio from {state.label}…
      </div>
    );
  if (state.status === "error" && radio)
    return (
      <div className="banner error" role="alert">
        Radio from {state.label}: {state.error}{" "}
        <button className="secondary" onClick={() => void radio.more()}>
          Try again
        </button>{" "}
        <button className="secondary" onClick={() => radio.stop()}>
          Dismiss
        </button>
      </div>
    );
  return null;
}

/** The queue page's line about the radio filling it. */
export function RadioQueueStatus() {
  const { radio, state } = useRadio();
  if (!radio || state.seed === undefined || state.status === "starting") return null;
  return (
    <p className="radio-status" data-testid="radio-status" data-status={state.status}>
      Radio from <strong>{state.label}</strong>: more tracks join as the queue runs low.{" "}
      {state.status === "loading" && (
        <span role="status" aria-busy="true">
          Finding more tracks…
        </span>
      )}{" "}
      <button className="secondary" onClick={() => radio.stop()}>
        Stop radio
      </button>
    </p>
  );
}
