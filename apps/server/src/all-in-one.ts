// Wires every service into one process: SQLite (or PostgreSQL), the in-process bus, the access point.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Bus, ServiceBus } from "@soundmesh/bus";
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
import { accessPointManifest, createAccessPoint } from "@soundmesh/service-access-point";
import { registerSubsonic } from "@soundmesh/service-subsonic";
import { createTrackerService, trackerManifest } from "@soundmesh/service-tracker";
import type { Config } from "./config";
import { startLibraryServices } from "./library-services";
import { startPlaylistService } from "./playlist-services";
import { startEventsService } from "./events-wiring";
import { startRecommendService } from "./recommend-wiring";
import { startMemoryRelease } from "./memory-release";
import { resolveLibraryFolders, type LibraryChoice } from "./library-folders";
import { startTopology, type RunningTopology } from "./topology-wiring";
import { startUserService } from "./user-wiring";
import { createBusFor, openDb } from "./wiring";

/** The web player's build output, served at "/" when present. */
const webRoot = fileURLToPath(new URL("../../web/dist", import.meta.url));

export interface RunningServer {
  url: string;
  port: number;
  bus: Bus;
  registry: Registry;
  topology: RunningTopology;
  stop(): Promise<void>;
}

/** Creates the configured first admin (SOUNDMESH_ADMIN_NAME/PASSWORD) when none exists yet. */
async function bootstrapAdmin(config: Config, bus: ServiceBus, logger: Logger): Promise<void> {
  const { name, password } = config.admin;
  if (!name || !password) return;
  const { needsSetup } = await bus.request(userContract, "setupStatus", {});
  if (!needsSetup) return;
  await bus.request(userContract, "createFirstAdmin", { name, password });
  logger.info({ name }, "created the first administrator from the configuration");
}

export interface StartOptions {
  /** What to do when --library names folders that are not the recorded ones. */
  library?: LibraryChoice;
  /** Called as each part has been created (bench/heap-parts.ts measures memory there); synchronous. */
  onStage?: (stage: string) => void;
}

export async function startAllInOne(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const onStage = options.onStage ?? (() => undefined);
  mkdirSync(config.dataDir, { recursive: true });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  onStage("metrics registry");
  const db = openDb(config, logger);
  onStage("database");
  const bus = createBusFor(config, logger, registry);
  onStage("bus");
  const stops: Array<() => Promise<void>> = [];
  try {
    // First: a given library folder that does not exist (or is not recorded) stops the start with one line.
    const libraryFolders = await resolveLibraryFolders(config, logger, db, options.library);
    const user = await startUserService(config, logger, bus, db);
    stops.push(() => user.stop());
    onStage("user");
    const tracker = createTrackerService({
      logger: logger.child({ service: "tracker" }),
      bus: bus.connect(trackerManifest),
    });
    await tracker.start();
    stops.push(() => tracker.stop());
    const library = await startLibraryServices(config, logger, bus, db, libraryFolders, onStage);
    stops.unshift(() => library.stop());
    const playlist = await startPlaylistService(logger, bus, db, config.covers);
    stops.unshift(() => playlist.stop());
    // Search started first and could not read the playlists yet: build its playlist index now, not at the retry.
    library.search.rebuildPlaylists();
    onStage("playlist");
    const events = await startEventsService(config, logger, bus, db);
    stops.unshift(() => events.stop());
    const recommend = await startRecommendService(config, logger, bus);
    stops.unshift(() => recommend.stop());
    const topology = await startTopology(config, logger, bus, registry);
    stops.unshift(() => topology.stop());
    onStage("topology");
    const apBus = bus.connect(accessPointManifest);
    await bootstrapAdmin(config, apBus, logger);
    const accessPoint = await createAccessPoint({
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
      },
      logger,
      bus: apBus,
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
      // Pieces are read from storage's store directly, not over the bus (rendition-reader.ts says why).
      renditions: library.storage.store,
      plugins: [
        (app) =>
          registerSubsonic(app, {
            bus: apBus,
            logger: logger.child({ service: "subsonic" }),
            reader: library.storage.store,
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
    stops.unshift(() => accessPoint.close());
    const url = await accessPoint.listen();
    onStage("access point");
    const address = accessPoint.app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    logger.info({ url, dataDir: config.dataDir, database: db.dialect }, "soundmesh started");
    // After a scan or a rebuild, once the process goes quiet, what they used goes back to the system.
    const memoryRelease = startMemoryRelease({
      onRelease: ({ heapTotalBefore, heapTotalAfter, durationMs }) =>
        logger.debug(
          { heapTotalBefore, heapTotalAfter, durationMs: Math.round(durationMs) },
          "memory handed back after a busy spell",
        ),
    });
    stops.unshift(() => Promise.resolve(memoryRelease.stop()));
    // The first scan runs in the background; the server answers meanwhile and pushes progress.
    library.catalog.startScan(false);
    return {
      url: `http://${config.host}:${port}`,
      port,
      bus,
      registry,
      topology,
      async stop() {
        for (const stop of stops) await stop();
        await bus.close();
        await db.close();
      },
    };
  } catch (error) {
    for (const stop of stops) await stop().catch(() => undefined);
    await bus.close();
    await db.close();
    throw error;
  }
}
