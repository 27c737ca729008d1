// Wires every service into one process: SQLite (or PostgreSQL), the in-process bus, the access point.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { createInProcessBus, type Bus, type ServiceBus } from "@soundmesh/bus";
import { createDb, type Db } from "@soundmesh/db";
import {
  catalogContract,
  playlistContract,
  searchContract,
  storageContract,
  trackerContract,
  userContract,
  type ScanStatus,
} from "@soundmesh/protocol";
import {
  accessPointManifest,
  createAccessPoint,
  registerCoverRoute,
  registerStreamRoutes,
} from "@soundmesh/service-access-point";
import { createTrackerService, trackerManifest } from "@soundmesh/service-tracker";
import {
  createSqlUserStore,
  createUserService,
  migrateUserStore,
  userManifest,
} from "@soundmesh/service-user";
import type { Config } from "./config";
import { ensureDemoLibrary } from "./demo-library";
import { libraryTopics, startCatalogService, startLibraryServices, storageReader } from "./library-services";
import type { ScanResult } from "@soundmesh/service-catalog";
import { createLogger } from "./logger";
import { registerP2pMetrics } from "./p2p-metrics";
import { registerStorageMetrics } from "./storage-metrics";
import { playlistTopics, registerPlaylistCoverRoute, startPlaylistService } from "./playlist-services";

/** The web player's build output, served at "/" when present. */
const webRoot = fileURLToPath(new URL("../../web/dist", import.meta.url));

export interface RunningServer {
  url: string;
  port: number;
  bus: Bus;
  registry: Registry;
  stop(): Promise<void>;
}

export function openDb(config: Config, logger: Logger): Db {
  const onPoolError = (error: Error) =>
    logger.warn({ err: error }, "a PostgreSQL connection failed; the pool replaces it");
  return config.databaseUrl
    ? createDb({ kind: "postgres", url: config.databaseUrl }, { onPoolError })
    : createDb({ kind: "sqlite", file: join(config.dataDir, "soundmesh.db") });
}

function createBusFor(config: Config, logger: Logger, registry?: Registry): Bus {
  return createInProcessBus({
    logger: logger.child({ component: "bus" }),
    rateLimits: { default: config.rateLimits.busDefault, edges: config.rateLimits.busEdges },
    ...(registry ? { registry } : {}),
  });
}

async function startUserService(config: Config, logger: Logger, bus: Bus, db: Db) {
  await migrateUserStore(db);
  const service = createUserService({
    config: {
      sessionTtlMs: config.security.sessionTtlMs,
      argon2: { memoryCost: config.security.argon2MemoryKiB, timeCost: config.security.argon2TimeCost },
    },
    logger: logger.child({ service: "user" }),
    bus: bus.connect(userManifest),
    store: createSqlUserStore(db),
    clock: { now: () => Date.now() },
  });
  await service.start();
  return service;
}

/** The configured folders, or the demo library (made once with ffmpeg) when none is given. */
async function libraryFoldersOf(config: Config, logger: Logger): Promise<readonly string[]> {
  if (config.library.folders.length > 0 || !config.library.demo) return config.library.folders;
  const folder = join(config.dataDir, "demo-library");
  logger.info({ folder }, "no library folder given: using the demo library");
  await ensureDemoLibrary(folder, (progress) => logger.info(progress, "making the demo library"));
  return [folder];
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

export async function startAllInOne(config: Config, logger: Logger): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger, registry);
  const stops: Array<() => Promise<void>> = [];
  try {
    const user = await startUserService(config, logger, bus, db);
    stops.push(() => user.stop());
    const tracker = createTrackerService({
      logger: logger.child({ service: "tracker" }),
      bus: bus.connect(trackerManifest),
    });
    await tracker.start();
    stops.push(() => tracker.stop());
    const library = await startLibraryServices(
      config,
      logger,
      bus,
      db,
      await libraryFoldersOf(config, logger),
    );
    stops.unshift(() => library.stop());
    const playlist = await startPlaylistService(logger, bus, db, config.covers);
    stops.unshift(() => playlist.stop());
    // Search started first and could not read the playlists yet: build its playlist index now, not at the retry.
    library.search.rebuildPlaylists();
    const apBus = bus.connect(accessPointManifest);
    registerP2pMetrics(registry, apBus, logger);
    registerStorageMetrics(registry, apBus, logger);
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
      ],
      topics: [...libraryTopics, ...playlistTopics(apBus)],
      plugins: [
        (app, identities) =>
          registerStreamRoutes(app, { bus: apBus, reader: storageReader(apBus), identities }),
        (app, identities) => registerCoverRoute(app, apBus, identities),
        (app, identities) => registerPlaylistCoverRoute(app, apBus, identities),
      ],
      webRoot,
    });
    stops.unshift(() => accessPoint.close());
    const url = await accessPoint.listen();
    const address = accessPoint.app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    logger.info({ url, dataDir: config.dataDir, database: db.dialect }, "soundmesh started");
    // The first scan runs in the background; the server answers meanwhile and pushes progress.
    library.catalog.startScan(false);
    return {
      url: `http://${config.host}:${port}`,
      port,
      bus,
      registry,
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

/** For CLI commands: the database and the user service on a private bus, closed after `work`. */
export async function openUserAdmin(config: Config, work: (bus: ServiceBus) => Promise<void>): Promise<void> {
  mkdirSync(config.dataDir, { recursive: true });
  const logger = createLogger("warn");
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger);
  try {
    const user = await startUserService(config, logger, bus, db);
    try {
      await work(bus.connect({ service: "cli", calls: ["user"] }));
    } finally {
      await user.stop();
    }
  } finally {
    await bus.close();
    await db.close();
  }
}

/** For `soundmesh scan`: one scan of the library folders on the database directly, with progress. */
export async function scanOnce(
  config: Config,
  options: { full: boolean; onProgress: (status: ScanStatus) => void },
): Promise<ScanResult | undefined> {
  mkdirSync(config.dataDir, { recursive: true });
  const logger = createLogger("warn");
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger);
  try {
    const catalog = await startCatalogService(
      config,
      logger,
      bus,
      db,
      await libraryFoldersOf(config, logger),
      false,
    );
    const unsubscribe = catalog.onProgress(options.onProgress);
    try {
      catalog.startScan(options.full);
      return await catalog.scanFinished();
    } finally {
      unsubscribe();
      await catalog.stop();
    }
  } finally {
    await bus.close();
    await db.close();
  }
}
