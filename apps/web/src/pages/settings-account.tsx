// The account part of Settings: API tokens (made with an optional expiry, shown once with a copy button, listed,
// revoked), the password change, and signing out everywhere — both keeping only the API tokens the user ticks.
import { useCallback, useEffect, useState } from "react";
import type { ApiTokenInfo } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import { userContract } from "@soundmesh/protocol";

const EXPIRY_CHOICES: Array<[string, string]> = [
  ["", "Never"],
  ["30", "30 days"],
  ["90", "90 days"],
  ["365", "1 year"],
];

/** A text field of a submitted form ("" when absent). */
function field(data: FormData, name: string): string {
  const value = data.get(name);
  return typeof value === "string" ? value : "";
}

const day = (ms: number | null) => (ms === null ? "—" : new Date(ms).toLocaleDateString());

function NewToken({ token }: { token: string }) {
  const [copied, setCopied] = useState("");
  const copy = () =>
    void navigator.clipboard.writeText(token).then(
      () => setCopied("Copied."),
      () => setCopied("Copying is not allowed here: select the token and copy it by hand."),
    );
  return (
    <div className="new-token" role="status">
      <p>Copy the new token now: it is not shown again.</p>
      <code data-testid="new-token">{token}</code>{" "}
      <button className="secondary" type="button" onClick={copy}>
        Copy
      </button>
      {copied && <p className="muted">{copied}</p>}
    </div>
  );
}

function ApiTokens({
  tokens,
  connection,
  reload,
}: {
  tokens: ApiTokenInfo[];
  connection: Connection;
  reload: () => void;
}) {
  const [created, setCreated] = useState<string>();
  const [message, setMessage] = useState("");
  const create = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const days = field(data, "expiresInDays");
    const params = {
      label: field(data, "label"),
      ...(days ? { expiresInDays: Number(days) } : {}),
    };
    try {
      const result = await connection.call(userContract, "createApiToken", params);
      setCreated(result.token);
      setMessage("");
      form.reset();
      reload();
    } catch (error) {
      setMessage((error as Error).message);
    }
  };
  const revoke = (token: ApiTokenInfo) =>
    void connection.call(userContract, "revokeApiToken", { id: token.id }).then(
      () => {
        setMessage(`Revoked ${token.label}.`);
        reload();
      },
      (error: Error) => setMessage(error.message),
    );
  return (
    <>
      <h3>API tokens</h3>
      <p className="muted">
        For scripts and other apps: send one as <code>Authorization: Bearer …</code>. A token works until you
        revoke it, until its expiry, or until your password changes or you sign out everywhere without keeping
        it.
      </p>
      {tokens.length > 0 && (
        <table className="table" aria-label="API tokens">
          <thead>
            <tr>
              <th>Label</th>
              <th>Created</th>
              <th>Last used</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => (
              <tr key={token.id} data-token-id={token.id}>
                <td>{token.label}</td>
                <td>{day(token.createdAt)}</td>
                <td>{token.lastUsedAt === null ? "never" : day(token.lastUsedAt)}</td>
                <td>{token.expiresAt === null ? "never" : day(token.expiresAt)}</td>
                <td>
                  <button className="secondary" onClick={() => revoke(token)}>
                    Revoke {token.label}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void create(e.currentTarget);
        }}
      >
        <input name="label" aria-label="Token label" placeholder="Label" maxLength={100} required />
        <select name="expiresInDays" aria-label="Token expiry" defaultValue="90">
          {EXPIRY_CHOICES.map(([value, label]) => (
            <option key={value} value={value}>
              Expires: {label}
            </option>
          ))}
        </select>
        <button className="secondary" type="submit">
          Create token
        </button>
      </form>
      {created && <NewToken token={created} />}
      {message && <p role="status">{message}</p>}
    </>
  );
}

/** The tokens to keep through a password change or signing out everywhere; none is kept unless ticked. */
function KeepTokens({
  tokens,
  keep,
  setKeep,
}: {
  tokens: ApiTokenInfo[];
  keep: Set<string>;
  setKeep: (keep: Set<string>) => void;
}) {
  if (tokens.length === 0) return null;
  return (
    <fieldset className="keep-tokens">
      <legend>API tokens to keep (the others end)</legend>
      {tokens.map((token) => (
        <label key={token.id}>
          <input
            type="checkbox"
            checked={keep.has(token.id)}
            onChange={(e) => {
              const next = new Set(keep);
              if (e.target.checked) next.add(token.id);
              else next.delete(token.id);
              setKeep(next);
            }}
          />{" "}
          Keep {token.label}
        </label>
      ))}
    </fieldset>
  );
}

function PasswordAndSessions({
  tokens,
  connection,
  reload,
}: {
  tokens: ApiTokenInfo[];
  connection: Connection;
  reload: () => void;
}) {
  const [keep, setKeep] = useState(new Set<string>());
  const [message, setMessage] = useState("");
  const keepApiTokenIds = tokens.filter((token) => keep.has(token.id)).map((token) => token.id);
  const change = async (form: HTMLFormElement) => {
    const data = new FormData(form);
    const [oldPassword = "", newPassword = "", repeated] = ["old", "new", "repeat"].map((k) =>
      field(data, k),
    );
    if (newPassword !== repeated) return setMessage("The new password and its repetition differ.");
    try {
      await connection.call(userContract, "changePassword", { oldPassword, newPassword, keepApiTokenIds });
      setMessage("Password changed. Your other sessions have ended.");
      form.reset();
      reload();
    } catch (error) {
      setMessage((error as Error).message);
    }
  };
  // This session ends too: the socket closes with "signed out" and the app shows the sign-in form.
  const signOutEverywhere = () =>
    void connection
      .call(userContract, "revokeAllSessions", { keepApiTokenIds })
      .catch((error: Error) => setMessage(error.message));
  return (
    <>
      <h3>Password and sessions</h3>
      <KeepTokens tokens={tokens} keep={keep} setKeep={setKeep} />
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void change(e.currentTarget);
        }}
      >
        <input
          name="old"
          type="password"
          aria-label="Current password"
          placeholder="Current password"
          required
        />
        <input
          name="new"
          type="password"
          aria-label="New password"
          placeholder="New password (8+)"
          autoComplete="new-password"
          minLength={8}
          required
        />
        <input
          name="repeat"
          type="password"
          aria-label="New password again"
          placeholder="New password again"
          autoComplete="new-password"
          minLength={8}
          required
        />
        <button className="secondary" type="submit">
          Change password
        </button>
      </form>
      <p className="muted">Signing out everywhere ends every session of yours, this one included.</p>
      <button className="secondary" onClick={signOutEverywhere}>
        Sign out everywhere
      </button>
      {message && <p role="status">{message}</p>}
    </>
  );
}

export function AccountSettings({ connection }: { connection: Connection }) {
  const [tokens, setTokens] = useState<ApiTokenInfo[]>([]);
  const [error, setError] = useState("");
  const reload = useCallback(
    () =>
      void connection.call(userContract, "listApiTokens", {}).then(
        (list) => {
          setTokens(list);
          setError("");
        },
        (e: Error) => setError(e.message),
      ),
    [connection],
  );
  useEffect(reload, [reload]);
  return (
    <div className="account-settings">
      {error && <p className="error">{error}</p>}
      <ApiTokens tokens={tokens} connection={connection} reload={reload} />
      <PasswordAndSessions tokens={tokens} connection={connection} reload={reload} />
    </div>
  );
}
