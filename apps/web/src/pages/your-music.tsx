// "Your music": what this listener (or everyone on the server) played most this week, this month and ever, what was
// played recently on any device, the starred tracks, and a star and a 1–5 rating for the playing track.
import { useCallback, useEffect, useState } from "react";
import type {
  AlbumRecord,
  Annotation,
  ArtistRecord,
  PeriodName,
  PlayRecord,
  TopEntry,
  TrackRecord,
} from "@soundmesh/protocol";
import type { AudioController } from "../audio";
import { DailyMix } from "../components/daily-mix";
import { TrackList } from "../components/track-list";
import type { Connection } from "../connection";
import { hrefOf } from "../route";
import { tracksOf } from "../track-records";
import { useNowPlaying } from "../use-audio";
import { catalogContract, eventsContract } from "@soundmesh/protocol";

type Scope = "me" | "server";

function NowPlayingMarks({ connection, audio }: { connection: Connection; audio: AudioController }) {
  const { track } = useNowPlaying(audio);
  const [marks, setMarks] = useState<Annotation>();
  useEffect(() => {
    setMarks(undefined);
    if (!track) return;
    connection
      .call(eventsContract, "annotations", { kind: "track", ids: [track.id] })
      .then((found) => setMarks(found[0]))
      .catch(() => undefined);
  }, [connection, track]);
  if (!track || !marks) return null;
  const star = () =>
    void connection
      .call(eventsContract, "setStar", {
        kind: "track",
        id: track.id,
        starred: marks.starredAt === null,
      })
      .then(setMarks);
  const rate = (rating: number | null) =>
    void connection.call(eventsContract, "setRating", { kind: "track", id: track.id, rating }).then(setMarks);
  return (
    <p className="now-marks">
      Playing <strong>{track.title}</strong> — played {marks.playCount} times{" "}
      <button onClick={star} aria-pressed={marks.starredAt !== null} aria-label="star">
        {marks.starredAt === null ? "☆ Star" : "★ Starred"}
      </button>{" "}
      <label>
        Rating{" "}
        <select
          aria-label="rating"
          value={marks.rating ?? ""}
          onChange={(event) => rate(event.target.value === "" ? null : Number(event.target.value))}
        >
          <option value="">none</option>
          {[1, 2, 3, 4, 5].map((n) => (
            <option key={n} value={n}>
              {"★".repeat(n)}
            </option>
          ))}
        </select>
      </label>
    </p>
  );
}

interface Tops {
  tracks: TrackRecord[];
  trackPlays: Map<string, number>;
  albums: Array<{ entry: TopEntry; album: AlbumRecord | undefined }>;
  artists: Array<{ entry: TopEntry; artist: ArtistRecord | undefined }>;
}

async function loadTops(connection: Connection, period: PeriodName, scope: Scope): Promise<Tops> {
  const top = (kind: "track" | "album" | "artist") =>
    connection.call(eventsContract, "top", { kind, period, scope, limit: 10 });
  const [tracks, albums, artists] = await Promise.all([top("track"), top("album"), top("artist")]);
  const albumRows = await Promise.all(
    albums.map(async (entry) => ({
      entry,
      album: await connection
        .call(catalogContract, "album", { albumId: entry.id })
        .then((found) => found.album)
        .catch(() => undefined),
    })),
  );
  const artistRows = await Promise.all(
    artists.map(async (entry) => ({
      entry,
      artist: await connection.call(catalogContract, "artist", { artistId: entry.id }).catch(() => undefined),
    })),
  );
  return {
    tracks: await tracksOf(
      connection,
      tracks.map((entry) => entry.id),
    ),
    trackPlays: new Map(tracks.map((entry) => [entry.id, entry.plays])),
    albums: albumRows,
    artists: artistRows,
  };
}

