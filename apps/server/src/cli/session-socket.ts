// A CLI client's session with the access point (the headless peer, `soundmesh transcode`): sign-in over HTTP, then
// the shared session client (@soundmesh/client) over the `ws` package.
import WebSocket from "ws";
import { SessionClient } from "@soundmesh/client";

/** Signs in over HTTP and returns the session token. */
export async function login(baseUrl: string, name: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await response.json()) as { token?: string; code?: string };
  if (!response.ok || !body.token)
    throw new Error(`login failed: HTTP ${response.status} ${body.code ?? ""}`);
  return body.token;
}

/**
 * Opens /ws with a bearer token and resolves once the hello frame (the session's peer pseudonym) arrived. A CLI run
 * is short: a dropped socket is not reopened, and calls made after it reject with UNAVAILABLE.
 */
export function openSessionSocket(
  baseUrl: string,
  token: string,
  timeoutMs = 10_000,
): Promise<SessionClient> {
  return SessionClient.open(
    {
      url: `${baseUrl.replace(/^http/, "ws")}/ws`,
      WebSocket,
      headers: { authorization: `Bearer ${token}` },
      requestTimeoutMs: 10_000,
      reconnect: false,
      log: (message, fields) => console.warn(`session: ${message}`, fields ?? ""),
    },
    timeoutMs,
  );
}
