// The access point: the only door for clients — REST, the multiplexed WebSocket, health and metrics.
import fastifyCookie from "@fastify/cookie";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import {
  AppError,
  standingChangedEvent,
  toAppError,
  userContract,
  type ServiceContract,
} from "@soundmesh/protocol";
import type { RateLimitRule, ServiceBus, ServiceManifest } from "@soundmesh/bus";
import { registerApiRoutes } from "./api-routes";
import { IdentityCache, authenticate, type Identity } from "./auth";
import { ClientSocket } from "./client-socket";
import { installErrorHandler, sendProblem } from "./http-errors";
import { LiveSessions } from "./live-sessions";
import { buildMethodTable } from "./method-table";
import { registerHttpRateLimit } from "./http-rate-limit";
import { PeerRegistry } from "./peer-registry";
import { PushHub, type PushTopic } from "./push-hub";
import { hasWebApp, isAppRoute, registerWebApp } from "./web-app";

export const accessPointManifest = {
  service: "access-point",
  calls: ["user", "catalog", "search", "storage", "playlist", "tracker"],
  subscribes: [
    "user.standingChanged",
    "catalog.changed",
    "catalog.scanProgress",
    "storage.transcodeProgress",
    "playlist.changed",
    "tracker.signalRelay",
    "tracker.peerBanned",
  ],
} as const satisfies ServiceManifest;

export interface AccessPointConfig {
  host: string;
  port: number;
  /** Set cookies with Secure (behind HTTPS). */
  secureCookies: boolean;
  /**
   * Behind a reverse proxy: which proxies' X-Forwarded-For to believe (Fastify's trustProxy: true for any, or
   * addresses and CIDRs, comma-separated). Off by default, so a client cannot pick its own address.
   */
  trustProxy: boolean | string;
  userRateLimit: RateLimitRule;
  /** HTTP API requests per session (or per address without one): audio, covers, sign-in. */
  httpRateLimit: RateLimitRule;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
}

export const defaultAccessPointConfig: AccessPointConfig = {
  host: "127.0.0.1",
  port: 7700,
  secureCookies: false,
  trustProxy: false,
  userRateLimit: { ratePerSecond: 50, burst: 200 },
  httpRateLimit: { ratePerSecond: 200, burst: 2_000 },
  requestTimeoutMs: 10_000,
  shutdownGraceMs: 5_000,
};

export interface AccessPointDeps {
  config: AccessPointConfig;
  logger: Logger;
  bus: ServiceBus;
  registry: Registry;
  /** Contracts whose exposed methods clients may call. */
  contracts: readonly ServiceContract[];
  topics?: readonly PushTopic[];
  /** The built web player (apps/web/dist); without it "/" serves a minimal sign-in page. */
  webRoot?: string;
  /** Extra route registrations (streaming, cover art) added by the wiring; they get the shared identity cache. */
  plugins?: ReadonlyArray<(app: FastifyInstance, identities: IdentityCache) => void | Promise<void>>;
  nowMs?: () => number;
  /** Wall-clock time for credential expiry (default Date.now). */
  wallClockMs?: () => number;
}

export interface AccessPoint {
  app: FastifyInstance;
  listen(): Promise<string>;
  close(): Promise<void>;
  connectedClients(): number;
}

