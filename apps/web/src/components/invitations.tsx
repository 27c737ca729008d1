// Invitations to collaborate waiting for the user: accept (the playlist joins their list), decline, or block the
// sender (their invitations stop arriving; they are not told).
import { playlistContract, type ReceivedInvitation } from "@soundmesh/protocol";
import type { Connection } from "../connection";

export function ReceivedInvitations({
  connection,
  invitations,
  onAnswered,
  onError,
}: {
  connection: Connection;
  invitations: readonly ReceivedInvitation[];
  onAnswered: () => void;
  onError: (message: string) => void;
}) {
  if (invitations.length === 0) return null;
  const answer = (request: () => Promise<unknown>) =>
    void request().then(onAnswered, (e: Error) => onError(e.message));
  return (
    <>
      <h3>Invitations</h3>
      <ul className="invitation-list" aria-label="Invitations">
        {invitations.map((invitation) => (
          <li key={invitation.playlistId}>
            <span>
              <strong>{invitation.from.name}</strong> invites you to collaborate on{" "}
              <strong>{invitation.playlistName}</strong>
            </span>
            <button
              className="secondary"
              onClick={() =>
                answer(() =>
                  connection.call(playlistContract, "acceptInvitation", {
                    playlistId: invitation.playlistId,
                  }),
                )
              }
            >
              Accept
            </button>
            <button
              className="secondary"
              onClick={() =>
                answer(() =>
                  connection.call(playlistContract, "declineInvitation", {
                    playlistId: invitation.playlistId,
                  }),
                )
              }
            >
              Decline
            </button>
            <button
              className="secondary danger"
              title={`Block ${invitation.from.name}: their invitations stop reaching you`}
              onClick={() =>
                answer(() => connection.call(playlistContract, "block", { userName: invitation.from.name }))
              }
            >
              Block {invitation.from.name}
            </button>
          </li>
        ))}
      </ul>
    </>
  );
}
