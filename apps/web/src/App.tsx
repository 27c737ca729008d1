// The web player: sign-in and first-run set-up, home, search as you type, albums, the player bar and stats.
import { useCallback, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import type { AlbumRecord, SearchHit, TrackRecord, UserRecord } from "@soundmesh/protocol";
import { AudioController } from "./audio";
import type { RequestError } from "./connection";
import { Connection, type ConnectionState } from "./connection";

type View = { name: "home" } | { name: "search" } | { name: "album"; albumId: string } | { name: "stats" };

async function postJson(path: string, body: unknown): Promise<Response> {
  return fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [needsSetup, setNeedsSetup] = useState<boolean | undefined>();
  const [error, setError] = useState("");
  useEffect(() => {
    void fetch("/api/setup").then(async (r) =>
      setNeedsSetup(((await r.json()) as { needsSetup: boolean }).needsSetup),
    );
  }, []);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(event.currentTarget));
    const response = await postJson(needsSetup ? "/api/setup" : "/api/login", data);
    if (response.ok) return onSignedIn();
    const problem = (await response.json()) as { title?: string; code?: string };
    setError(
      problem.code === "LOGIN_THROTTLED"
        ? "Too many tries: wait a moment."
        : (problem.title ?? "Sign-in failed"),
    );
  };
  if (needsSetup === undefined) return <div className="center">Loading…</div>;
  return (
    <form className="sign-in" onSubmit={(e) => void submit(e)}>
      <h1>soundmesh</h1>
      <p>{needsSetup ? "Create the first administrator" : "Sign in to listen"}</p>
      <input name="name" aria-label="User name" placeholder="User name" autoComplete="username" required />
      <input
        name="password"
        aria-label="Password"
        placeholder="Password"
        type="password"
        autoComplete={needsSetup ? "new-password" : "current-password"}
        required
        minLength={needsSetup ? 8 : 1}
      />
      <button type="submit">{needsSetup ? "Create administrator" : "Sign in"}</button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

/** Inline icons: no icon font or emoji needed, so they render everywhere. */
function Icon({ name }: { name: "prev" | "next" | "play" | "pause" }) {
  const paths = {
    prev: "M6 5h2v14H6zM20 5v14L9 12z",
    next: "M16 5h2v14h-2zM4 5l11 7-11 7z",
    play: "M7 4l13 8-13 8z",
    pause: "M6 4h4v16H6zM14 4h4v16h-4z",
  } as const;
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden fill="currentColor">
      <path d={paths[name]} />
    </svg>
  );
}

const formatTime = (seconds: number) =>
  `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, "0")}`;

function Cover({ albumId, size = 300 }: { albumId: string; size?: 64 | 300 }) {
  const [failed, setFailed] = useState(false);
  return failed ? (
    <div className="cover placeholder" aria-hidden />
  ) : (
    <img
      className="cover"
      src={`/api/cover/${albumId}?size=${size}`}
      alt=""
      loading="lazy"
      onError={() => setFailed(true)}
    />
  );
}

function AlbumGrid({ albums, open }: { albums: AlbumRecord[]; open: (id: string) => void }) {
  return (
    <div className="grid">
      {albums.map((album) => (
        <button key={album.id} className="card" onClick={() => open(album.id)}>
          <Cover albumId={album.id} />
          <strong>{album.title}</strong>
          <span>
            {album.albumArtist}
            {album.year ? ` · ${album.year}` : ""}
          </span>
        </button>
      ))}
    </div>
  );
}

function Home({ connection, open }: { connection: Connection; open: (id: string) => void }) {
  const [recent, setRecent] = useState<AlbumRecord[]>([]);
  const [random, setRandom] = useState<AlbumRecord[]>([]);
  useEffect(() => {
    const load = () => {
      void connection
        .request<{ items: AlbumRecord[] }>("catalog.recentlyAdded", { limit: 12 })
        .then((r) => setRecent(r.items));
      void connection
        .request<{ albums: AlbumRecord[] }>("catalog.random", { kind: "albums", limit: 6 })
        .then((r) => setRandom(r.albums));
    };
    load();
    return connection.subscribe("catalog.changed", load);
  }, [connection]);
  return (
    <section>
      <h2>Recently added</h2>
      {recent.length === 0 ? (
        <p className="muted">Nothing yet: the library is being scanned.</p>
      ) : (
        <AlbumGrid albums={recent} open={open} />
      )}
      <h2>Random albums</h2>
      <AlbumGrid albums={random} open={open} />
    </section>
  );
}

