// Finds and checks the caller's credentials (session cookie or bearer token) through the user service.
import type { FastifyRequest } from "fastify";
import { AppError, userContract, type UserRecord } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";

export const SESSION_COOKIE = "sm_session";

export interface Identity {
  user: UserRecord;
  sessionId: string;
  token: string;
}

export function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith("Bearer ")) return header.slice("Bearer ".length).trim();
  return request.cookies[SESSION_COOKIE];
}

export async function authenticate(bus: ServiceBus, request: FastifyRequest): Promise<Identity> {
  const token = tokenOf(request);
  if (!token) throw new AppError("UNAUTHENTICATED");
  if (token.length < 16 || token.length > 200) throw new AppError("UNAUTHENTICATED");
  const { user, sessionId } = await bus.request(
    userContract,
    "authenticate",
    { token },
    { traceId: request.id },
  );
  return { user, sessionId, token };
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
    const cached = token === undefined ? undefined : this.entries.get(token);
    if (cached && cached.expiresAtMs > this.nowMs()) return cached.identity;
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
}
