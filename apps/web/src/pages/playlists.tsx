// The user's playlists (owned, collaborating, followed) and the invitations waiting for them; making one by hand,
// from rules (smart) or from a file.
import { useEffect, useState } from "react";
import {
  pushTopics,
  type PlaylistInfo,
  type ReceivedInvitation,
  type SmartRules,
  playlistContract,
} from "@soundmesh/protocol";
import { ImportPlaylist } from "../components/import-playlist";
import { ReceivedInvitations } from "../components/invitations";
import { SmartRulesForm } from "../components/smart-rules";
import type { Connection } from "../connection";
import { hrefOf, navigate } from "../route";

export function Playlists({ connection }: { connection: Connection }) {
  const [playlists, setPlaylists] = useState<PlaylistInfo[]>();
  const [invitations, setInvitations] = useState<ReceivedInvitation[]>([]);
  const [error, setError] = useState("");
  const [isMakingSmart, setMakingSmart] = useState(false);
  const [loads, setLoads] = useState(0);
  const reload = () => setLoads((n) => n + 1);
  useEffect(() => {
    const load = () => {
      void connection
        .call(playlistContract, "list", {})
        .then(setPlaylists, (e: Error) => setError(e.message));
      void connection
        .call(playlistContract, "receivedInvitations", {})
        .then(setInvitations, (e: Error) => setError(e.message));
    };
    load();
    // Made, invited, joined, handed over, followed or deleted elsewhere: the lists follow.
    return connection.subscribe(pushTopics.myPlaylists, load);
  }, [connection, loads]);
  const create = (name: string) =>
    connection.call(playlistContract, "create", { name }).then(
      (s) => navigate({ name: "playlist", id: s.playlist.id }),
      (e: Error) => setError(e.message),
    );
  const createSmart = (rules: SmartRules, name: string) =>
    connection.call(playlistContract, "createSmart", { name, rules }).then(
      (s) => navigate({ name: "playlist", id: s.playlist.id }),
      (e: Error) => setError(e.message),
    );
  return (
    <section>
      <h2>Playlists</h2>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const name = ((new FormData(e.currentTarget).get("name") as string | null) ?? "").trim();
          if (name) void create(name);
        }}
      >
        <input
          name="name"
          aria-label="New playlist name"
          placeholder="New playlist"
          required
          maxLength={200}
        />
        <button className="secondary" type="submit">
          Create
        </button>
      </form>
      <div className="actions">
        <button
          className="secondary"
          aria-expanded={isMakingSmart}
          onClick={() => setMakingSmart(!isMakingSmart)}
        >
          New smart playlist
        </button>
        <ImportPlaylist connection={connection} />
      </div>
      {isMakingSmart && (
        <SmartRulesForm
          connection={connection}
          withName
          submitLabel="Create smart playlist"
          onSubmit={(rules, name) => void createSmart(rules, name)}
          onCancel={() => setMakingSmart(false)}
        />
      )}
      {error && <p className="error">{error}</p>}
      <ReceivedInvitations
        connection={connection}
        invitations={invitations}
        onAnswered={reload}
        onError={setError}
      />
      {playlists?.length === 0 && <p className="muted">No playlists yet.</p>}
      <ul className="playlist-list">
        {playlists?.map((p) => (
          <li key={p.id}>
            <a className="chip" href={hrefOf({ name: "playlist", id: p.id })}>
              <strong>{p.name}</strong>
              <small className="muted">
                {p.itemCount} songs · {p.smartRules ? "smart · " : ""}
                {p.access.role}
                {p.isCollaborative ? " · collaborative" : ""}
              </small>
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}
