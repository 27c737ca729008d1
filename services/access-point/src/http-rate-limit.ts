// The rate limit on the HTTP API, the WebSocket upgrade and /metrics: a token bucket per verified user (every session
// and API token of theirs shares it), or per address for requests whose credential is missing or does not verify,
// so random bearer tokens get 429 like any other anonymous flood. Generous enough for a listener pinning albums.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
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
  if (url.startsWith("/api/")) return "session";
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  if (path === "/ws") return "session";
  if (path === "/metrics") return "metrics";
  return undefined;
}

export function registerHttpRateLimit(app: FastifyInstance, options: HttpRateLimitOptions): void {
  const { bus, identities } = options;
  const buckets = new KeyedBuckets(options.rule, options.nowMs, options.maxBuckets ?? 50_000);
  const retryAfterSec = String(Math.max(1, Math.ceil(1 / options.rule.ratePerSecond)));

  /** The bucket of a credential not checked lately: its user's once it verifies, else its address's. */
  const keyOf = async (request: FastifyRequest, addressKey: string): Promise<string> => {
    // Checking a token costs the user service a lookup: not once the address has spent its budget.
    if (!buckets.canTake(addressKey)) return addressKey;
    try {
      return `user:${(await identities.authenticate(bus, request)).user.id}`;
    } catch {
      // Not a credential (or not now): the address pays, and the route answers with the reason.
      return addressKey;
    }
  };

  /** Takes a token from the bucket, or answers 429 (and the request goes no further). */
  const pay = (key: string, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (buckets.tryTake(key)) return done();
    options.onLimited();
    void sendProblem(
      reply.header("retry-after", retryAfterSec),
      new AppError("RATE_LIMITED", "Too many requests; slow down"),
    );
  };

  // Not an async hook: a credential checked within the last few seconds (every piece of a playing track) pays its
  // user's bucket in the same turn, without a promise; only a check by the user service waits.
  app.addHook("onRequest", (request, reply, done) => {
    const scope = scopeOf(request.url);
    // This machine's scrapers are never limited.
    if (scope === undefined || (scope === "metrics" && isLoopbackClient(request))) return done();
    // /metrics takes its own bearer token, not a session's: never looked up here.
    const token = scope === "session" ? tokenOf(request) : undefined;
    const known = token === undefined ? undefined : identities.cached(token);
    if (known) return pay(`user:${known.user.id}`, reply, done);
    const addressKey = `address:${throttleAddressOf(request.ip)}`;
    if (token === undefined) return pay(addressKey, reply, done);
    void keyOf(request, addressKey).then(
      (key) => pay(key, reply, done),
      (error: Error) => done(error),
    );
  });
}
