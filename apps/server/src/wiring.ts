// The pieces every mode and CLI command wires the same way: the database, the in-process bus, the user service.
// Kept apart from all-in-one.ts so `soundmesh user` loads none of the HTTP side.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import { createDb, type Db } from "@soundmesh/db";
import {
  createSqlUserStore,
  createUserService,
  migrateUserStore,
  userManifest,
} from "@soundmesh/service-user";
import type { Config } from "./config";

export function openDb(config: Config, logger: Logger): Db {
  const onPoolError = (error: Error) =>
    logger.warn({ err: error }, "a PostgreSQL connection failed; the pool replaces it");
  return config.databaseUrl
    ? createDb({ kind: "postgres", url: config.databaseUrl }, { onPoolError })
    : createDb({ kind: "sqlite", file: join(config.dataDir, "soundmesh.db") });
}

export function createBusFor(config: Config, logger: Logger, registry?: Registry): Bus {
  return createInProcessBus({
    logger: logger.child({ component: "bus" }),
    rateLimits: { default: config.rateLimits.busDefault, edges: config.rateLimits.busEdges },
    ...(registry ? { registry } : {}),
  });
}

/** The user service on `bus`, its tables migrated, not started (see openUserAdmin for why the CLI needs that). */
export async function createUserServiceFor(config: Config, logger: Logger, bus: Bus, db: Db) {
  await migrateUserStore(db);
  return createUserService({
    config: {
      sessionTtlMs: config.security.sessionTtlMs,
      argon2: { memoryCost: config.security.argon2MemoryKiB, timeCost: config.security.argon2TimeCost },
    },
    logger: logger.child({ service: "user" }),
    bus: bus.connect(userManifest),
    store: createSqlUserStore(db),
    clock: { now: () => Date.now() },
  });
}

export async function startUserService(config: Config, logger: Logger, bus: Bus, db: Db) {
  const service = await createUserServiceFor(config, logger, bus, db);
  await service.start();
  return service;
}