function Search({
  connection,
  open,
  play,
}: {
  connection: Connection;
  open: (id: string) => void;
  play: (trackId: string) => void;
}) {
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[]>([]);
  useEffect(() => {
    if (!query.trim()) return setHits([]);
    let stale = false;
    const timer = window.setTimeout(() => {
      connection
        .request<{ hits: SearchHit[] }>("search.query", { q: query, limit: 30 })
        .then((r) => !stale && setHits(r.hits))
        .catch(() => undefined);
    }, 80);
    return () => {
      stale = true;
      window.clearTimeout(timer);
    };
  }, [query, connection]);
  return (
    <section>
      <input
        className="search"
        autoFocus
        aria-label="Search"
        placeholder="Artists, albums, songs"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      <ul className="hits">
        {hits.map((hit) => (
          <li key={`${hit.kind}:${hit.id}`}>
            <button
              onClick={() =>
                hit.kind === "track" ? play(hit.id) : hit.kind === "album" ? open(hit.id) : undefined
              }
              data-kind={hit.kind}
            >
              <strong>{hit.title}</strong>{" "}
              <span className="muted">
                {hit.kind} · {hit.subtitle}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Album({
  connection,
  albumId,
  playTracks,
}: {
  connection: Connection;
  albumId: string;
  playTracks: (tracks: TrackRecord[], index: number) => void;
}) {
  const [data, setData] = useState<{ album: AlbumRecord; tracks: TrackRecord[] }>();
  const [error, setError] = useState("");
  useEffect(() => {
    connection
      .request<{ album: AlbumRecord; tracks: TrackRecord[] }>("catalog.album", { albumId })
      .then(setData, (e: Error) => setError(e.message));
  }, [albumId, connection]);
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  return (
    <section>
      <header className="album-header">
        <Cover albumId={albumId} />
        <div>
          <p className="muted">{data.album.compilation ? "Compilation" : "Album"}</p>
          <h2>{data.album.title}</h2>
          <p>
            {data.album.albumArtist}
            {data.album.year ? ` · ${data.album.year}` : ""} · {data.tracks.length} songs
          </p>
          <button className="primary" onClick={() => playTracks(data.tracks, 0)}>
            Play
          </button>
        </div>
      </header>
      <ol className="tracks">
        {data.tracks.map((track, index) => (
          <li key={track.id}>
            <button onClick={() => playTracks(data.tracks, index)}>
              <span className="number">{track.trackNumber ?? index + 1}</span>
              <span className="title">
                {track.title}
                <small>{track.artist}</small>
              </span>
              <span className="muted">{formatTime(track.durationMs / 1000)}</span>
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}

function Stats({ audio }: { audio: AudioController }) {
  const now = useSyncExternalStore(
    useCallback((l) => audio.subscribe(l), [audio]),
    () => audio.snapshot().bytes.total,
    () => 0,
  );
  const { bytes, bufferedAheadSec } = audio.snapshot();
  const pct = (n: number) => `${Math.round(n * 100)}%`;
  return (
    <section className="stats" data-total={now}>
      <h2>Stats for nerds</h2>
      <div className="bar" aria-label="bytes by source">
        <span className="cache" style={{ width: pct(bytes.share.cache) }} />
        <span className="peer" style={{ width: pct(bytes.share.peer) }} />
        <span className="server" style={{ width: pct(bytes.share.server) }} />
      </div>
      <p>
        cache {pct(bytes.share.cache)} · peers {pct(bytes.share.peer)} · server {pct(bytes.share.server)} —{" "}
        {(bytes.total / 1024).toFixed(0)} KiB
      </p>
      <p>
        buffer ahead: {bufferedAheadSec.toFixed(1)} s · rejected pieces: {bytes.rejectedPieces}
      </p>
      <p>
        start latency of the last plays:{" "}
        {bytes.startLatenciesMs.map((ms) => `${Math.round(ms)} ms`).join(", ") || "none yet"}
      </p>
    </section>
  );
}

function PlayerBar({ audio }: { audio: AudioController }) {
  const subscribe = useCallback((listener: () => void) => audio.subscribe(listener), [audio]);
  const key = useSyncExternalStore(subscribe, () => {
    const s = audio.snapshot();
    return `${s.index}|${s.playing}|${Math.floor(s.positionSec)}|${s.volume}|${s.error ?? ""}|${s.queue.length}`;
  });
  const state = useMemo(() => audio.snapshot(), [audio, key]);
  const track = state.queue[state.index];
  return (
    <footer className="player-bar">
      <div className="now">
        {track && <Cover albumId={track.albumId} size={64} />}
        <div>
          <strong data-testid="now-title">{track?.title ?? "Nothing playing"}</strong>
          <small>{track?.artist ?? ""}</small>
        </div>
      </div>
      <div className="controls">
        <button aria-label="Previous" onClick={() => void audio.next(-1)}>
          <Icon name="prev" />
        </button>
        <button aria-label={state.playing ? "Pause" : "Play"} className="play" onClick={() => audio.toggle()}>
          <Icon name={state.playing ? "pause" : "play"} />
        </button>
        <button aria-label="Next" onClick={() => void audio.next(1)}>
          <Icon name="next" />
        </button>
        <span className="time">{formatTime(state.positionSec)}</span>
        <input
          aria-label="Seek"
          type="range"
          min={0}
          max={Math.max(1, state.durationSec)}
          step={0.5}
          value={Math.min(state.positionSec, state.durationSec)}
          onChange={(e) => void audio.seek(Number(e.target.value))}
        />
        <span className="time">{formatTime(state.durationSec)}</span>
      </div>
      <input
        aria-label="Volume"
        className="volume"
        type="range"
        min={0}
        max={1}
        step={0.01}
        defaultValue={1}
        onChange={(e) => audio.setVolume(Number(e.target.value))}
      />
      {state.error && (
        <p role="alert" className="error toast">
          {state.error}
        </p>
      )}
    </footer>
  );
}

export function App() {
  const [user, setUser] = useState<UserRecord | null | undefined>();
  const [connectionState, setConnectionState] = useState<ConnectionState>("connecting");
  const [view, setView] = useState<View>({ name: "home" });
  const refreshUser = useCallback(() => {
    void fetch("/api/me").then(async (r) => setUser(r.ok ? ((await r.json()) as UserRecord) : null));
  }, []);
  useEffect(refreshUser, [refreshUser]);
  const connection = useMemo(() => (user ? new Connection(setConnectionState) : undefined), [user]);
  useEffect(() => () => connection?.close(), [connection]);
  const [audio, setAudio] = useState<AudioController>();
  useEffect(() => {
    if (user && !audio) void AudioController.create().then(setAudio);
  }, [user, audio]);
  useEffect(() => {
    if (connectionState === "signed-out") setUser(null);
  }, [connectionState]);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.target as HTMLElement).tagName === "INPUT") return;
      if (event.key === " ") {
        event.preventDefault();
        audio?.toggle();
      } else if (event.key === "/") {
        event.preventDefault();
        setView({ name: "search" });
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [audio]);

  if (user === undefined) return <div className="center">Loading…</div>;
  if (user === null || !connection || !audio) return <SignIn onSignedIn={refreshUser} />;

  const open = (albumId: string) => setView({ name: "album", albumId });
  const playTracks = (tracks: TrackRecord[], index: number) => void audio.playQueue(tracks, index);
  const playTrack = (trackId: string) =>
    void connection
      .request<TrackRecord>("catalog.track", { trackId })
      .then((track) => audio.playQueue([track], 0))
      .catch((e: RequestError) => alert(e.message));
  const signOut = async () => {
    await postJson("/api/logout", {});
    setUser(null);
  };
  return (
    <div className="app">
      {connectionState === "reconnecting" && (
        <div className="banner" role="status">
          Reconnecting…
        </div>
      )}
      <nav className="sidebar">
        <h1>soundmesh</h1>
        <button onClick={() => setView({ name: "home" })} aria-current={view.name === "home"}>
          Home
        </button>
        <button onClick={() => setView({ name: "search" })} aria-current={view.name === "search"}>
          Search
        </button>
        <button onClick={() => setView({ name: "stats" })} aria-current={view.name === "stats"}>
          Stats for nerds
        </button>
        <p className="muted who">{user.name}</p>
        <button onClick={() => void signOut()}>Sign out</button>
      </nav>
      <main>
        {view.name === "home" && <Home connection={connection} open={open} />}
        {view.name === "search" && <Search connection={connection} open={open} play={playTrack} />}
        {view.name === "album" && (
          <Album connection={connection} albumId={view.albumId} playTracks={playTracks} />
        )}
        {view.name === "stats" && <Stats audio={audio} />}
      </main>
      <PlayerBar audio={audio} />
    </div>
  );
}
