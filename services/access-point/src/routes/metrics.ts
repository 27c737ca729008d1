// The metrics area: /metrics (Prometheus text) for this machine's scrapers, administrators and the metrics token,
// and the health probes. Everyone else gets 401/403: the figures name methods, users' traffic and the process.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import type { Registry } from "prom-client";
import { AppError, toAppError, userContract } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";
import { tokenOf, type RouteAuth } from "../auth";
import { isLoopbackClient } from "../client-network";
import { sendProblem } from "../http-errors";

const digest = (text: string) => createHash("sha256").update(text).digest();

export interface MetricsRouteOptions {
  bus: ServiceBus;
  registry: Registry;
  /** A bearer token for scrapers (SOUNDMESH_METRICS_TOKEN); none by default. */
  metricsToken?: string | undefined;
}

/** Who may read /metrics: clients on this machine or with the metrics token as they are, else administrators. */
export function metricsAuth(metricsToken: string | undefined): RouteAuth {
  const hasMetricsToken = (request: FastifyRequest) => {
    const token = tokenOf(request);
    // Compared as digests of equal length, in constant time.
    return (
      metricsToken !== undefined &&
      token !== undefined &&
      timingSafeEqual(digest(token), digest(metricsToken))
    );
  };
  return {
    isExempt: (request) => isLoopbackClient(request) || hasMetricsToken(request),
    missing: "Metrics need a token or an admin session",
    adminsOnly: "Metrics are for administrators",
  };
}

export const metricsRoutes: FastifyPluginCallback<MetricsRouteOptions> = (
  app,
  { bus, registry, metricsToken },
  done,
) => {
  app.get("/healthz", () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    try {
      await bus.request(userContract, "setupStatus", {}, { timeoutMs: 2_000 });
      return { status: "ready" };
    } catch (error) {
      return sendProblem(
        reply,
        new AppError("UNAVAILABLE", "Not ready", {
          cause: error,
          details: { reason: toAppError(error).code },
        }),
      );
    }
  });

  app.get("/metrics", { config: { auth: metricsAuth(metricsToken) } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  done();
};
