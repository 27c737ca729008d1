// The web player's shell: who is signed in (or offline), the connection, navigation between pages, the player bar.
import { useCallback, useEffect, useMemo, useState } from "react";
import type { UserRecord } from "@soundmesh/protocol";
import { AudioController } from "./audio";
import { OfflineList } from "./components/offline-list";
import { PlayerBar } from "./components/player-bar";
import { openConnection, type Connection, type ConnectionState } from "./connection";
import { EventOutbox } from "./event-outbox";
import { saveQueueOnChange } from "./queue-sync";
import { postJson } from "./http";
import { useKeyboardShortcuts } from "./keyboard";
import { Admin } from "./pages/admin";
import { Album } from "./pages/album";
import { Albums } from "./pages/albums";
import { Artist } from "./pages/artist";
import { Artists } from "./pages/artists";
import { Genre, Genres } from "./pages/genres";
import { Home } from "./pages/home";
import { Playlist } from "./pages/playlist";
import { Playlists } from "./pages/playlists";
import { Queue } from "./pages/queue";
import { Similar } from "./pages/similar";
import { RadioNotice } from "./components/radio-items";
import { Radio, RadioContext } from "./radio";
import { Search } from "./pages/search";
import { Settings } from "./pages/settings";
import { SignIn } from "./pages/sign-in";
import { Stats } from "./pages/stats";
import { openBrowserSession } from "./p2p";
import { YourMusic } from "./pages/your-music";
import { followPinnedPlaylists } from "./pinned-playlists";
import { navigate, useRoute, type Route } from "./route";
import { settings } from "./settings";
import { eventsContract } from "@soundmesh/protocol";

type Session =
  | { kind: "loading" }
  | { kind: "signed-out"; reason: string }
  | { kind: "online"; user: UserRecord }
  /** The server cannot be reached but someone signed in here before: pinned music still plays. */
  | { kind: "offline"; user: UserRecord };

async function loadSession(): Promise<Session> {
  try {
    const response = await fetch("/api/me");
    if (response.ok) {
      const user = (await response.json()) as UserRecord;
      settings.setLastUser(user);
      return { kind: "online", user };
    }
    if (response.status === 401) return { kind: "signed-out", reason: "" };
  } catch {
    // No answer at all: offline, or the server is down.
  }
  const user = settings.lastUser();
  return user
    ? { kind: "offline", user }
    : { kind: "signed-out", reason: "The server cannot be reached. Check your connection and try again." };
}

function Page({
  route,
  connection,
  audio,
  user,
}: {
  route: Route;
  connection: Connection;
  audio: AudioController;
  user: UserRecord;
}) {
  switch (route.name) {
    case "home":
      return <Home connection={connection} />;
    case "search":
      return <Search connection={connection} audio={audio} />;
    case "artists":
      return <Artists connection={connection} />;
    case "albums":
      return <Albums connection={connection} />;
    case "album":
      return <Album connection={connection} albumId={route.id} audio={audio} />;
    case "artist":
      return <Artist connection={connection} artistId={route.id} />;
    case "genres":
      return <Genres connection={connection} />;
    case "genre":
      return <Genre connection={connection} genre={route.id} />;
    case "queue":
      return <Queue audio={audio} connection={connection} />;
    case "stats":
      return <Stats audio={audio} />;
    case "music":
      return <YourMusic connection={connection} audio={audio} />;
    case "settings":
      return <Settings audio={audio} connection={connection} />;
    case "admin":
      return <Admin connection={connection} me={user} />;
    case "playlists":
      return <Playlists connection={connection} />;
    case "similar":
      return <Similar connection={connection} audio={audio} trackId={route.id} />;
    case "playlist":
      return <Playlist connection={connection} playlistId={route.id} audio={audio} userId={user.id} />;
  }
}

const NAV: Array<[Route["name"], string]> = [
  ["home", "Home"],
  ["search", "Search"],
  ["artists", "Artists"],
  ["albums", "Albums"],
  ["genres", "Genres"],
  ["playlists", "Playlists"],
  ["music", "Your music"],
  ["queue", "Queue"],
  ["settings", "Settings"],
  ["stats", "Stats for nerds"],
];

