// The access point: the only door for clients — REST, the multiplexed WebSocket, audio, covers, health and metrics.
// One Fastify app: the shared hooks (security headers, origin check, rate limit, the one authentication hook, the
// session cookie's renewal) on the root, then one encapsulated plugin per area (routes/), each route's params,
// query and body checked by zod schemas taken from the contracts.
import fastifyCookie from "@fastify/cookie";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { AppError, standingChangedEvent, MAX_FRAME_BYTES, type ServiceContract } from "@soundmesh/protocol";
import type { RateLimitRule, ServiceBus, ServiceManifest } from "@soundmesh/bus";
import { IdentityCache, registerAuthentication } from "./auth";
import { ClientSocket } from "./client-socket";
import { installErrorHandler, sendProblem } from "./http-errors";
import { LiveSessions } from "./live-sessions";
import { buildMethodTable } from "./method-table";
import { registerHttpRateLimit } from "./http-rate-limit";
import { registerOriginCheck } from "./origin-check";
import { registerP2pMetrics } from "./p2p-metrics";
import { PeerRegistry, machineAddresses } from "./peer-registry";
import { iceServerAddresses, iceServersFor, type IceConfig } from "./ice-servers";
import { PushHub } from "./push-hub";
import { busRenditionReader, type RenditionReader } from "./rendition-reader";
import { useZodSchemas } from "./route-schemas";
import { coverRoutes } from "./routes/covers";
import { busCoverSource, type CoverSource } from "./cover-source";
import { metricsRoutes } from "./routes/metrics";
import { sessionRoutes } from "./routes/session";
import { streamRoutes } from "./routes/stream";
import { topologyRoutes } from "./routes/topology";
import { registerSecurityHeaders } from "./security-headers";
import { registerSessionCookieRenewal } from "./session-cookie";
import { SocketLimits } from "./socket-limits";
import { registerStorageMetrics } from "./storage-metrics";
import { pushTopics } from "./topics";
import { hasWebApp, isAppRoute, registerWebApp } from "./web-app";

