// The "Make available offline" switch of an album or a playlist, with its download progress.
import type { AudioController } from "../audio";
import type { OfflineCollection } from "../offline";
import { useOfflineChanges } from "../use-audio";

export function OfflineButton({
  audio,
  collection,
}: {
  audio: AudioController;
  collection: OfflineCollection;
}) {
  // Re-render on download progress and on changes made elsewhere (a pinned playlist following its edits).
  useOfflineChanges(audio);
  const offline = audio.offline;
  const progress = offline.downloading.get(collection.id);
  const pinned = offline.has(collection.id);
  if (progress !== undefined)
    return (
      <button className="secondary" onClick={() => void offline.unpin(collection.id)}>
        Downloading {Math.round(progress * 100)}% — cancel
      </button>
    );
  const complete = pinned && offline.isComplete(collection.id);
  const problem = offline.problems.get(collection.id);
  return (
    <>
      <button
        className="secondary"
        aria-pressed={pinned}
        data-offline={complete ? "ready" : undefined}
        // A failed download stays listed but incomplete; pressing again retries it.
        onClick={() => void (complete ? offline.unpin(collection.id) : offline.pin(collection))}
      >
        {complete ? "✓ Available offline" : pinned ? "Finish download for offline" : "Make available offline"}
      </button>
      {problem && (
        <span role="alert" className="error">
          {problem}
        </span>
      )}
    </>
  );
}
