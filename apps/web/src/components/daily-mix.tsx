// "Daily mix" on Your music: today's tracks near what this listener plays most (the server's taste for a newcomer),
// the same all day; playable as a whole or from any track.
import { useCallback, useEffect, useState } from "react";
import { recommendContract, type TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import type { Connection } from "../connection";
import { radioProblem } from "../radio";
import { tracksOf } from "../track-records";
import { TrackList } from "./track-list";

const BASED_ON = {
  you: "Near what you play most.",
  server: "Near what this server's listeners play most (play more and it becomes yours).",
  catalog: "Picked from the library: nobody has played anything yet.",
} as const;

export function DailyMix({ connection, audio }: { connection: Connection; audio: AudioController }) {
  const [mix, setMix] = useState<{ tracks: TrackRecord[]; basedOn: keyof typeof BASED_ON }>();
  const [error, setError] = useState("");
  const load = useCallback(() => {
    setError("");
    setMix(undefined);
    connection
      .call(recommendContract, "dailyMix", { limit: 30 })
      .then(async ({ tracks, basedOn }) => ({
        tracks: await tracksOf(
          connection,
          tracks.map((track) => track.trackId),
        ),
        basedOn,
      }))
      .then(setMix, (e: unknown) => setError(radioProblem(e)));
  }, [connection]);
  useEffect(load, [load]);
  return (
    <section aria-label="Daily mix" className="daily-mix">
      <h3>Daily mix</h3>
      {error ? (
        <p className="error" role="alert">
          {error}{" "}
          <button className="secondary" onClick={load}>
            Try again
          </button>
        </p>
      ) : !mix ? (
        <p className="muted" role="status" aria-busy="true">
          Loading today's mix…
        </p>
      ) : mix.tracks.length === 0 ? (
        <p className="muted">No mix today: the library is empty.</p>
      ) : (
        <>
          <p className="muted">{BASED_ON[mix.basedOn]}</p>
          <div className="actions">
            <button className="primary" onClick={() => void audio.playTracks(mix.tracks, 0)}>
              Play daily mix
            </button>
          </div>
          <TrackList tracks={mix.tracks} audio={audio} connection={connection} showAlbum />
        </>
      )}
    </section>
  );
}
