// Opens /ws as a browser or a tool would and reports how the server answered, refusals included.
import WebSocket from "ws";

export interface Handshake {
  status: number;
  body: unknown;
}

/**
 * Opens /ws with a bearer token and these headers; resolves with 101 (the socket closed again at once), or with the
 * refusal's status and problem+json body once the server has closed the connection (nothing of it is kept).
 */
export function handshake(
  baseUrl: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws`, {
      headers: { ...headers, authorization: `Bearer ${token}` },
    });
    socket.once("open", () => {
      socket.close();
      resolve({ status: 101, body: undefined });
    });
    socket.once("unexpected-response", (_request, response) => {
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.socket.once("close", () =>
        resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown }),
      );
    });
    socket.once("error", reject);
  });
}
