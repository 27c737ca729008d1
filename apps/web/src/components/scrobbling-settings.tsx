// Settings → Scrobbling: connect ListenBrainz (a user token) and Last.fm (sign in on Last.fm, then finish here), turn
// each on or off, and see each sink's state: queued, dead letters (with a retry), the last error and delivery.
import { useCallback, useEffect, useState } from "react";
import { eventsContract, type ScrobbleSinkName, type ScrobbleSinkStatus } from "@soundmesh/protocol";
import type { Connection } from "../connection";

const NAMES: Record<ScrobbleSinkName, string> = { listenbrainz: "ListenBrainz", lastfm: "Last.fm" };
const STATES: Record<ScrobbleSinkStatus["state"], string> = {
  off: "not connected",
  ok: "connected",
  bad_token: "the service refused the token: connect again",
  awaiting_approval: "waiting for your approval on Last.fm",
};

function SinkStatus({ status }: { status: ScrobbleSinkStatus }) {
  return (
    <p className="muted" data-testid={`scrobble-status-${status.sink}`}>
      {STATES[status.state]}
      {status.username ? ` as ${status.username}` : ""}
      {status.state !== "off" && ` · ${status.enabled ? "on" : "off"}`} · queued {status.queued} · dead
      letters {status.dead}
      {status.lastDeliveredAt !== null && ` · last sent ${new Date(status.lastDeliveredAt).toLocaleString()}`}
      {status.lastError && ` · last error: ${status.lastError}`}
    </p>
  );
}

export function ScrobblingSettings({ connection }: { connection: Connection }) {
  const [statuses, setStatuses] = useState<ScrobbleSinkStatus[]>([]);
  const [token, setToken] = useState("");
  const [authUrl, setAuthUrl] = useState<string>();
  const [message, setMessage] = useState("");
  const reload = useCallback(
    () =>
      void connection
        .call(eventsContract, "scrobbleStatus", {})
        .then(setStatuses, (error: Error) => setMessage(error.message)),
    [connection],
  );
  useEffect(reload, [reload]);
  const act = (send: () => Promise<unknown>, done?: string) =>
    void send().then(
      () => {
        setMessage(done ?? "");
        reload();
      },
      (error: Error) => setMessage(error.message),
    );
  const of = (sink: ScrobbleSinkName) => statuses.find((status) => status.sink === sink);
  const toggles = (status: ScrobbleSinkStatus | undefined) =>
    status &&
    status.state !== "off" &&
    status.state !== "awaiting_approval" && (
      <>
        <button
          className="secondary"
          type="button"
          onClick={() =>
            act(() =>
              connection.call(eventsContract, "setScrobbling", {
                sink: status.sink,
                enabled: !status.enabled,
              }),
            )
          }
        >
          {status.enabled ? "Turn off" : "Turn on"}
        </button>{" "}
        <button
          className="secondary"
          type="button"
          onClick={() =>
            act(() =>
              connection.call(eventsContract, "setScrobbling", {
                sink: status.sink,
                enabled: false,
                disconnect: true,
              }),
            )
          }
        >
          Disconnect
        </button>{" "}
        {status.dead > 0 && (
          <button
            className="secondary"
            type="button"
            onClick={() =>
              act(
                () => connection.call(eventsContract, "retryDeadScrobbles", { sink: status.sink }),
                "The dead letters are queued again.",
              )
            }
          >
            Retry dead letters
          </button>
        )}
      </>
    );
  const listenBrainz = of("listenbrainz");
  const lastFm = of("lastfm");
  return (
    <div className="scrobbling">
      <p className="muted">
        Off unless you connect an account. A play is sent when half the track or four minutes was heard (the
        rule of the play counts); a track starting is sent as "now playing".
      </p>
      <h4>{NAMES.listenbrainz}</h4>
      {listenBrainz && <SinkStatus status={listenBrainz} />}
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          act(
            () => connection.call(eventsContract, "setListenBrainzToken", { token }),
            "ListenBrainz is connected.",
          );
          setToken("");
        }}
      >
        <label>
          User token{" "}
          <input
            aria-label="ListenBrainz user token"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            autoComplete="off"
          />
        </label>
        <button className="secondary" type="submit" disabled={token.trim() === ""}>
          Connect
        </button>
      </form>
      {toggles(listenBrainz)}
      <h4>{NAMES.lastfm}</h4>
      {lastFm && <SinkStatus status={lastFm} />}
      {lastFm && !lastFm.available ? (
        <p className="muted">This server has no Last.fm API key: ask its administrator.</p>
      ) : (
        <>
          <button
            className="secondary"
            type="button"
            onClick={() =>
              void connection.call(eventsContract, "lastFmAuthStart", {}).then(
                (result) => {
                  setAuthUrl(result.authUrl);
                  reload();
                },
                (error: Error) => setMessage(error.message),
              )
            }
          >
            Sign in with Last.fm
          </button>{" "}
          {(authUrl || lastFm?.state === "awaiting_approval") && (
            <button
              className="secondary"
              type="button"
              onClick={() =>
                act(() => connection.call(eventsContract, "lastFmAuthFinish", {}), "Last.fm is connected.")
              }
            >
              I approved it: finish
            </button>
          )}
          {authUrl && (
            <p>
              Approve soundmesh on{" "}
              <a href={authUrl} target="_blank" rel="noreferrer">
                Last.fm
              </a>
              , then press Finish.
            </p>
          )}
          {toggles(lastFm)}
        </>
      )}
      {message && <p role="status">{message}</p>}
    </div>
  );
}