export const accessPointManifest = {
  service: "access-point",
  calls: ["user", "catalog", "search", "storage", "playlist", "tracker", "topology", "events", "recommend"],
  subscribes: [
    "user.standingChanged",
    "catalog.changed",
    "catalog.scanProgress",
    "storage.transcodeProgress",
    "events.jobProgress",
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
  /**
   * Origins besides the server's own whose pages may open /ws and send state-changing API requests: a reverse
   * proxy's public origin when the proxy's Host or scheme does not reach the server (e.g. "https://music.example.org").
   */
  allowedOrigins: readonly string[];
  /** A bearer token that reads /metrics from anywhere; without it only loopback clients and admins may. */
  metricsToken?: string | undefined;
  /** WebSocket frames per user, paid from one bucket by all the user's sockets. */
  userRateLimit: RateLimitRule;
  /** HTTP API requests per verified user (or per address for requests without a credential that verifies). */
  httpRateLimit: RateLimitRule;
  sockets: {
    maxPerUser: number;
    maxTotal: number;
    /** Bytes of frames received but not yet answered: past these, a frame is refused with RATE_LIMITED. */
    inFlightBytesPerSocket: number;
    inFlightBytesTotal: number;
  };
  timeouts: HttpTimeouts;
  requestTimeoutMs: number;
  shutdownGraceMs: number;
  /** STUN and TURN servers for peers on other networks, told to each client in its hello frame. */
  ice?: IceConfig | undefined;
}

/** How long a connection may take to say what it wants; none of these cut a response being sent or a WebSocket. */
export interface HttpTimeouts {
  /** Until a request's headers have arrived. */
  headersMs: number;
  /** Until a whole request, headers and body, has arrived. */
  receiveMs: number;
  /** An idle keep-alive connection between requests. */
  keepAliveMs: number;
  /** A connection with no bytes either way (WebSockets excepted: ws turns this off once upgraded). */
  idleMs: number;
}

export const defaultAccessPointConfig: AccessPointConfig = {
  host: "127.0.0.1",
  port: 7700,
  secureCookies: false,
  trustProxy: false,
  allowedOrigins: [],
  userRateLimit: { ratePerSecond: 50, burst: 200 },
  httpRateLimit: { ratePerSecond: 200, burst: 2_000 },
  sockets: {
    maxPerUser: 16,
    maxTotal: 10_000,
    inFlightBytesPerSocket: 4 * MAX_FRAME_BYTES,
    inFlightBytesTotal: 256 * MAX_FRAME_BYTES,
  },
  timeouts: { headersMs: 10_000, receiveMs: 30_000, keepAliveMs: 5_000, idleMs: 120_000 },
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
  /**
   * How the audio routes read renditions: storage's own rendition store when storage runs in this process (see
   * rendition-reader.ts); by default, the storage service over the bus.
   */
  renditions?: RenditionReader;
  /** Where album covers come from: by default the catalog over the bus; in a cluster, the storage ring. */
  covers?: CoverSource;
  /** More routes on the same server (the Subsonic API), registered before the web player's catch-all. */
  plugins?: ReadonlyArray<(app: FastifyInstance) => void | Promise<void>>;
  /** Largest range asked of the reader in one call (NATS limits a message to 1 MiB by default). */
  maxRangeChunkBytes?: number;
  /** The built web player (apps/web/dist); without it "/" serves a minimal sign-in page. */
  webRoot?: string;
  nowMs?: () => number;
  /** Wall-clock time for credential expiry (default Date.now). */
  wallClockMs?: () => number;
}

/** A cluster's live access points (their session socket addresses, this one's first), as they come and go. */
export interface AccessPointList {
  urls(): string[];
  onChange(listener: (urls: string[]) => void): void;
}

export interface AccessPoint {
  app: FastifyInstance;
  listen(): Promise<string>;
  close(): Promise<void>;
  connectedClients(): number;
  /** From now on, every client is told of the cluster's access points: in its hello, and again on each change. */
  announceAccessPoints(list: AccessPointList): void;
}

export async function createAccessPoint(deps: AccessPointDeps): Promise<AccessPoint> {
  const { config, logger, bus, registry } = deps;
  const nowMs = deps.nowMs ?? (() => performance.now());
  const loggerInstance: FastifyBaseLogger = logger.child({ service: "access-point" });
  const { timeouts } = config;
  const app = Fastify({
    loggerInstance,
    bodyLimit: 1024 * 1024,
    trustProxy: config.trustProxy,
    requestTimeout: timeouts.receiveMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionTimeout: timeouts.idleMs,
    http: {
      headersTimeout: timeouts.headersMs,
      // Node checks the two timeouts above on this interval (30 s by default, which would double them).
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(timeouts.headersMs / 4))),
    },
  });
  const sockets = new Set<ClientSocket>();
  /** A cluster's access points, once the process has announced this one (none in all-in-one). */
  let accessPointList: AccessPointList | undefined;
  const hub = new PushHub(bus, pushTopics(bus));
  const methods = buildMethodTable(deps.contracts);
  const peers = new PeerRegistry(bus, logger, machineAddresses, iceServerAddresses(config.ice));
  const identities = new IdentityCache();
  const live = new LiveSessions({
    bus,
    logger,
    wallClockMs: deps.wallClockMs ?? (() => Date.now()),
    requestTimeoutMs: config.requestTimeoutMs,
  });
  const limits = new SocketLimits(
    {
      userRateLimit: config.userRateLimit,
      maxSocketsPerUser: config.sockets.maxPerUser,
      maxSockets: config.sockets.maxTotal,
      inFlightBytesPerSocket: config.sockets.inFlightBytesPerSocket,
      inFlightBytesTotal: config.sockets.inFlightBytesTotal,
    },
    nowMs,
  );
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
  registerP2pMetrics(registry, bus, logger);
  registerStorageMetrics(registry, bus, logger);
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
  // An over-size frame is refused at its header (the socket closes with 1009), before its payload is read.
  // Registered before the hooks below that may refuse an upgrade: its own hook marks the request as one, so the
  // connection is closed once the refusal is sent.
  await app.register(fastifyWebsocket, { options: { maxPayload: MAX_FRAME_BYTES } });
  registerSecurityHeaders(app, { isHttpsOnly: config.secureCookies });
  const foreignOrigins = new Counter({
    name: "soundmesh_http_foreign_origin_refused_total",
    help: "WebSocket handshakes and state-changing API requests refused for coming from another origin",
    registers: [registry],
  });
  registerOriginCheck(app, config.allowedOrigins, () => foreignOrigins.inc());
  const httpLimited = new Counter({
    name: "soundmesh_http_rate_limited_total",
    help: "HTTP requests refused by the per-user (or, unauthenticated, per-address) rate limit",
    registers: [registry],
  });
  registerHttpRateLimit(app, {
    rule: config.httpRateLimit,
    bus,
    identities,
    nowMs,
    onLimited: () => httpLimited.inc(),
  });
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

  useZodSchemas(app);
  registerAuthentication(app, { bus, identities });
  registerSessionCookieRenewal(app, config.secureCookies);

  await app.register(sessionRoutes, {
    bus,
    identities,
    secureCookies: config.secureCookies,
    reserveSocket: (identity) => limits.reserveSocket(identity.user.id),
    openSocket: (socket, identity, request) => {
      const client = new ClientSocket(socket, identity, peers.pseudonymOf(identity.sessionId), {
        bus,
        logger,
        methods,
        hub,
        limits,
        requestTimeoutMs: config.requestTimeoutMs,
        nowMs,
        outgoingSignal: (peerId, data) => peers.outgoing(peerId, data),
        onRequest: (method, outcome, durationMs) => {
          const label = methods.has(method) ? method : "unknown";
          wsRequests.inc({ method: label, outcome });
          wsDuration.observe({ method: label }, durationMs / 1000);
        },
      });
      sockets.add(client);
      live.add(client);
      const iceNow = () => iceServersFor(config.ice, client.peerId, (deps.wallClockMs ?? Date.now)());
      // TURN credentials expire: fresh ones at 80 % of their lifetime, for as long as the socket stays open.
      const turnTtlMs = (config.ice?.turn?.ttlSeconds ?? 0) * 1000;
      let renewal: NodeJS.Timeout | undefined;
      const renewIce = () => {
        renewal = setTimeout(() => {
          client.renewIce(iceNow());
          renewIce();
        }, turnTtlMs * 0.8);
        renewal.unref();
      };
      void peers.add(client, request.ip).finally(() => {
        if (socket.readyState !== socket.OPEN) return;
        client.greet(iceNow(), accessPointList?.urls() ?? []);
        if (turnTtlMs > 0 && (config.ice?.turn?.urls.length ?? 0) > 0) renewIce();
      });
      socket.on("close", () => {
        clearTimeout(renewal);
        sockets.delete(client);
        live.remove(client);
        void peers.remove(client);
      });
    },
  });
  await app.register(streamRoutes, {
    bus,
    reader: deps.renditions ?? busRenditionReader(bus),
    ...(deps.maxRangeChunkBytes ? { maxRangeChunkBytes: deps.maxRangeChunkBytes } : {}),
  });
  await app.register(coverRoutes, { bus, covers: deps.covers ?? busCoverSource(bus) });
  await app.register(metricsRoutes, { bus, registry, metricsToken: config.metricsToken });
  await app.register(topologyRoutes, { bus });
  for (const plugin of deps.plugins ?? []) await plugin(app);
  await registerWebApp(app, deps.webRoot);

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
    announceAccessPoints(list) {
      accessPointList = list;
      list.onChange((urls) => {
        for (const client of sockets) client.tellAccessPoints(urls);
      });
    },
  };
}
