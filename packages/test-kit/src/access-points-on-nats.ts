// Several access points in front of one set of services, every one on its own connection to a real nats-server, for
// tests and benches of what crosses access points (pushes, sessions). Each access point and the services are wired
// as separate processes would be: nothing is shared between them but NATS and the database.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { createBus, type Bus } from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import { catalogContract, playlistContract, userContract } from "@soundmesh/protocol";
import {
  accessPointManifest,
  createAccessPoint,
  defaultAccessPointConfig,
  type AccessPoint,
  type AccessPointConfig,
} from "@soundmesh/service-access-point";
import {
  createLogger,
  loadConfig,
  openDb,
  startCatalogService,
  startPlaylistService,
  startUserService,
} from "@soundmesh/server";
import { startNatsServer, type NatsServer } from "./nats";
import { fastSecurity } from "./server";

export interface AccessPointsOnNats {
  nats: NatsServer;
  /** Each access point's base URL (http://127.0.0.1:port), in the order they were started. */
  urls: string[];
  stop(): Promise<void>;
}

/**
 * A nats-server, the user, catalog (empty library) and playlist services on one bus connection with a SQLite
 * database, and `count` access points, each on a NATS connection of its own.
 */
export async function startAccessPointsOnNats(
  count = 2,
  accessPointConfig: Partial<AccessPointConfig> = {},
): Promise<AccessPointsOnNats> {
  const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-aps-"));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      port: 0,
      logLevel: process.env.SOUNDMESH_TEST_LOG_LEVEL ?? "silent",
      library: { folders: [], demo: false, watch: false },
      security: fastSecurity,
    },
  });
  const logger = createLogger(config.logLevel);
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) await step().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const nats = await startNatsServer();
    stops.push(() => nats.stop());
    const natsBus = async (): Promise<Bus> => {
      const bus = createBus({ transport: await createNatsTransport({ servers: nats.url }) });
      stops.push(() => bus.close());
      return bus;
    };
    const db = openDb(config, logger);
    stops.push(() => db.close());
    const servicesBus = await natsBus();
    const user = await startUserService(config, logger, servicesBus, db);
    stops.push(() => user.stop());
    const catalog = await startCatalogService(config, logger, servicesBus, db, [], false);
    stops.push(() => catalog.stop());
    const playlist = await startPlaylistService(logger, servicesBus, db);
    stops.push(() => playlist.stop());
    const accessPoints: AccessPoint[] = [];
    for (let i = 0; i < count; i++) {
      const accessPoint = await createAccessPoint({
        config: { ...defaultAccessPointConfig, port: 0, ...accessPointConfig },
        logger: logger.child({ accessPoint: i }),
        bus: (await natsBus()).connect(accessPointManifest),
        registry: new Registry(),
        contracts: [userContract, catalogContract, playlistContract],
      });
      stops.push(() => accessPoint.close());
      await accessPoint.listen();
      accessPoints.push(accessPoint);
    }
    const urls = accessPoints.map((accessPoint) => {
      const address = accessPoint.app.server.address();
      return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    });
    return { nats, urls, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
