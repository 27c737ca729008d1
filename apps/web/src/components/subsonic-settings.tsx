// Settings › Subsonic apps: the server address to put into a Subsonic app (Symfonium, DSub, Feishin…), and the
// Subsonic password those apps sign in with, kept apart from the login password: set, replaced or removed.
import { useCallback, useEffect, useState } from "react";
import { userContract } from "@soundmesh/protocol";
import type { Connection } from "../connection";

export function SubsonicSettings({ connection }: { connection: Connection }) {
  const [status, setStatus] = useState<{ isSet: boolean; updatedAt: number | null }>();
  const [message, setMessage] = useState("");
  const reload = useCallback(
    () =>
      void connection
        .call(userContract, "subsonicPasswordStatus", {})
        .then(setStatus, (error: Error) => setMessage(error.message)),
    [connection],
  );
  useEffect(reload, [reload]);
  const save = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const text = (name: string) => {
      const value = data.get(name);
      return typeof value === "string" ? value : "";
    };
    const password = text("password");
    if (password !== text("repeat")) return setMessage("The two passwords differ.");
    try {
      await connection.call(userContract, "setMySubsonicPassword", { password });
      setMessage("Subsonic password saved. Apps sign in with it from now on.");
      form.reset();
      reload();
    } catch (error) {
      setMessage((error as Error).message);
    }
  };
  const clear = () =>
    void connection.call(userContract, "setMySubsonicPassword", { password: null }).then(
      () => {
        setMessage("Subsonic password removed: apps can no longer sign in with it.");
        reload();
      },
      (error: Error) => setMessage(error.message),
    );
  return (
    <div className="subsonic-settings">
      <p>
        Server address for Subsonic apps: <code data-testid="subsonic-server-url">{location.origin}</code>
      </p>
      <p className="muted" data-testid="subsonic-password-status">
        {status === undefined
          ? "…"
          : status.isSet
            ? `A Subsonic password is set${status.updatedAt === null ? "" : ` (since ${new Date(status.updatedAt).toLocaleDateString()})`}.`
            : "No Subsonic password is set: apps cannot sign in as you."}
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save(e.currentTarget);
        }}
      >
        <input
          name="password"
          type="password"
          aria-label="Subsonic password"
          placeholder="Subsonic password (8+)"
          autoComplete="new-password"
          minLength={8}
          maxLength={128}
          required
        />
        <input
          name="repeat"
          type="password"
          aria-label="Subsonic password again"
          placeholder="Again"
          autoComplete="new-password"
          minLength={8}
          maxLength={128}
          required
        />
        <button className="secondary" type="submit">
          Save Subsonic password
        </button>
      </form>
      {status?.isSet && (
        <button className="secondary" type="button" onClick={clear}>
          Remove Subsonic password
        </button>
      )}
      {message && <p role="status">{message}</p>}
    </div>
  );
}
