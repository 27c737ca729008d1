// The access point as every mode wires it: its settings from the configuration, the contracts clients may call,
// the Subsonic API as a plugin. Only where renditions are read from differs (storage's store in process, the ring
// in cluster mode).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { ServiceBus } from "@soundmesh/bus";
import {
  catalogContract,
  eventsContract,
  recommendContract,
  playlistContract,
  searchContract,
  storageContract,
  topologyContract,
  trackerContract,
  userContract,
} from "@soundmesh/protocol";
import {
  createAccessPoint,
  type AccessPoint,
  type CoverSource,
  type RenditionReader,
} from "@soundmesh/service-access-point";
import { registerSubsonic } from "@soundmesh/service-subsonic";
import type { Config } from "./config";

/** The web player's build output, served at "/" when present. */
const webRoot = fileURLToPath(new URL("../../web/dist", import.meta.url));

export function createAccessPointFor(
  config: Config,
  logger: Logger,
  bus: ServiceBus,
  registry: Registry,
  renditions: RenditionReader,
  /** Album covers: the catalog's by default; a cluster's access point reads them through the storage ring. */
  covers?: CoverSource,
): Promise<AccessPoint> {
  return createAccessPoint({
    config: {
      host: config.host,
      port: config.port,
      secureCookies: config.security.secureCookies,
      trustProxy: config.security.trustProxy,
      allowedOrigins: config.security.allowedOrigins,
      metricsToken: config.security.metricsToken,
      userRateLimit: config.rateLimits.perUser,
      httpRateLimit: config.rateLimits.perUserHttp,
      sockets: {
        maxPerUser: config.connections.maxSocketsPerUser,
        maxTotal: config.connections.maxSockets,
        inFlightBytesPerSocket: config.connections.inFlightBytesPerSocket,
        inFlightBytesTotal: config.connections.inFlightBytesTotal,
      },
      timeouts: {
        headersMs: config.connections.headersTimeoutMs,
        receiveMs: config.connections.receiveTimeoutMs,
        keepAliveMs: config.connections.keepAliveTimeoutMs,
        idleMs: config.connections.idleTimeoutMs,
      },
      requestTimeoutMs: 10_000,
      shutdownGraceMs: 5_000,
      ice: config.ice,
    },
    logger,
    bus,
    registry,
    contracts: [
      userContract,
      trackerContract,
      catalogContract,
      searchContract,
      playlistContract,
      storageContract,
      topologyContract,
      eventsContract,
      recommendContract,
    ],
    renditions,
    ...(covers === undefined ? {} : { covers }),
    plugins: [
      (app) =>
        registerSubsonic(app, {
          bus,
          logger: logger.child({ service: "subsonic" }),
          reader: renditions,
          ...(covers === undefined ? {} : { covers }),
          cacheDir: join(config.dataDir, "subsonic-cache"),
          cacheMaxBytes: Math.floor(config.cache.maxBytes / 4),
          maxTranscodes: config.transcode.maxConcurrent,
          maxTranscodesPerUser: config.transcode.maxPerUser,
          requestTimeoutMs: 10_000,
          rateLimit: config.rateLimits.perUserHttp,
        }),
    ],
    webRoot,
  });
}

/** The port the access point is listening on. */
export function listeningPort(accessPoint: AccessPoint, fallback: number): number {
  const address = accessPoint.app.server.address();
  return typeof address === "object" && address ? address.port : fallback;
}
