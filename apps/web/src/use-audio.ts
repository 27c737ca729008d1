// React binding of the audio controller: re-renders on its changes, at most once per displayed second; and of its
// offline library.
import { useCallback, useRef, useSyncExternalStore } from "react";
import type { AudioController, NowPlaying } from "./audio";

export function useNowPlaying(audio: AudioController): NowPlaying {
  const subscribe = useCallback((listener: () => void) => audio.subscribe(listener), [audio]);
  const key = useSyncExternalStore(subscribe, () => {
    const s = audio.snapshot();
    return [
      s.index,
      s.track?.id,
      s.playing,
      Math.floor(s.positionSec),
      s.volume,
      s.error,
      s.networkProblem,
      s.loading,
      [...s.failed.keys()].join(","),
      s.queue.map((e) => e.entryId).join(","),
      s.shuffle,
      s.repeat,
      s.bytes.total,
      audio.offline.downloading.size,
      [...audio.offline.downloading.values()].join(","),
    ].join("|");
  });
  // A new snapshot only when something shown changed (`key`), so renders stay cheap.
  const cache = useRef<{ key: string; snapshot: NowPlaying }>(undefined);
  if (cache.current?.key !== key) cache.current = { key, snapshot: audio.snapshot() };
  return cache.current.snapshot;
}

/** Re-renders on every change of the offline library: its list, downloads and problems. */
export function useOfflineChanges(audio: AudioController): void {
  const offline = audio.offline;
  const subscribe = useCallback((listener: () => void) => offline.subscribe(listener), [offline]);
  useSyncExternalStore(subscribe, () => offline.version);
}
