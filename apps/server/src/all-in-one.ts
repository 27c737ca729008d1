// Wires every service into one process: SQLite (or PostgreSQL), the in-process bus, the access point.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { createInProcessBus, type Bus, type ServiceBus } from "@soundmesh/bus";
import { createDb, type Db } from "@soundmesh/db";
import { trackerContract, userContract } from "@soundmesh/protocol";
import { accessPointManifest, createAccessPoint } from "@soundmesh/service-access-point";
import { createTrackerService, trackerManifest } from "@soundmesh/service-tracker";
import {
  createSqlUserStore,
  createUserService,
  migrateUserStore,
  userManifest,
} from "@soundmesh/service-user";
import type { Config } from "./config";
import { createLogger } from "./logger";

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
    const apBus = bus.connect(accessPointManifest);
    await bootstrapAdmin(config, apBus, logger);
    const accessPoint = await createAccessPoint({
      config: {
        host: config.host,
        port: config.port,
        secureCookies: config.security.secureCookies,
        userRateLimit: config.rateLimits.perUser,
        requestTimeoutMs: 10_000,
        shutdownGraceMs: 5_000,
      },
      logger,
      bus: apBus,
      registry,
      contracts: [userContract, trackerContract],
      webRoot,
    });
    stops.unshift(() => accessPoint.close());
    const url = await accessPoint.listen();
    const address = accessPoint.app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    logger.info({ url, dataDir: config.dataDir, database: db.dialect }, "soundmesh started");
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