export function YourMusic({ connection, audio }: { connection: Connection; audio: AudioController }) {
  const [period, setPeriod] = useState<PeriodName>("month");
  const [scope, setScope] = useState<Scope>("me");
  const [tops, setTops] = useState<Tops>();
  const [recent, setRecent] = useState<Array<{ play: PlayRecord; track: TrackRecord | undefined }>>();
  const [starred, setStarred] = useState<TrackRecord[]>([]);
  const [error, setError] = useState("");
  const load = useCallback(() => {
    const fail = (e: Error) => setError(`Could not load your music: ${e.message}`);
    loadTops(connection, period, scope).then(setTops, fail);
    connection
      .call(eventsContract, "recentlyPlayed", { limit: 20 })
      .then(async (plays) => {
        const tracks = new Map(
          (
            await tracksOf(
              connection,
              plays.map((play) => play.trackId),
            )
          ).map((track) => [track.id, track]),
        );
        setRecent(plays.map((play) => ({ play, track: tracks.get(play.trackId) })));
      })
      .catch(fail);
    connection
      .call(eventsContract, "starred", { kind: "track", limit: 50 })
      .then((marks) =>
        tracksOf(
          connection,
          marks.map((mark) => mark.id),
        ),
      )
      .then(setStarred)
      .catch(fail);
  }, [connection, period, scope]);
  useEffect(load, [load]);
  return (
    <section className="your-music">
      <h2>Your music</h2>
      {error && <p className="error">{error}</p>}
      <NowPlayingMarks connection={connection} audio={audio} />
      <DailyMix connection={connection} audio={audio} />
      <p>
        <label>
          Period{" "}
          <select
            aria-label="period"
            value={period}
            onChange={(e) => setPeriod(e.target.value as PeriodName)}
          >
            <option value="week">This week</option>
            <option value="month">This month</option>
            <option value="all">All time</option>
          </select>
        </label>{" "}
        <label>
          Whose{" "}
          <select aria-label="scope" value={scope} onChange={(e) => setScope(e.target.value as Scope)}>
            <option value="me">Mine</option>
            <option value="server">Everyone on this server</option>
          </select>
        </label>{" "}
        <button onClick={load}>Refresh</button>
      </p>
      <h3>Top tracks</h3>
      {tops === undefined ? (
        <p className="muted">Loading…</p>
      ) : tops.tracks.length === 0 ? (
        <p className="muted">Nothing played in this period.</p>
      ) : (
        <TrackList
          tracks={tops.tracks}
          audio={audio}
          connection={connection}
          showAlbum
          extra={(track) => <span className="muted plays">{tops.trackPlays.get(track.id)} plays</span>}
        />
      )}
      <h3>Top albums</h3>
      <ol className="top-list" aria-label="top albums">
        {tops?.albums.map(({ entry, album }) => (
          <li key={entry.id}>
            <a href={hrefOf({ name: "album", id: entry.id })}>{album?.title ?? entry.id}</a>{" "}
            <span className="muted">{entry.plays} plays</span>
          </li>
        ))}
      </ol>
      <h3>Top artists</h3>
      <ol className="top-list" aria-label="top artists">
        {tops?.artists.map(({ entry, artist }) => (
          <li key={entry.id}>
            <a href={hrefOf({ name: "artist", id: entry.id })}>{artist?.name ?? entry.id}</a>{" "}
            <span className="muted">{entry.plays} plays</span>
          </li>
        ))}
      </ol>
      <h3>Recently played, on every device</h3>
      <ol className="top-list" aria-label="recently played">
        {recent?.map(({ play, track }) => (
          <li key={play.eventId} data-track-id={play.trackId}>
            {track?.title ?? play.trackId}{" "}
            <span className="muted">{new Date(play.playedAt).toLocaleString()}</span>
          </li>
        ))}
      </ol>
      <h3>Starred tracks</h3>
      {starred.length === 0 ? (
        <p className="muted">No starred tracks yet.</p>
      ) : (
        <TrackList tracks={starred} audio={audio} connection={connection} showAlbum />
      )}
    </section>
  );
}
