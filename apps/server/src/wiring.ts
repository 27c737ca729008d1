// The database and the in-process bus, wired the same way by every mode and CLI command. Kept apart from
// all-in-one.ts so `soundmesh user` and `soundmesh scan` load none of the HTTP side.
import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import { createDb, type Db } from "@soundmesh/db";
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
