// The queue: what plays now and next; jump, drag to reorder, remove, shuffle and repeat.
import { useEffect, useRef, useState } from "react";
import type { AudioController } from "../audio";
import type { Connection } from "../connection";
import { queueToResume, resumeQueue } from "../queue-sync";
import { RadioQueueStatus } from "../components/radio-items";
import { Reorderable } from "../components/reorderable";
import { formatTime } from "../http";
import { useNowPlaying } from "../use-audio";

/** "Resume on this device": the queue another device saved on the server, when it is not the one playing here. */
function ResumeOffer({ connection, audio }: { connection: Connection; audio: AudioController }) {
  const [offer, setOffer] = useState<Awaited<ReturnType<typeof queueToResume>>>();
  useEffect(() => {
    queueToResume(connection, audio).then(setOffer, () => undefined);
  }, [connection, audio]);
  if (!offer) return null;
  return (
    <p className="resume-offer">
      <button
        onClick={() => {
          setOffer(undefined);
          void resumeQueue(audio, offer);
        }}
      >
        Resume the queue from {offer.saved.device || "another device"} ({offer.tracks.length} tracks)
      </button>
    </p>
  );
}

export function Queue({ audio, connection }: { audio: AudioController; connection?: Connection }) {
  const state = useNowPlaying(audio);
  const section = useRef<HTMLElement>(null);
  const hasQueue = state.queue.length > 0;
  // Opened, the queue shows the playing track (a long queue would otherwise open at its top, far from it).
  useEffect(() => {
    section.current?.querySelector("[data-playing]")?.scrollIntoView({ block: "center" });
  }, [hasQueue]);
  return (
    <section ref={section}>
      <h2>Queue</h2>
      {connection && <ResumeOffer connection={connection} audio={audio} />}
      <RadioQueueStatus />
      <div className="actions">
        <button
          className="secondary"
          aria-pressed={state.shuffle}
          onClick={() => void audio.setShuffle(!state.shuffle)}
        >
          Shuffle {state.shuffle ? "on" : "off"}
        </button>
        <button className="secondary" onClick={() => void audio.cycleRepeat()}>
          Repeat: {state.repeat}
        </button>
      </div>
      {state.queue.length === 0 ? (
        <p className="muted">The queue is empty: play an album or add songs with +.</p>
      ) : (
        <Reorderable
          items={state.queue}
          keyOf={(entry) => entry.entryId}
          label={(entry) => entry.track.title}
          current={state.index}
          move={(from, to) => void audio.moveInQueue(from, to)}
          render={(entry, index) => (
            <>
              <button className="track-main" onClick={() => void audio.jumpTo(index)}>
                <span className="number">{index === state.index ? "▶" : index + 1}</span>
                <span className="title">
                  {entry.track.title}
                  <small>{entry.track.artist}</small>
                </span>
                <span className="muted">{formatTime(entry.track.durationMs / 1000)}</span>
              </button>
              <button
                className="remove"
                aria-label={`Remove ${entry.track.title} from the queue`}
                onClick={() => void audio.removeFromQueue(index)}
              >
                ✕
              </button>
            </>
          )}
        />
      )}
    </section>
  );
}
