// The "Make available offline" switch of an album or a playlist, with its download progress.
import type { AudioController } from "../audio";
import type { OfflineCollection } from "../offline";

export function OfflineButton({
  audio,
  collection,
}: {
  audio: AudioController;
  collection: OfflineCollection;
}) {
  const progress = audio.offline.downloading.get(collection.id);
  const pinned = audio.offline.has(collection.id);
  if (progress !== undefined)
    return (
      <button className="secondary" onClick={() => void audio.offline.unpin(collection.id)}>
        Downloading {Math.round(progress * 100)}% — cancel
      </button>
    );
  return (
    <button
      className="secondary"
      aria-pressed={pinned}
      data-offline={pinned && audio.offline.isComplete(collection.id) ? "ready" : undefined}
      onClick={() =>
        void (pinned
          ? audio.offline.unpin(collection.id)
          : audio.offline.pin(collection).catch(() => undefined))
      }
    >
      {pinned ? "✓ Available offline" : "Make available offline"}
    </button>
  );
}