export async function createAccessPoint(deps: AccessPointDeps): Promise<AccessPoint> {
  const { config, logger, bus, registry } = deps;
  const nowMs = deps.nowMs ?? (() => performance.now());
  const loggerInstance: FastifyBaseLogger = logger.child({ service: "access-point" });
  const app = Fastify({ loggerInstance, bodyLimit: 1024 * 1024, trustProxy: config.trustProxy });
  const sockets = new Set<ClientSocket>();
  const hub = new PushHub(bus, deps.topics ?? []);
  const methods = buildMethodTable(deps.contracts);
  const peers = new PeerRegistry(bus, logger);
  const identities = new IdentityCache();
  const live = new LiveSessions({
    bus,
    logger,
    wallClockMs: deps.wallClockMs ?? (() => Date.now()),
    requestTimeoutMs: config.requestTimeoutMs,
  });
  let closing = false;

  const wsRequests = new Counter({
    name: "soundmesh_ws_requests_total",
    help: "WebSocket requests by method and outcome",
    labelNames: ["method", "outcome"],
    registers: [registry],
  });
  const wsDuration = new Histogram({
    name: "soundmesh_ws_request_duration_seconds",
    help: "WebSocket request handling time",
    labelNames: ["method"],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  new Gauge({
    name: "soundmesh_ws_connections",
    help: "Open client WebSockets",
    registers: [registry],
    collect() {
      this.set(sockets.size);
    },
  });
  const httpRequests = new Counter({
    name: "soundmesh_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["route", "status"],
    registers: [registry],
  });

  installErrorHandler(app, logger, (request, reply) =>
    request.method === "GET" && hasWebApp(deps.webRoot) && isAppRoute(request.url)
      ? reply.header("cache-control", "no-cache").sendFile("index.html")
      : undefined,
  );
  await app.register(fastifyCookie);
  const httpLimited = new Counter({
    name: "soundmesh_http_rate_limited_total",
    help: "HTTP API requests refused by the per-session rate limit",
    registers: [registry],
  });
  registerHttpRateLimit(app, config.httpRateLimit, nowMs, () => httpLimited.inc());
  await app.register(fastifyWebsocket, { options: { maxPayload: 16 * 1024 * 1024 } });
  app.addHook("onResponse", (request, reply, done) => {
    httpRequests.inc({ route: request.routeOptions.url ?? "unknown", status: reply.statusCode });
    done();
  });
  app.addHook("onRequest", (_request, reply, done) => {
    if (closing) {
      void sendProblem(
        reply.header("connection", "close"),
        new AppError("UNAVAILABLE", "The server is shutting down"),
      );
      return;
    }
    done();
  });

  registerApiRoutes(app, { bus, secureCookies: config.secureCookies, identities });

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
  app.get("/metrics", async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  await registerWebApp(app, deps.webRoot);

  app.register((scope, _options, done) => {
    scope.addHook("preValidation", async (request) => {
      request.identity = await authenticate(bus, request);
    });
    scope.get("/ws", { websocket: true }, (socket, request) => {
      const identity = request.identity;
      if (!identity) return socket.close(1008, "unauthenticated");
      const client = new ClientSocket(socket, identity, peers.pseudonymOf(identity.sessionId), {
        bus,
        logger,
        methods,
        hub,
        userRateLimit: config.userRateLimit,
        requestTimeoutMs: config.requestTimeoutMs,
        nowMs,
        onRequest: (method, outcome, durationMs) => {
          const label = methods.has(method) ? method : "unknown";
          wsRequests.inc({ method: label, outcome });
          wsDuration.observe({ method: label }, durationMs / 1000);
        },
      });
      sockets.add(client);
      live.add(client);
      void peers.add(client, request.ip).finally(() => client.greet());
      socket.on("close", () => {
        sockets.delete(client);
        live.remove(client);
        void peers.remove(client);
      });
    });
    done();
  });

  for (const plugin of deps.plugins ?? []) await plugin(app, identities);

  const standing = await bus.subscribe(standingChangedEvent, (change) => {
    identities.forgetSessions(change.credentialIds);
    identities.forgetUser(change.userId);
    live.applyStanding(change);
  });
  await hub.start();
  await peers.start();

  return {
    app,
    async listen() {
      return app.listen({ host: config.host, port: config.port });
    },
    async close() {
      closing = true;
      // Answer what was already asked, then say goodbye: 1001 tells clients to reconnect elsewhere.
      const drained = Promise.all([...sockets].map((client) => client.drain()));
      await Promise.race([
        drained,
        new Promise((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref()),
      ]);
      for (const client of sockets) client.close(1001, "server shutting down");
      live.stop();
      await standing.unsubscribe();
      await hub.stop();
      await peers.stop();
      await app.close();
    },
    connectedClients: () => sockets.size,
  };
}

declare module "fastify" {
  interface FastifyRequest {
    identity?: Identity;
  }
}
