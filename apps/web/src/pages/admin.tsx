// The admin area: users (create, disable, role), the library folders, scans with live progress and errors, and
// transcoding ahead of time (so plays start from a ready rendition) with live progress.
import { Suspense, lazy, useEffect, useState } from "react";
import { JobsPanel } from "../components/jobs-panel";
import type { ScanStatus, TranscodeStatus, UserRecord } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import { catalogContract, pushTopics, storageContract, userContract } from "@soundmesh/protocol";

// Cytoscape.js is large: only the admin page loads it, in a chunk of its own.
const TopologyPanel = lazy(() => import("./topology").then((module) => ({ default: module.TopologyPanel })));

function Users({ connection, me }: { connection: Connection; me: UserRecord }) {
  const [users, setUsers] = useState<UserRecord[]>([]);
  const [message, setMessage] = useState("");
  const load = () =>
    void connection.call(userContract, "listUsers", {}).then(setUsers, (e: Error) => setMessage(e.message));
  useEffect(load, [connection]);
  const act = (request: Promise<unknown>, done: string) =>
    request.then(
      () => {
        setMessage(done);
        load();
      },
      (e: Error) => setMessage(e.message),
    );
  return (
    <>
      <h3>Users</h3>
      <table className="table">
        <tbody>
          {users.map((u) => (
            <tr key={u.id}>
              <td>{u.name}</td>
              <td>
                <select
                  aria-label={`Role of ${u.name}`}
                  value={u.role}
                  disabled={u.id === me.id}
                  onChange={(e) =>
                    void act(
                      connection.call(userContract, "setRole", {
                        name: u.name,
                        role: e.target.value === "admin" ? "admin" : "user",
                      }),
                      `${u.name} is now ${e.target.value}.`,
                    )
                  }
                >
                  <option value="user">user</option>
                  <option value="admin">admin</option>
                </select>
              </td>
              <td>
                <button
                  className="secondary"
                  disabled={u.id === me.id}
                  onClick={() =>
                    void act(
                      connection.call(userContract, "setDisabled", { name: u.name, disabled: !u.disabled }),
                      `${u.name} ${u.disabled ? "enabled" : "disabled"}.`,
                    )
                  }
                >
                  {u.disabled ? "Enable" : "Disable"}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const data = Object.fromEntries(new FormData(form)) as Record<string, string>;
          const created = connection.call(userContract, "createUser", {
            name: data.name ?? "",
            password: data.password ?? "",
            role: data.role === "admin" ? "admin" : "user",
          });
          void act(created, `Created ${data.name}.`).then(() => form.reset());
        }}
      >
        <input name="name" aria-label="New user's name" placeholder="Name" required />
        <input
          name="password"
          aria-label="New user's password"
          placeholder="Password (8+)"
          type="password"
          minLength={8}
          required
        />
        <select name="role" aria-label="New user's role" defaultValue="user">
          <option value="user">user</option>
          <option value="admin">admin</option>
        </select>
        <button className="secondary" type="submit">
          Add user
        </button>
      </form>
      {message && <p role="status">{message}</p>}
    </>
  );
}

const SCAN_STARTED = ["Scan started.", "Full scan started."];

function Library({ connection }: { connection: Connection }) {
  const [folders, setFolders] = useState<string[]>([]);
  const [status, setStatus] = useState<ScanStatus>();
  const [errors, setErrors] = useState<Array<{ path: string; reason: string }>>([]);
  const [message, setMessage] = useState("");
  useEffect(() => {
    const failed = (e: Error) => setMessage(e.message);
    const loadErrors = () =>
      void connection
        .call(catalogContract, "scanErrors", { limit: 50 })
        .then((r) => setErrors(r.items), failed);
    void connection.call(catalogContract, "libraryFolders", {}).then(setFolders, failed);
    void connection.call(catalogContract, "scanStatus", {}).then(setStatus, failed);
    loadErrors();
    const off = connection.subscribe(pushTopics.scanProgress, (data) => {
      const next = data;
      setStatus(next);
      if (next.running) return;
      loadErrors();
      // "Scan started." is old news once it has ended; an error message stays.
      setMessage((shown) => (SCAN_STARTED.includes(shown) ? "" : shown));
    });
    return off;
  }, [connection]);
  const scan = (full: boolean, allowMassRemoval = false) =>
    void connection.call(catalogContract, "scan", { full, allowMassRemoval }).then(
      () => setMessage(SCAN_STARTED[full ? 1 : 0]!),
      (e: Error) => setMessage(e.message),
    );
  const problem = status && !status.running ? status.problem : null;
  const pct = status && status.total > 0 ? Math.round((status.done / status.total) * 100) : 0;
  return (
    <>
      <h3>Library folders</h3>
      <ul>
        {folders.map((f) => (
          <li key={f}>
            <code>{f}</code>
          </li>
        ))}
      </ul>
      <p className="muted">
        Folders are recorded on the first run and watched for changes; another folder needs --add-library or
        --replace-library.
      </p>
      <h3>Scan</h3>
      <div className="actions">
        <button className="primary" disabled={status?.running} onClick={() => scan(false)}>
          Scan for changes
        </button>
        <button className="secondary" disabled={status?.running} onClick={() => scan(true)}>
          Full rescan
        </button>
      </div>
      {status && (
        <div className="scan-status" data-testid="scan-status" data-running={status.running}>
          <progress max={100} value={status.running ? pct : 100} />
          <p>
            {status.running ? `${status.phase}: ${status.done} of ${status.total} files` : "Idle"} · added{" "}
            {status.added} · updated {status.updated} · removed {status.removed} · errors {status.errors}
          </p>
        </div>
      )}
      {problem && (
        <div className="scan-problem" data-testid="scan-problem" data-code={problem.code}>
          <p className="error">The last scan stopped and removed nothing: {problem.message}</p>
          {problem.canConfirm && (
            <button className="danger" onClick={() => scan(false, true)}>
              {problem.wouldRemove === null
                ? "Scan and remove what is gone"
                : `Remove ${problem.wouldRemove} tracks that are gone`}
            </button>
          )}
        </div>
      )}
      {message && <p role="status">{message}</p>}
      {errors.length > 0 && (
        <>
          <h3>Files that could not be read</h3>
          <ul className="scan-errors">
            {errors.map((e) => (
              <li key={e.path}>
                <code>{e.path}</code> <span className="muted">{e.reason}</span>
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

/** Transcoding ahead: the newest tracks or the whole library, in the profiles the server makes ahead. */
function TranscodeAhead({ connection }: { connection: Connection }) {
  const [status, setStatus] = useState<TranscodeStatus>();
  const [message, setMessage] = useState("");
  useEffect(() => {
    void connection
      .call(storageContract, "transcodeStatus", {})
      .then(setStatus, (e: Error) => setMessage(e.message));
    return connection.subscribe(pushTopics.transcodeProgress, (data) => setStatus(data));
  }, [connection]);
  const start = (tracks: number) =>
    void connection.call(storageContract, "transcodeAhead", { tracks }).then(
      (next) => {
        setStatus(next);
        setMessage(next.working ? "" : "Everything asked for is ready.");
      },
      (e: Error) => setMessage(e.message),
    );
  const finished = status ? status.done + status.failed : 0;
  return (
    <>
      <h3>Transcode ahead</h3>
      <p className="muted">
        Tracks are made ready in the background so they start at once. The rendition cache keeps the most
        recently played within its size cap.
      </p>
      <div className="actions">
        <button className="secondary" disabled={status?.working} onClick={() => start(500)}>
          Newest 500 tracks
        </button>
        <button className="secondary" disabled={status?.working} onClick={() => start(1_000_000)}>
          Whole library
        </button>
      </div>
      {status && status.total > 0 && (
        <div className="scan-status" data-testid="transcode-status" data-working={status.working}>
          <progress max={status.total} value={finished} />
          <p>
            {status.working ? "Transcoding" : "Done"}: {status.done} of {status.total} ready
            {status.failed > 0 ? ` · ${status.failed} could not be transcoded` : ""}
          </p>
        </div>
      )}
      {message && <p role="status">{message}</p>}
    </>
  );
}

export function Admin({ connection, me }: { connection: Connection; me: UserRecord }) {
  if (me.role !== "admin") return <p className="error">Only administrators can see this page.</p>;
  return (
    <section className="admin">
      <h2>Administration</h2>
      <Users connection={connection} me={me} />
      <Library connection={connection} />
      <TranscodeAhead connection={connection} />
      <JobsPanel connection={connection} />
      <Suspense fallback={<p>Loading the topology…</p>}>
        <TopologyPanel connection={connection} />
      </Suspense>
    </section>
  );
}
