// HTTP clients of the two scrobbling services, as their public APIs define them:
// - ListenBrainz: `POST /1/submit-listens` with `Authorization: Token <user token>` and a JSON body
//   (`listen_type` "single" or "playing_now"), `GET /1/validate-token` to check a token.
// - Last.fm (API 2.0): form-encoded POSTs of `method=track.scrobble` / `track.updateNowPlaying` / `auth.getToken` /
//   `auth.getSession`, signed with `api_sig` = MD5 of the parameters sorted by name (name then value, without
//   `format`) followed by the API secret.
// Each failure is classified: retry later (network, 5xx, rate limits), the token is bad (ask the user), or the
// request can never succeed (drop it into the dead letters).
import { createHash } from "node:crypto";

export interface ScrobbleItem {
  artist: string;
  track: string;
  album: string | null;
  durationMs: number;
  /** When the listen started (ms). */
  startedAt: number;
}

export type ScrobbleKind = "now_playing" | "scrobble";

export type SendOutcome =
  { ok: true } | { ok: false; problem: "retry" | "bad_token" | "permanent"; message: string };

export type SendFailure = Extract<SendOutcome, { ok: false }>;

export interface ScrobbleClient {
  send(credential: string, kind: ScrobbleKind, item: ScrobbleItem): Promise<SendOutcome>;
}

const USER_AGENT = "soundmesh/0.1 (self-hosted music server)";
const TIMEOUT_MS = 15_000;

async function fetchOutcome(
  request: () => Promise<Response>,
): Promise<{ response: Response; body: unknown } | SendFailure> {
  let response: Response;
  try {
    response = await request();
  } catch (error) {
    return { ok: false, problem: "retry", message: `unreachable: ${(error as Error).message}` };
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { response, body };
}

function messageOf(body: unknown, fallback: string): string {
  if (typeof body !== "object" || body === null) return fallback;
  const { message, error } = body as { error?: unknown; message?: unknown };
  if (typeof message === "string") return message;
  if (typeof error === "string" || typeof error === "number") return String(error);
  return fallback;
}

export interface ListenBrainzClient extends ScrobbleClient {
  validateToken(token: string): Promise<{ valid: boolean; userName: string | null } | SendFailure>;
}

export function listenBrainzClient(baseUrl: string): ListenBrainzClient {
  const root = baseUrl.replace(/\/$/, "");
  return {
    async validateToken(token) {
      const result = await fetchOutcome(() =>
        fetch(`${root}/1/validate-token`, {
          headers: { authorization: `Token ${token}`, "user-agent": USER_AGENT },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        }),
      );
      if ("ok" in result) return result;
      const body = result.body as { valid?: unknown; user_name?: unknown } | null;
      if (result.response.status === 401) return { valid: false, userName: null };
      if (!result.response.ok)
        return { ok: false, problem: "retry", message: `HTTP ${result.response.status}` };
      return {
        valid: body?.valid === true,
        userName: typeof body?.user_name === "string" ? body.user_name : null,
      };
    },
    async send(token, kind, item) {
      const metadata = {
        artist_name: item.artist,
        track_name: item.track,
        ...(item.album ? { release_name: item.album } : {}),
        additional_info: {
          duration_ms: item.durationMs,
          submission_client: "soundmesh",
          submission_client_version: "0.1",
          media_player: "soundmesh",
        },
      };
      const body =
        kind === "scrobble"
          ? {
              listen_type: "single",
              payload: [{ listened_at: Math.floor(item.startedAt / 1000), track_metadata: metadata }],
            }
          : { listen_type: "playing_now", payload: [{ track_metadata: metadata }] };
      const result = await fetchOutcome(() =>
        fetch(`${root}/1/submit-listens`, {
          method: "POST",
          headers: {
            authorization: `Token ${token}`,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        }),
      );
      if ("ok" in result) return result;
      const { status } = result.response;
      if (result.response.ok) return { ok: true };
      const message = `HTTP ${status}: ${messageOf(result.body, "")}`;
      if (status === 401) return { ok: false, problem: "bad_token", message };
      if (status === 429 || status >= 500) return { ok: false, problem: "retry", message };
      return { ok: false, problem: "permanent", message };
    },
  };
}

/** The Last.fm request signature: MD5 of every parameter but `format` and `callback`, sorted, then the secret. */
export function lastFmSignature(params: Record<string, string>, secret: string): string {
  const text = Object.keys(params)
    .filter((name) => name !== "format" && name !== "callback")
    .sort()
    .map((name) => `${name}${params[name]}`)
    .join("");
  return createHash("md5")
    .update(text + secret, "utf8")
    .digest("hex");
}

/** Last.fm error codes that mean the session key is no good, and those that are worth trying again. */
const LASTFM_BAD_SESSION = new Set([4, 9, 14, 15]);
const LASTFM_RETRY = new Set([8, 11, 16, 29]);

export interface LastFmClient extends ScrobbleClient {
  getToken(): Promise<string>;
  getSession(token: string): Promise<{ name: string; key: string } | { error: number; message: string }>;
}

export function lastFmClient(apiUrl: string, apiKey: string, apiSecret: string): LastFmClient {
  async function call(
    params: Record<string, string>,
  ): Promise<{ response: Response; body: unknown } | SendFailure> {
    const signed = { ...params, api_key: apiKey };
    const form = new URLSearchParams({
      ...signed,
      api_sig: lastFmSignature(signed, apiSecret),
      format: "json",
    });
    return fetchOutcome(() =>
      fetch(apiUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": USER_AGENT },
        body: form.toString(),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      }),
    );
  }
  const errorOf = (body: unknown): { error: number; message: string } | null =>
    typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "number"
      ? { error: (body as { error: number }).error, message: messageOf(body, "Last.fm error") }
      : null;

  return {
    async getToken() {
      const result = await call({ method: "auth.getToken" });
      if ("ok" in result) throw new Error(result.message);
      const token = (result.body as { token?: unknown } | null)?.token;
      if (typeof token !== "string")
        throw new Error(errorOf(result.body)?.message ?? "no token from Last.fm");
      return token;
    },
    async getSession(token) {
      const result = await call({ method: "auth.getSession", token });
      if ("ok" in result) throw new Error(result.message);
      const failure = errorOf(result.body);
      if (failure) return failure;
      const session = (result.body as { session?: { name?: unknown; key?: unknown } } | null)?.session;
      if (typeof session?.name !== "string" || typeof session.key !== "string")
        throw new Error("Last.fm answered without a session");
      return { name: session.name, key: session.key };
    },
    async send(sessionKey, kind, item) {
      const params: Record<string, string> = {
        method: kind === "scrobble" ? "track.scrobble" : "track.updateNowPlaying",
        artist: item.artist,
        track: item.track,
        duration: String(Math.round(item.durationMs / 1000)),
        sk: sessionKey,
        ...(item.album ? { album: item.album } : {}),
        ...(kind === "scrobble" ? { timestamp: String(Math.floor(item.startedAt / 1000)) } : {}),
      };
      const result = await call(params);
      if ("ok" in result) return result;
      const failure = errorOf(result.body);
      if (!failure && result.response.ok) return { ok: true };
      const message = failure
        ? `Last.fm error ${failure.error}: ${failure.message}`
        : `HTTP ${result.response.status}`;
      if (failure && LASTFM_BAD_SESSION.has(failure.error))
        return { ok: false, problem: "bad_token", message };
      if (
        failure
          ? LASTFM_RETRY.has(failure.error)
          : result.response.status >= 500 || result.response.status === 429
      )
        return { ok: false, problem: "retry", message };
      return { ok: false, problem: "permanent", message };
    },
  };
}
