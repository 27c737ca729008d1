// "Similar tracks": the tracks nearest one track in the radio index, playable from the list, with radio from it.
import { useEffect, useState } from "react";
import { catalogContract, recommendContract, type TrackRecord } from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { StartRadioItem } from "../components/radio-items";
import { MenuButton } from "../components/menu-button";
import { TrackList } from "../components/track-list";
import type { Connection } from "../connection";
import { radioProblem } from "../radio";
import { tracksOf } from "../track-records";

export function Similar({
  connection,
  audio,
  trackId,
}: {
  connection: Connection;
  audio: AudioController;
  trackId: string;
}) {
  const [seed, setSeed] = useState<TrackRecord>();
  const [tracks, setTracks] = useState<TrackRecord[]>();
  const [error, setError] = useState("");
  useEffect(() => {
    setTracks(undefined);
    setError("");
    let isCurrent = true;
    const load = async () => {
      const [track, similar] = await Promise.all([
        connection.call(catalogContract, "track", { trackId }),
        connection.call(recommendContract, "similar", { trackId, limit: 20 }),
      ]);
      const records = await tracksOf(
        connection,
        similar.tracks.map((entry) => entry.trackId),
      );
      if (!isCurrent) return;
      setSeed(track);
      setTracks(records);
    };
    load().catch((e: unknown) => isCurrent && setError(radioProblem(e)));
    return () => {
      isCurrent = false;
    };
  }, [connection, trackId]);
  if (error)
    return (
      <section>
        <h2>Similar tracks</h2>
        <p className="error" role="alert">
          {error}
        </p>
      </section>
    );
  if (!tracks || !seed)
    return (
      <section>
        <h2>Similar tracks</h2>
        <p className="muted" role="status" aria-busy="true">
          Loading…
        </p>
      </section>
    );
  return (
    <section>
      <p className="muted">Similar tracks</p>
      <h2>Like {seed.title}</h2>
      <p className="muted">
        {seed.artist} · {seed.album}
      </p>
      <div className="actions">
        <button
          className="primary"
          disabled={tracks.length === 0}
          onClick={() => void audio.playTracks(tracks, 0)}
        >
          Play
        </button>
        <MenuButton label="More ▾" ariaLabel="More actions for the similar tracks">
          <StartRadioItem seed={{ kind: "track", id: seed.id }} label={seed.title} seedTrack={seed} />
        </MenuButton>
      </div>
      {tracks.length === 0 ? (
        <p className="muted">Nothing similar yet.</p>
      ) : (
        <TrackList tracks={tracks} audio={audio} connection={connection} showAlbum />
      )}
    </section>
  );
}
