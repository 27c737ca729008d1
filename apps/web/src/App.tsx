// The web player's shell: who is signed in, the connection, navigation between pages, and the player bar.
import { useCallback, useEffect, useMemo, useState } from "react";
import type { TrackRecord, UserRecord } from "@soundmesh/protocol";
import { AudioController } from "./audio";
import { PlayerBar } from "./components/player-bar";
import type { RequestError } from "./connection";
import { Connection, type ConnectionState } from "./connection";
import { postJson } from "./http";
import { Album } from "./pages/album";
import { Home } from "./pages/home";
import { Search } from "./pages/search";
import { SignIn } from "./pages/sign-in";
import { Stats } from "./pages/stats";

type View = { name: "home" } | { name: "search" } | { name: "album"; albumId: string } | { name: "stats" };

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
