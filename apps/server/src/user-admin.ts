// For `soundmesh user …`: the database and the user service on a private bus, nothing else (no HTTP, no media).
import { mkdirSync } from "node:fs";
import type { ServiceBus } from "@soundmesh/bus";
import { userContract } from "@soundmesh/protocol";
import { userManifest } from "@soundmesh/service-user";
import type { Config } from "./config";
import { createLogger } from "./logger";
import { createUserServiceFor } from "./user-wiring";
import { createBusFor, openDb } from "./wiring";

/**
 * For CLI commands: the database and the user service's handlers on a private bus, closed after `work`. The service
 * is not started: starting makes the dummy password hash that evens out sign-in timing and a pruning timer, and a
 * command that signs nobody in and exits at once needs neither (the hash alone is an argon2 run at full cost). A
 * running server hears of what it changes through the user service's outbox (its follower closes the sockets).
 */
export async function openUserAdmin(config: Config, work: (bus: ServiceBus) => Promise<void>): Promise<void> {
  mkdirSync(config.dataDir, { recursive: true });
  const logger = createLogger("warn");
  const db = openDb(config, logger);
  const bus = createBusFor(config, logger);
  try {
    const user = await createUserServiceFor(config, logger, bus, db, false);
    const serving = await bus.connect(userManifest).serve(userContract, user.handlers);
    try {
      await work(bus.connect({ service: "cli", calls: ["user"] }));
    } finally {
      await serving.unsubscribe();
    }
  } finally {
    await bus.close();
    await db.close();
  }
}
