// Refuses cross-origin WebSocket handshakes and state-changing API requests before anything is read or upgraded:
// a page on another port of the same host is the same *site*, so the browser sends its SameSite=Strict cookie.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "@soundmesh/protocol";
import { sendProblem } from "./http-errors";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** A host name or an IPv4 or bracketed IPv6 address, with an optional port: nothing else goes into an origin. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** "https://Music.Example.com:443" → "https://music.example.com"; undefined for anything that is not an origin. */
export function normalizeOrigin(text: string): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/**
 * The origin this request was addressed to: its scheme and Host as Fastify reads them, which means
 * X-Forwarded-Proto and X-Forwarded-Host only when the request came from a trusted proxy (trustProxy).
 */
export function ownOriginOf(request: FastifyRequest): string | undefined {
  const host = request.host;
  if (!HOST.test(host)) return undefined;
  return normalizeOrigin(`${request.protocol}://${host}`);
}

/**
 * Whether a browser's Origin header may act here: absent (not a browser: the CLI, the headless peer), or the
 * server's own origin, or one the operator listed (a reverse proxy's public origin).
 */
export function isAcceptedOrigin(request: FastifyRequest, allowedOrigins: ReadonlySet<string>): boolean {
  const header = request.headers.origin;
  if (header === undefined) return true;
  const origin = normalizeOrigin(header);
  if (origin === undefined) return false; // "null" (a sandboxed frame, a file: page) and garbage
  return origin === ownOriginOf(request) || allowedOrigins.has(origin);
}

/** Whether the request could change state or open a session's socket: checked for its origin. */
function needsOriginCheck(request: FastifyRequest): boolean {
  const path = request.url.split("?")[0] ?? "";
  if (path === "/ws") return true;
  return path.startsWith("/api/") && !SAFE_METHODS.has(request.method);
}

export function registerOriginCheck(
  app: FastifyInstance,
  allowedOrigins: readonly string[],
  onRefused: () => void,
): void {
  const allowed = new Set(allowedOrigins.map((origin) => normalizeOrigin(origin) ?? origin));
  app.addHook("onRequest", (request, reply, done) => {
    if (!needsOriginCheck(request) || isAcceptedOrigin(request, allowed)) return done();
    onRefused();
    request.log.warn(
      { origin: request.headers.origin, host: request.host, url: request.url },
      "refused a request from another origin",
    );
    void sendProblem(
      reply.header("connection", "close"),
      new AppError("FORBIDDEN", "Requests from another origin are refused", {
        details: { origin: request.headers.origin },
      }),
    );
  });
}
