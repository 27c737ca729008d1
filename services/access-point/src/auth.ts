// Finds and checks the caller's credentials (session cookie or bearer token) through the user service, and the one
// hook that does it for every route that asks (`config.auth`), setting `request.identity`.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError, userContract, type UserRecord } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";

export const SESSION_COOKIE = "sm_session";

export interface Identity {
  user: UserRecord;
  /** The credential's id: a sign-in session's or an API token's. */
  sessionId: string;
  kind: "session" | "api";
  token: string;
  /** When the credential ends, as the user service said at authentication; null: an API token without expiry. */
  expiresAt: number | null;
}

export function tokenOf(request: FastifyRequest): string | undefined {
  return bearerOf(request) ?? request.cookies[SESSION_COOKIE];
}

function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
}

export async function authenticate(bus: ServiceBus, request: FastifyRequest): Promise<Identity> {
  const token = tokenOf(request);
  if (!token) throw new AppError("UNAUTHENTICATED");
  if (token.length < 16 || token.length > 200) throw new AppError("UNAUTHENTICATED");
  const { user, sessionId, kind, expiresAt, renewed } = await bus.request(
    userContract,
    "authenticate",
    { token },
    { traceId: request.id },
  );
  // The session slid: the cookie carrying it must slide too, or the browser drops a live session (see
  // session-cookie.ts). A bearer token is the client's own business.
  if (renewed && expiresAt !== null && bearerOf(request) === undefined)
    request.renewedSession = { token, expiresAt };
  return { user, sessionId, kind, token, expiresAt };
}

/**
 * Remembers checked tokens for a few seconds so audio requests (a piece every few hundred ms per listener) do not
 * each cost a user-service round trip. Ended sessions are dropped as soon as their event arrives.
 */
export class IdentityCache {
  private readonly entries = new Map<string, { identity: Identity; expiresAtMs: number }>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  async authenticate(bus: ServiceBus, request: FastifyRequest): Promise<Identity> {
    const token = tokenOf(request);
    const cached = token === undefined ? undefined : this.cached(token);
    if (cached) return cached;
    const identity = await authenticate(bus, request);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(identity.token, { identity, expiresAtMs: this.nowMs() + this.ttlMs });
    return identity;
  }

  /** The identity this token was checked to be within the last few seconds, without asking the user service. */
  cached(token: string): Identity | undefined {
    const entry = this.entries.get(token);
    return entry && entry.expiresAtMs > this.nowMs() ? entry.identity : undefined;
  }

  forgetSessions(sessionIds: readonly string[]): void {
    const ended = new Set(sessionIds);
    for (const [token, entry] of this.entries)
      if (ended.has(entry.identity.sessionId)) this.entries.delete(token);
  }

  forgetToken(token: string): void {
    this.entries.delete(token);
  }

  /** Drops every entry of a user whose standing changed: the cached role or enabled state may be stale. */
  forgetUser(userId: string): void {
    for (const [token, entry] of this.entries)
      if (entry.identity.user.id === userId) this.entries.delete(token);
  }
}

/** What a route asks of its caller (`config: { auth: { … } }`); a route without it is open to everyone. */
export interface RouteAuth {
  /**
   * Ask the user service even when the token was checked seconds ago: where a session starts or is looked at (the
   * socket, /api/me), so a session that slid renews its cookie. Otherwise a check of the last few seconds is used.
   */
  fresh?: boolean;
  /** Administrators only; the refusal (FORBIDDEN) says this. */
  adminsOnly?: string;
  /** The refusal (UNAUTHENTICATED) of a request that has no credential at all. */
  missing?: string;
  /** Lets a request through without an identity (e.g. /metrics from this machine or with the metrics token). */
  isExempt?: (request: FastifyRequest) => boolean;
}

/**
 * The access point's one authentication: before anything else of a route that has `config.auth` (onRequest, so before
 * its params are read), the caller's identity is checked and set as `request.identity`, or the request is refused.
 */
export function registerAuthentication(
  app: FastifyInstance,
  { bus, identities }: { bus: ServiceBus; identities: IdentityCache },
): void {
  const admit = (request: FastifyRequest, auth: RouteAuth, identity: Identity) => {
    if (auth.adminsOnly !== undefined && identity.user.role !== "admin")
      throw new AppError("FORBIDDEN", auth.adminsOnly);
    request.identity = identity;
  };
  // Not an async hook: a token checked within the last few seconds (every piece of a playing track) is admitted in
  // the same turn, without a promise; only a check by the user service waits.
  app.addHook("onRequest", (request, _reply, done) => {
    const auth = request.routeOptions.config.auth;
    if (auth === undefined || auth.isExempt?.(request)) return done();
    const token = tokenOf(request);
    if (auth.missing !== undefined && token === undefined)
      return done(new AppError("UNAUTHENTICATED", auth.missing));
    const known = auth.fresh || token === undefined ? undefined : identities.cached(token);
    if (known) {
      try {
        admit(request, auth, known);
      } catch (error) {
        return done(error as AppError);
      }
      return done();
    }
    void (auth.fresh ? authenticate(bus, request) : identities.authenticate(bus, request))
      .then((identity) => admit(request, auth, identity))
      .then(
        () => done(),
        (error: Error) => done(error),
      );
  });
}

/** The identity the authentication hook set: for handlers of routes with `config.auth`. */
export function identityOf(request: FastifyRequest): Identity {
  if (!request.identity) throw new AppError("UNAUTHENTICATED");
  return request.identity;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    /** Who is calling: set by the authentication hook on every route with `config.auth`. */
    identity?: Identity;
    /** Set when authenticating this request renewed the session held in the cookie. */
    renewedSession?: { token: string; expiresAt: number };
  }
}
