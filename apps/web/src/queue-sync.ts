// The play queue saved on the server, so another device can resume it: saved a moment after it changes (on the
// revision this device last saw), and offered back by the Queue page when another device saved a different one.
import type { SavedQueue, TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "./audio";
import type { Connection } from "./connection";
import { AppError, catalogContract, eventsContract } from "@soundmesh/protocol";

const SAVE_DELAY_MS = 2_000;
/** The server keeps at most this many entries of a queue. */
const MAX_SAVED = 5_000;

export function deviceName(): string {
  const agent = navigator.userAgent;
  const browser = /Firefox\//.test(agent)
    ? "Firefox"
    : /Edg\//.test(agent)
      ? "Edge"
      : /Chrom/.test(agent)
        ? "Chromium"
        : "Browser";
  const platform = /Android/.test(agent)
    ? "Android"
    : /iPhone|iPad/.test(agent)
      ? "iOS"
      : /Mac/.test(agent)
        ? "Mac"
        : /Linux/.test(agent)
          ? "Linux"
          : /Windows/.test(agent)
            ? "Windows"
            : "";
  return platform ? `${browser} on ${platform}` : browser;
}

/** Saves this device's queue while the socket is open; returns a stop function. */
export function saveQueueOnChange(connection: Connection, audio: AudioController): () => void {
  let revision: number | undefined;
  let lastKey = "";
  let timer: number | undefined;
  const keyOf = () => {
    const { queue, index } = audio.snapshot();
    return `${index}:${queue.map((entry) => entry.track.id).join(",")}`;
  };
  const save = async (retry: boolean): Promise<void> => {
    const { queue, index, positionSec } = audio.snapshot();
    if (queue.length === 0) return;
    revision ??= (await connection.call(eventsContract, "loadQueue", {}))?.revision ?? 0;
    try {
      const saved = await connection.call(eventsContract, "saveQueue", {
        trackIds: queue.slice(0, MAX_SAVED).map((entry) => entry.track.id),
        currentIndex: Math.min(index, MAX_SAVED - 1),
        positionMs: Math.round(positionSec * 1000),
        device: deviceName(),
        baseRevision: revision,
      });
      revision = saved.revision;
    } catch (error) {
      // Another device saved since: this one's change is newer, so it saves over it on the new revision.
      if (!(error instanceof AppError) || error.code !== "CONFLICT" || !retry) return;
      revision = undefined;
      await save(false);
    }
  };
  const unsubscribe = audio.subscribe(() => {
    const key = keyOf();
    if (key === lastKey) return;
    lastKey = key;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void save(true).catch(() => undefined), SAVE_DELAY_MS);
  });
  return () => {
    window.clearTimeout(timer);
    unsubscribe();
  };
}

/** The queue another device saved, when it differs from what plays here; with its tracks from the catalog. */
export async function queueToResume(
  connection: Connection,
  audio: AudioController,
): Promise<{ saved: SavedQueue; tracks: TrackRecord[] } | undefined> {
  const saved = await connection.call(eventsContract, "loadQueue", {});
  if (!saved || saved.trackIds.length === 0) return undefined;
  const here = audio.snapshot().queue.map((entry) => entry.track.id);
  if (here.join(",") === saved.trackIds.join(",")) return undefined;
  const found = new Map<string, TrackRecord>();
  for (let start = 0; start < saved.trackIds.length; start += 500) {
    const page = saved.trackIds.slice(start, start + 500);
    for (const track of await connection.call(catalogContract, "tracks", { trackIds: page }))
      found.set(track.id, track);
  }
  const tracks = saved.trackIds.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
  return tracks.length === 0 ? undefined : { saved, tracks };
}

export async function resumeQueue(
  audio: AudioController,
  { saved, tracks }: { saved: SavedQueue; tracks: TrackRecord[] },
): Promise<void> {
  const index = Math.min(saved.currentIndex, tracks.length - 1);
  await audio.playTracks(tracks, index);
  if (saved.positionMs > 0) await audio.seek(saved.positionMs / 1000);
}
