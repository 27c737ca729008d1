// Fake ListenBrainz and Last.fm servers on loopback for the scrobbling tests. They check requests the way the real
// APIs define them (ListenBrainz: `POST /1/submit-listens`, `Authorization: Token <token>`, a JSON body with
// `listen_type` and `payload`; Last.fm: form-encoded POSTs signed with `api_sig`, computed here on its own from the
// API's rules rather than with the code under test), record what they accepted, and can be taken down and brought
// back on the same port, or made to fail.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeSink {
  url: string;
  /** Every request that reached it (accepted or not). */
  requests: Array<{ path: string; body: unknown; authorization: string | undefined }>;
  /** Answer every write with this HTTP status (e.g. 503) instead of accepting it; null: accept. */
  failWith: number | null;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

async function listenOn(server: Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** A sink that can go away and come back on the same port (connections refused meanwhile). */
async function fakeServer(
  handle: (request: IncomingMessage, body: string, response: ServerResponse) => void,
): Promise<Omit<FakeSink, "requests" | "failWith">> {
  let server = createServer((request, response) => {
    void readBody(request).then((body) => handle(request, body, response));
  });
  const port = await listenOn(server, 0);
  let isUp = true;
  const stop = async () => {
    if (!isUp) return;
    isUp = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url: `http://127.0.0.1:${port}`,
    down: stop,
    async up() {
      if (isUp) return;
      server = createServer((request, response) => {
        void readBody(request).then((body) => handle(request, body, response));
      });
      await listenOn(server, port);
      isUp = true;
    },
    close: stop,
  };
}

export interface FakeListenBrainz extends FakeSink {
  /** Tokens it knows, and whose they are. */
  tokens: Map<string, string>;
  /** The listens it stored, by listen type. */
  listens: Array<{ type: string; token: string; listen: Record<string, unknown> }>;
}

const isString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

export async function startFakeListenBrainz(): Promise<FakeListenBrainz> {
  const fake = {
    requests: [],
    failWith: null,
    tokens: new Map<string, string>(),
    listens: [],
  } as unknown as FakeListenBrainz;
  const base = await fakeServer((request, text, response) => {
    const authorization = request.headers.authorization;
    const path = request.url ?? "";
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      return send(response, 400, { code: 400, error: "Cannot parse JSON document." });
    }
    fake.requests.push({ path, body, authorization });
    const token = /^Token (\S+)$/.exec(authorization ?? "")?.[1];
    if (request.method === "GET" && path === "/1/validate-token") {
      const user = token ? fake.tokens.get(token) : undefined;
      return send(
        response,
        200,
        user
          ? { code: 200, message: "Token valid.", valid: true, user_name: user }
          : { code: 200, message: "Token invalid.", valid: false },
      );
    }
    if (request.method !== "POST" || path !== "/1/submit-listens")
      return send(response, 404, { code: 404, error: "Not found" });
    if (!token || !fake.tokens.has(token))
      return send(response, 401, { code: 401, error: "Invalid authorization token." });
    if (fake.failWith !== null) return send(response, fake.failWith, { code: fake.failWith, error: "down" });
    const submission = body as { listen_type?: unknown; payload?: unknown };
    const type = submission.listen_type;
    if (
      (type !== "single" && type !== "playing_now" && type !== "import") ||
      !Array.isArray(submission.payload) ||
      submission.payload.length === 0 ||
      (type !== "import" && submission.payload.length !== 1)
    )
      return send(response, 400, { code: 400, error: "Invalid listen_type or payload." });
    for (const listen of submission.payload as Array<Record<string, unknown>>) {
      const metadata = listen.track_metadata as Record<string, unknown> | undefined;
      const hasTime = Number.isInteger(listen.listened_at);
      if (!metadata || !isString(metadata.artist_name) || !isString(metadata.track_name))
        return send(response, 400, { code: 400, error: "track_metadata needs artist_name and track_name." });
      if (type === "playing_now" ? hasTime : !hasTime)
        return send(response, 400, { code: 400, error: "listened_at is wrong for this listen_type." });
    }
    for (const listen of submission.payload as Array<Record<string, unknown>>)
      fake.listens.push({ type, token, listen });
    send(response, 200, { status: "ok" });
  });
  return Object.assign(fake, base);
}

