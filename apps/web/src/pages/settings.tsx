// Settings: of this browser (ReplayGain, the client cache's cap and use, what is available offline, shortcuts) and
// of the account (API tokens, password, signing out everywhere, scrobbling, the users whose invitations are blocked).
import { useState } from "react";
import { defaultCacheCap, type ReplayGainMode } from "@soundmesh/engine";
import type { AudioController } from "../audio";
import { BlockedUsers } from "../components/blocked-users";
import { OfflineList } from "../components/offline-list";
import { ScrobblingSettings } from "../components/scrobbling-settings";
import { SubsonicSettings } from "../components/subsonic-settings";
import type { Connection } from "../connection";
import { shortcuts } from "../keyboard";
import { settings } from "../settings";
import { useNowPlaying } from "../use-audio";
import { AccountSettings } from "./settings-account";

const GB = 1000 ** 3;

export function Settings({ audio, connection }: { audio: AudioController; connection: Connection }) {
  useNowPlaying(audio);
  const [replayGain, setReplayGain] = useState(settings.replayGain());
  const [capGb, setCapGb] = useState((audio.cacheIndex.capBytes / GB).toFixed(1));
  const [message, setMessage] = useState("");
  const saveCap = async () => {
    const gb = Number(capGb);
    if (!Number.isFinite(gb) || gb < 0.05) return setMessage("The cap must be at least 0.05 GB.");
    await audio.setCacheCap(Math.round(gb * GB));
    setMessage(`Cache cap set to ${gb} GB.`);
  };
  return (
    <section className="settings">
      <h2>Settings</h2>
      <h3>Volume levelling (ReplayGain)</h3>
      <select
        aria-label="ReplayGain"
        value={replayGain}
        onChange={(e) => {
          const mode = e.target.value as ReplayGainMode;
          setReplayGain(mode);
          audio.setReplayGain(mode);
        }}
      >
        <option value="track">Track: every song at the same loudness</option>
        <option value="album">Album: keep an album's own dynamics</option>
        <option value="off">Off</option>
      </select>
      <h3>Cache in this browser</h3>
      <p className="muted">
        Played songs stay here and replay with no network; the least recently played go first when the cache
        is full. Default: 10% of this browser's storage quota, at most 10 GB (
        {(defaultCacheCap(audio.quotaBytes) / GB).toFixed(1)} GB here). In use:{" "}
        {(audio.cacheIndex.usedBytes / 1024 / 1024).toFixed(1)} MiB.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void saveCap();
        }}
      >
        <label>
          Cap (GB){" "}
          <input
            aria-label="Cache cap in GB"
            value={capGb}
            onChange={(e) => setCapGb(e.target.value)}
            inputMode="decimal"
          />
        </label>
        <button className="secondary" type="submit">
          Save
        </button>
      </form>
      {message && <p role="status">{message}</p>}
      <h3>Available offline</h3>
      <OfflineList audio={audio} />
      <h2>Account</h2>
      <AccountSettings connection={connection} />
      <h3>Subsonic apps</h3>
      <SubsonicSettings connection={connection} />
      <h3>Scrobbling</h3>
      <ScrobblingSettings connection={connection} />
      <h3>Blocked users</h3>
      <BlockedUsers connection={connection} />
      <h3>Keyboard shortcuts</h3>
      <dl className="shortcuts">
        {shortcuts.map(([keys, what]) => (
          <div key={keys}>
            <dt>
              <kbd>{keys}</kbd>
            </dt>
            <dd>{what}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
