// The "Make available offline" switch of an album or a playlist, with its download progress.
import { useState } from "react";
import type { AudioController } from "../audio";
import type { OfflineCollection } from "../offline";

export function OfflineButton({
  audio,
  collection,
}: {
  audio: AudioController;
  collection: OfflineCollection;
}) {
  const [error, setError] = useState("");
  const progress = audio.offline.downloading.get(collection.id);
  const pinned = audio.offline.has(collection.id);
  if (progress !== undefined)
    return (
      <button className="secondary" onClick={() => void audio.offline.unpin(collection.id)}>
        Downloading {Math.round(progress * 100)}% — cancel
      </button>
    );
  const complete = pinned && audio.offline.isComplete(collection.id);
  const toggle = () => {
    setError("");
    // A failed download stays listed but incomplete; pressing again retries it.
    const action = pinned && complete ? audio.offline.unpin(collection.id) : audio.offline.pin(collection);
    action.catch((e: Error) => setError(`Download stopped: ${e.message}. Press again to retry.`));
  };
  return (
    <>
      <button
        className="secondary"
        aria-pressed={pinned}
        data-offline={complete ? "ready" : undefined}
        onClick={toggle}
      >
        {complete ? "✓ Available offline" : pinned ? "Finish download for offline" : "Make available offline"}
      </button>
      {error && (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </>
  );
}