export function App() {
  const [session, setSession] = useState<Session>({ kind: "loading" });
  const [connectionState, setConnectionState] = useState<ConnectionState>("connecting");
  const route = useRoute();
  const refresh = useCallback(() => void loadSession().then(setSession), []);
  useEffect(refresh, [refresh]);
  const user = session.kind === "online" || session.kind === "offline" ? session.user : undefined;
  const userId = user?.id;
  // One socket per signed-in user; it reconnects with back-off by itself, also when we start offline.
  const connection = useMemo(() => (userId ? openConnection(setConnectionState) : undefined), [userId]);
  useEffect(() => () => void connection?.close(), [connection]);
  const [audio, setAudio] = useState<AudioController>();
  useEffect(() => {
    if (userId && !audio) void AudioController.create().then(setAudio);
  }, [userId, audio]);
  const [outbox, setOutbox] = useState<EventOutbox>();
  useEffect(() => {
    // Listening events wait in IndexedDB until the server has them; without IndexedDB they are not kept.
    if (userId && !outbox) void EventOutbox.open().then(setOutbox, () => undefined);
  }, [userId, outbox]);
  useEffect(() => {
    if (audio && outbox) audio.onListeningEvent = (event) => void outbox.record(event);
  }, [audio, outbox]);
  useEffect(() => {
    if (!outbox || !connection || connectionState !== "open" || connection.state !== "open") return;
    outbox.setSender({ submit: (events) => connection.call(eventsContract, "submit", { events }) });
    return () => outbox.setSender(undefined);
  }, [outbox, connection, connectionState]);
  useEffect(() => {
    // The queue is saved on the server while connected, for another device to resume.
    if (!audio || !connection || connectionState !== "open" || connection.state !== "open") return;
    return saveQueueOnChange(connection, audio);
  }, [audio, connection, connectionState]);
  useEffect(() => {
    // Peer-assisted streaming needs the socket's pseudonym: (re)started whenever the socket opens.
    if (!audio || !connection || connectionState !== "open" || connection.state !== "open") return;
    const session = openBrowserSession(
      audio.engine,
      connection,
      audio.cacheIndex.list().map((entry) => entry.key),
    );
    return () => session?.close();
  }, [audio, connection, connectionState]);
  useEffect(() => {
    // Pinned playlists follow their edits while the socket is open; each opening catches up on what was missed.
    if (!audio || !connection || connectionState !== "open" || connection.state !== "open") return;
    return followPinnedPlaylists(connection, audio.offline);
  }, [audio, connection, connectionState]);
  const signOut = useCallback(
    (reason: string) => {
      audio?.audio.pause();
      setSession({ kind: "signed-out", reason });
    },
    [audio],
  );
  useEffect(() => {
    if (audio) audio.onSignedOut = () => signOut("Your session has ended: sign in again.");
  }, [audio, signOut]);
  useEffect(() => {
    // The state of this user's connection (a previous user's socket may have ended signed out).
    if (!connection || connectionState !== connection.state) return;
    if (connectionState === "signed-out") signOut("Your session has ended: sign in again.");
    // Back online: confirm the session and leave offline mode.
    if (connectionState === "open" && session.kind === "offline") refresh();
  }, [connection, connectionState, session.kind, refresh, signOut]);
  useKeyboardShortcuts(audio);
  // One radio per session: it follows the queue it started and asks for more over this connection.
  const radio = useMemo(
    () => (connection && audio ? new Radio(connection, audio) : undefined),
    [connection, audio],
  );
  useEffect(() => () => radio?.close(), [radio]);

  if (session.kind === "loading") return <div className="center">Loading…</div>;
  if (session.kind === "signed-out" || !user)
    return <SignIn onSignedIn={refresh} reason={session.kind === "signed-out" ? session.reason : ""} />;
  // Signed in, while the socket and the client cache open: never the sign-in form.
  if (!connection || !audio) return <div className="center">Loading…</div>;

  const logOut = async () => {
    // Signing out works offline too: this browser forgets the user; the session expires on the server.
    await postJson("/api/logout", {}).catch(() => undefined);
    settings.setLastUser(undefined);
    signOut("");
  };
  const offline = session.kind === "offline";
  return (
    <RadioContext.Provider value={radio}>
      <div className="app">
        <nav className="sidebar">
          <h1>soundmesh</h1>
          {NAV.map(([name, label]) => (
            <button key={name} onClick={() => navigate({ name } as Route)} aria-current={route.name === name}>
              {label}
            </button>
          ))}
          {user.role === "admin" && (
            <button onClick={() => navigate({ name: "admin" })} aria-current={route.name === "admin"}>
              Admin
            </button>
          )}
          <p className="muted who">{user.name}</p>
          <button onClick={() => void logOut()}>Sign out</button>
        </nav>
        <main>
          {offline ? (
            <div className="banner" role="status">
              Offline: music you made available offline still plays. Reconnecting…
            </div>
          ) : (
            connectionState === "reconnecting" && (
              <div className="banner" role="status">
                Connection lost: reconnecting…
              </div>
            )
          )}
          <RadioNotice />
          {offline && !["queue", "stats", "settings"].includes(route.name) ? (
            <section>
              <h2>Available offline</h2>
              <OfflineList audio={audio} />
            </section>
          ) : (
            <Page route={route} connection={connection} audio={audio} user={user} />
          )}
        </main>
        <PlayerBar audio={audio} />
      </div>
    </RadioContext.Provider>
  );
}
