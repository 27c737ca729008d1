// Per-session rate limit on the HTTP API (audio pieces, ranges, covers, sign-in): a token bucket per session token,
// or per address for requests without one. Generous enough for a listener pinning albums; a runaway client gets
// 429 RATE_LIMITED with Retry-After instead of the server's whole capacity.
import type { FastifyInstance } from "fastify";
import { AppError } from "@soundmesh/protocol";
import { TokenBucket, type RateLimitRule } from "@soundmesh/bus";
import { tokenOf } from "./auth";
import { sendProblem } from "./http-errors";

export function registerHttpRateLimit(
  app: FastifyInstance,
  rule: RateLimitRule,
  nowMs: () => number,
  onLimited: () => void,
  maxBuckets = 50_000,
): void {
  const buckets = new Map<string, TokenBucket>();
  const retryAfterSec = String(Math.max(1, Math.ceil(1 / rule.ratePerSecond)));
  app.addHook("onRequest", (request, reply, done) => {
    if (!request.url.startsWith("/api/")) return done();
    const token = tokenOf(request);
    const key = token ? `session:${token}` : `address:${request.ip}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      // The oldest bucket goes first; a full bucket refills within burst / rate seconds anyway.
      if (buckets.size >= maxBuckets) buckets.delete(buckets.keys().next().value as string);
      bucket = new TokenBucket(rule, nowMs());
      buckets.set(key, bucket);
    }
    if (bucket.tryTake(nowMs())) return done();
    onLimited();
    void sendProblem(
      reply.header("retry-after", retryAfterSec),
      new AppError("RATE_LIMITED", "Too many requests; slow down"),
    );
  });
}
