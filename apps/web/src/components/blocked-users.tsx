// The users whose invitations the user no longer receives: block one by name, unblock. Blocked users are not told.
import { useEffect, useState } from "react";
import type { BlockedUser } from "@soundmesh/protocol";
import type { Connection } from "../connection";
import { playlistContract } from "@soundmesh/protocol";

export function BlockedUsers({ connection }: { connection: Connection }) {
  const [blocked, setBlocked] = useState<BlockedUser[]>();
  const [error, setError] = useState("");
  const load = () =>
    void connection.call(playlistContract, "blockedUsers", {}).then(
      (found) => {
        setBlocked(found);
        setError("");
      },
      (e: Error) => setError(`Could not load the blocked users: ${e.message}`),
    );
  useEffect(load, [connection]);
  const call = (request: Promise<unknown>) => request.then(load, (e: Error) => setError(e.message));
  return (
    <>
      <p className="muted">
        Invitations to collaborate from a blocked user never reach you; they are not told, and to them the
        invitation just goes unanswered.
      </p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const userName = ((new FormData(form).get("userName") as string | null) ?? "").trim();
          if (userName)
            void call(connection.call(playlistContract, "block", { userName })).then(() => form.reset());
        }}
      >
        <input name="userName" aria-label="User name to block" placeholder="User name" maxLength={64} />
        <button className="secondary" type="submit">
          Block
        </button>
      </form>
      {error && <p className="error">{error}</p>}
      {blocked?.length === 0 && <p className="muted">You block no one.</p>}
      <ul className="invitation-list" aria-label="Blocked users">
        {blocked?.map((user) => (
          <li key={user.id}>
            <span>{user.name}</span>
            <button
              className="secondary"
              onClick={() => void call(connection.call(playlistContract, "unblock", { userId: user.id }))}
            >
              Unblock {user.name}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