export interface FakeLastFm extends FakeSink {
  apiKey: string;
  secret: string;
  /** Session keys it knows, and whose they are. */
  sessions: Map<string, string>;
  /** What the user approved in the browser (tokens from auth.getToken). */
  approve(token: string, user: string): void;
  scrobbles: Array<Record<string, string>>;
  nowPlaying: Array<Record<string, string>>;
}

/** Last.fm's signature, from its documentation: sorted name+value pairs, without format/callback, then secret. */
function signatureOf(params: URLSearchParams, secret: string): string {
  const names = [...params.keys()].filter(
    (name) => name !== "format" && name !== "callback" && name !== "api_sig",
  );
  const text = names
    .sort()
    .map((name) => name + params.get(name)!)
    .join("");
  return createHash("md5")
    .update(text + secret, "utf8")
    .digest("hex");
}

export async function startFakeLastFm(apiKey = "fake-api-key", secret = "fake-secret"): Promise<FakeLastFm> {
  const issued = new Map<string, string | null>();
  let nextToken = 1;
  const fake = {
    requests: [],
    failWith: null,
    apiKey,
    secret,
    sessions: new Map<string, string>(),
    scrobbles: [],
    nowPlaying: [],
    approve(token: string, user: string) {
      issued.set(token, user);
    },
  } as unknown as FakeLastFm;
  const base = await fakeServer((request, text, response) => {
    const params = new URLSearchParams(text);
    fake.requests.push({
      path: request.url ?? "",
      body: Object.fromEntries(params),
      authorization: undefined,
    });
    const error = (status: number, code: number, message: string) =>
      send(response, status, { error: code, message });
    if (request.method !== "POST" || request.headers["content-type"] !== "application/x-www-form-urlencoded")
      return error(400, 6, "Invalid parameters - expected a form POST");
    if (params.get("format") !== "json") return error(400, 6, "Invalid parameters - format=json expected");
    if (params.get("api_key") !== apiKey) return error(403, 10, "Invalid API key");
    if (params.get("api_sig") !== signatureOf(params, secret))
      return error(403, 13, "Invalid method signature supplied");
    const method = params.get("method");
    if (method === "auth.getToken") {
      const token = `tok${nextToken++}`;
      issued.set(token, null);
      return send(response, 200, { token });
    }
    if (method === "auth.getSession") {
      const token = params.get("token") ?? "";
      if (!issued.has(token)) return error(403, 15, "This token has expired");
      const user = issued.get(token);
      if (!user) return error(403, 14, "This token has not been authorized");
      issued.delete(token);
      const key = `sk-${user}-${fake.sessions.size + 1}`;
      fake.sessions.set(key, user);
      return send(response, 200, { session: { name: user, key, subscriber: 0 } });
    }
    if (method !== "track.scrobble" && method !== "track.updateNowPlaying")
      return error(400, 3, "Invalid Method - No method with that name in this package");
    if (!fake.sessions.has(params.get("sk") ?? ""))
      return error(403, 9, "Invalid session key - Please re-authenticate");
    if (fake.failWith !== null) return error(fake.failWith, 16, "The service is temporarily unavailable");
    if (!isString(params.get("artist")) || !isString(params.get("track")))
      return error(400, 6, "Invalid parameters - artist and track are required");
    const fields = Object.fromEntries(params);
    if (method === "track.scrobble") {
      if (!/^\d+$/.test(params.get("timestamp") ?? ""))
        return error(400, 6, "Invalid parameters - timestamp");
      fake.scrobbles.push(fields);
      return send(response, 200, { scrobbles: { "@attr": { accepted: 1, ignored: 0 } } });
    }
    fake.nowPlaying.push(fields);
    send(response, 200, { nowplaying: { track: { "#text": fields.track } } });
  });
  return Object.assign(fake, base);
}
