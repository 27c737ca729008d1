// The app's one WebSocket session: the shared session client (@soundmesh/client) over the browser's WebSocket, to
// the page's own server; it reconnects with back-off and follows the same topics again.
import { SessionClient, type SessionState } from "@soundmesh/client";

export type Connection = SessionClient;
export type ConnectionState = SessionState;

/** Opens the session socket of the signed-in page; `onState` hears each change (open, reconnecting, signed-out). */
export function openConnection(onState: (state: ConnectionState) => void): Connection {
  return new SessionClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
    WebSocket,
    // Its cookie is its page's origin's: a cluster's other access points are reached through the page's address.
    followAnnouncedAccessPoints: false,
    onState,
  });
}
