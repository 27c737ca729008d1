// The rate limit on the HTTP API, the WebSocket upgrade and /metrics: a token bucket per verified user (every session
// and API token of theirs shares it), or per address for requests whose credential is missing or does not verify,
// so random bearer tokens get 429 like any other anonymous flood. Generous enough for a listener pinning albums.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "@soundmesh/protocol";
import type { RateLimitRule, ServiceBus } from "@soundmesh/bus";
import { tokenOf, type IdentityCache } from "./auth";
import { throttleAddressOf } from "./client-network";
import { sendProblem } from "./http-errors";
import { KeyedBuckets } from "./keyed-buckets";
import { isLoopbackClient } from "./client-network";

export interface HttpRateLimitOptions {
  rule: RateLimitRule;
  bus: ServiceBus;
  identities: IdentityCache;
  nowMs: () => number;
  onLimited: () => void;
  maxBuckets?: number;
}

type Scope = "session" | "metrics";

/** Which requests are charged: the API and the socket by their credential's user; /metrics by address. */
function scopeOf(url: string): Scope | undefined {
  const path = url.split("?")[0] ?? "";
  if (path.startsWith("/api/") || path === "/ws") return "session";
  if (path === "/metrics") return "metrics";
  return undefined;
}

export function registerHttpRateLimit(app: FastifyInstance, options: HttpRateLimitOptions): void {
  const { bus, identities } = options;
  const buckets = new KeyedBuckets(options.rule, options.nowMs, options.maxBuckets ?? 50_000);
  const retryAfterSec = String(Math.max(1, Math.ceil(1 / options.rule.ratePerSecond)));

  /** The bucket this request is paid from: its user's once the credential verifies, else its address's. */
  const keyOf = async (request: FastifyRequest, scope: Scope): Promise<string> => {
    const addressKey = `address:${throttleAddressOf(request.ip)}`;
    // /metrics takes its own bearer token, not a session's: never looked up here.
    const token = scope === "session" ? tokenOf(request) : undefined;
    if (token === undefined) return addressKey;
    const known = identities.cached(token);
    if (known) return `user:${known.user.id}`;
    // Checking a token costs the user service a lookup: not once the address has spent its budget.
    if (!buckets.canTake(addressKey)) return addressKey;
    try {
      return `user:${(await identities.authenticate(bus, request)).user.id}`;
    } catch {
      // Not a credential (or not now): the address pays, and the route answers with the reason.
      return addressKey;
    }
  };

  app.addHook("onRequest", async (request, reply) => {
    const scope = scopeOf(request.url);
    // This machine's scrapers are never limited.
    if (scope === undefined || (scope === "metrics" && isLoopbackClient(request))) return;
    if (buckets.tryTake(await keyOf(request, scope))) return;
    options.onLimited();
    await sendProblem(
      reply.header("retry-after", retryAfterSec),
      new AppError("RATE_LIMITED", "Too many requests; slow down"),
    );
    return reply;
  });
}
