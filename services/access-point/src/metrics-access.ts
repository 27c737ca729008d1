// Who may read /metrics: clients on this machine, an administrator's session or API token, or the configured
// metrics bearer token. Everyone else gets 401/403: the figures name methods, users' traffic and the process.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { AppError } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { tokenOf, type IdentityCache } from "./auth";
import { networkOf } from "./client-network";

/** Headers a reverse proxy adds: a request carrying one came through a proxy, whatever its socket says. */
const FORWARDING_HEADERS = ["forwarded", "x-forwarded-for", "x-real-ip", "via"];

/**
 * Whether the client is on this machine. Behind a trusted proxy that is the forwarded client address (request.ip);
 * a request that says it was forwarded but whose forwarded address the server does not believe (no trustProxy)
 * is not local, so a proxy on loopback does not open /metrics to the world.
 */
export function isLoopbackClient(request: FastifyRequest): boolean {
  if (networkOf(request.ip) !== "loopback") return false;
  const isForwardedAddress = request.ips !== undefined && request.ips.length > 1;
  return isForwardedAddress || !FORWARDING_HEADERS.some((name) => request.headers[name] !== undefined);
}

const digest = (text: string) => createHash("sha256").update(text).digest();

export interface MetricsAccessOptions {
  bus: ServiceBus;
  identities: IdentityCache;
  /** A bearer token for scrapers (SOUNDMESH_METRICS_TOKEN); none by default. */
  metricsToken?: string | undefined;
}

/** Throws UNAUTHENTICATED or FORBIDDEN unless the request may read the metrics. */
export async function checkMetricsAccess(
  request: FastifyRequest,
  { bus, identities, metricsToken }: MetricsAccessOptions,
): Promise<void> {
  if (isLoopbackClient(request)) return;
  const token = tokenOf(request);
  if (token === undefined) throw new AppError("UNAUTHENTICATED", "Metrics need a token or an admin session");
  // Compared as digests of equal length, in constant time.
  if (metricsToken !== undefined && timingSafeEqual(digest(token), digest(metricsToken))) return;
  const identity = await identities.authenticate(bus, request);
  if (identity.user.role !== "admin") throw new AppError("FORBIDDEN", "Metrics are for administrators");
}
