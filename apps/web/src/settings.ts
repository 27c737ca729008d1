// What the player remembers in this browser: volume, ReplayGain mode, the cache cap, recently played tracks, the last user.
import type { ReplayGainMode } from "@soundmesh/engine";
import type { TrackRecord, UserRecord } from "@soundmesh/protocol";

const KEY = "soundmesh.settings";
const RECENT = "soundmesh.recentlyPlayed";
const RECENT_LIMIT = 30;

interface Stored {
  volume?: number;
  replayGain?: ReplayGainMode;
  cacheCapBytes?: number;
  lastUser?: UserRecord | undefined;
}

function read<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}

function update(change: Partial<Stored>): void {
  localStorage.setItem(KEY, JSON.stringify({ ...read<Stored>(KEY, {}), ...change }));
}

export const settings = {
  volume: (): number => read<Stored>(KEY, {}).volume ?? 1,
  setVolume: (volume: number) => update({ volume }),
  replayGain: (): ReplayGainMode => read<Stored>(KEY, {}).replayGain ?? "track",
  setReplayGain: (replayGain: ReplayGainMode) => update({ replayGain }),
  /** Undefined: the default (10% of the quota, at most 10 GB). */
  cacheCapBytes: (): number | undefined => read<Stored>(KEY, {}).cacheCapBytes,
  setCacheCapBytes: (cacheCapBytes: number) => update({ cacheCapBytes }),
  /** The last signed-in user, so the app can open offline with pinned music when the server is unreachable. */
  lastUser: (): UserRecord | undefined => read<Stored>(KEY, {}).lastUser,
  setLastUser: (lastUser: UserRecord | undefined) =>
    lastUser ? update({ lastUser }) : update({ lastUser: undefined }),
  recentlyPlayed: (): TrackRecord[] => read<TrackRecord[]>(RECENT, []),
  rememberPlayed(track: TrackRecord | undefined): void {
    if (!track) return;
    const list = read<TrackRecord[]>(RECENT, []).filter((t) => t.id !== track.id);
    localStorage.setItem(RECENT, JSON.stringify([track, ...list].slice(0, RECENT_LIMIT)));
  },
};
