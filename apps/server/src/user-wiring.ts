// The user service as the server and the CLI wire it: its tables migrated, its settings from the configuration.
import type { Logger } from "pino";
import type { Bus, ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import { userContract } from "@soundmesh/protocol";
import {
  createSqlUserStore,
  createUserService,
  migrateUserStore,
  userManifest,
} from "@soundmesh/service-user";
import type { Config } from "./config";
import { loadSubsonicKey } from "./subsonic-key";

/**
 * The user service on `bus`, its tables migrated, not started. `followStanding`: announce changes other processes
 * make (the CLI's); the CLI's own instance does not.
 */
export async function createUserServiceFor(
  config: Config,
  logger: Logger,
  bus: Bus,
  db: Db,
  followStanding = true,
) {
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
    followStanding,
    subsonicKey: loadSubsonicKey(config.dataDir),
  });
}

export async function startUserService(config: Config, logger: Logger, bus: Bus, db: Db) {
  const service = await createUserServiceFor(config, logger, bus, db);
  await service.start();
  return service;
}

/** Creates the configured first admin (SOUNDMESH_ADMIN_NAME/PASSWORD) when none exists yet. */
export async function bootstrapAdmin(config: Config, bus: ServiceBus, logger: Logger): Promise<void> {
  const { name, password } = config.admin;
  if (!name || !password) return;
  const { needsSetup } = await bus.request(userContract, "setupStatus", {});
  if (!needsSetup) return;
  await bus.request(userContract, "createFirstAdmin", { name, password });
  logger.info({ name }, "created the first administrator from the configuration");
}
