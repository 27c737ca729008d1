// One service as a process of its own in cluster mode: its NATS connection (its NKey, its inbox), PostgreSQL for
// the services with SQL state, the same wiring as all-in-one. Mistyped names, an unreachable NATS or PostgreSQL
// stop the start with one typed error each.
import { mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import { createBus, type Bus, type Transport } from "@soundmesh/bus";
import {
  connectNats,
  createNatsTransport,
  inboxPrefixOf,
  type NatsTransportOptions,
} from "@soundmesh/bus/nats";
import type { Db } from "@soundmesh/db";
import { AppError } from "@soundmesh/protocol";
import { accessPointManifest } from "@soundmesh/service-access-point";
import { topologyManifest } from "@soundmesh/service-topology";
import { createTrackerService, trackerManifest } from "@soundmesh/service-tracker";
import { userManifest } from "@soundmesh/service-user";
import { createAccessPointFor, listeningPort } from "../access-point-wiring";
import { startCatalogService } from "../catalog-wiring";
import type { Config } from "../config";
import { startEventsService } from "../events-wiring";
import { createSearchFor, createStorageFor } from "../library-services";
import { resolveLibraryFolders, type LibraryChoice } from "../library-folders";
import { startPlaylistService } from "../playlist-services";
import { startRecommendService } from "../recommend-wiring";
import { serviceManifests } from "../topology-declarations";
import { startReporter, startTopology } from "../topology-wiring";
import { bootstrapAdmin, startUserService } from "../user-wiring";
import { openDb } from "../wiring";
import { checkServiceName, sqlServices, type ClusterService } from "./cluster-services";
import {
  bucketReplicas,
  handOverTargetOf,
  handOverWithinMs,
  handoffPeersOf,
  replicaTargetsOf,
  joinStorageRing,
  readThroughRing,
  announceAccessPoint,
} from "./ring-wiring";

export interface ServiceProcessOptions {
  service: string;
  /** This process's id (a storage node's place on the ring); default: host name and process id. */
  nodeId?: string;
  library?: LibraryChoice;
}

export interface RunningServiceProcess {
  service: ClusterService;
  nodeId: string;
  /** Where an access point listens. */
  url?: string;
  stop(): Promise<void>;
}

type Stop = () => Promise<void>;

const defaultNodeId = (service: string) =>
  `${service}-${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 64);

/** host:port/database of a PostgreSQL URL, never its password. */
function describeDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`;
  } catch {
    return "the configured URL";
  }
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The service's NATS options: its NKey seed from the keys folder when one is configured. */
export function natsOptionsFor(
  config: Config,
  service: ClusterService,
  nodeId: string,
): NatsTransportOptions {
  const options: NatsTransportOptions = {
    servers: [...config.nats.servers],
    name: `soundmesh ${service} ${nodeId}`,
  };
  const keysDir = config.nats.keysDir;
  if (keysDir === undefined) return options;
  const file = join(keysDir, `${service}.nk`);
  let seed: string;
  try {
    seed = readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new AppError(
      "VALIDATION_FAILED",
      `no NKey for ${service} at ${file} (${(error as NodeJS.ErrnoException).code ?? reasonOf(error)}); ` +
        `write the keys with soundmesh nats-config --keys ${keysDir}`,
    );
  }
  return { ...options, nkeySeed: seed, inboxPrefix: inboxPrefixOf(service) };
}

async function connectTransport(nats: NatsTransportOptions): Promise<Transport> {
  try {
    return await createNatsTransport(nats);
  } catch (error) {
    const servers = Array.isArray(nats.servers) ? nats.servers.join(", ") : nats.servers;
    throw new AppError("UNAVAILABLE", `cannot reach NATS at ${servers}: ${reasonOf(error)}`, {
      cause: error,
    });
  }
}

/** PostgreSQL, answering: cluster mode keeps no SQL state in files. */
async function openClusterDb(config: Config, logger: Logger, service: string): Promise<Db> {
  if (!config.databaseUrl) {
    throw new AppError(
      "VALIDATION_FAILED",
      `${service} keeps its state in PostgreSQL in cluster mode: give --database-url or SOUNDMESH_DATABASE_URL`,
    );
  }
  const db = openDb(config, logger);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      sql`select 1`.execute(db.kysely),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer within 10 s")), 10_000);
      }),
    ]);
    return db;
  } catch (error) {
    await db.close().catch(() => undefined);
    throw new AppError(
      "UNAVAILABLE",
      `cannot reach PostgreSQL at ${describeDatabase(config.databaseUrl)}: ${reasonOf(error)}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Starts what `service` is on `bus`; returns its stops (first to run first) and an access point's URL. */
async function startService(
  service: ClusterService,
  context: {
    config: Config;
    logger: Logger;
    bus: Bus;
    db: Db | undefined;
    registry: Registry;
    nats: NatsTransportOptions;
    nodeId: string;
    library: LibraryChoice | undefined;
  },
): Promise<{ stops: Stop[]; url?: string }> {
  const { config, logger, bus, registry, nodeId } = context;
  const db = () => context.db!;
  switch (service) {
    case "user": {
      const user = await startUserService(config, logger, bus, db());
      await bootstrapAdmin(config, bus.connect(userManifest), logger);
      return { stops: [() => user.stop()] };
    }
    case "tracker": {
      const tracker = createTrackerService({
        logger: logger.child({ service: "tracker" }),
        bus: bus.connect(trackerManifest),
      });
      await tracker.start();
      return { stops: [() => tracker.stop()] };
    }
    case "catalog": {
      const folders = await resolveLibraryFolders(config, logger, db(), context.library);
      // Resized covers are kept by the storage nodes (the access points read them through the ring), not here.
      const catalog = await startCatalogService(
        config,
        logger,
        bus,
        db(),
        folders,
        config.library.watch,
        false,
      );
      catalog.startScan(false);
      return { stops: [() => catalog.stop()] };
    }
    case "search": {
      const search = createSearchFor(config, logger, bus, { serveWhenBuilt: true });
      await search.start();
      return { stops: [() => search.stop()] };
    }
    case "storage": {
      // Each node's rendition cache is on its own disk (its data dir); the ring says which node owns what.
      // A rendition it now owns but lacks is taken from the nodes that held it (a handoff), not transcoded again.
      let ring: Awaited<ReturnType<typeof joinStorageRing>> | undefined = undefined;
      const storage = createStorageFor(config, logger, bus, join(config.dataDir, "renditions"), {
        nodeId,
        handoffPeers: handoffPeersOf(() => ring?.ring(), nodeId),
        // Each rendition it makes or takes is copied to the key's other owner: a node killed for good loses none.
        replicaTargets: replicaTargetsOf(() => ring?.ring(), nodeId),
      });
      await storage.start();
      // Once the ring settles after a change (and at start), what this node holds is offered to its keys' replicas.
      const joined = await joinStorageRing(context.nats, nodeId, logger, () => {
        const queued = storage.replicateHeld();
        if (queued > 0) logger.info({ renditions: queued }, "held renditions offered to their replicas");
      });
      ring = joined;
      // A clean stop hands its renditions to their next owners (for a few seconds), then leaves the ring.
      const handOverFirst = async () => {
        const handed = await storage.handOver(
          handOverTargetOf(() => joined.ring(), nodeId),
          handOverWithinMs,
        );
        logger.info(handed, "renditions handed over before leaving the ring");
      };
      return { stops: [handOverFirst, () => joined.stop(), () => storage.stop()] };
    }
    case "playlist": {
      const playlist = await startPlaylistService(logger, bus, db(), config.covers);
      return { stops: [() => playlist.stop()] };
    }
    case "events": {
      // Every events process shares the JetStream event log (services/events/src/jetstream-log.ts).
      const connection = await connectNats(context.nats);
      const events = await startEventsService(config, logger, bus, db(), {
        nats: connection,
        replicas: bucketReplicas(context.nats.servers),
      }).catch(async (error: unknown) => {
        await connection.close();
        throw error;
      });
      return { stops: [() => events.stop(), () => connection.close()] };
    }
    case "recommend": {
      // The job runner lives with the events service's tables: in a cluster the index is built when asked
      // (`recommend.rebuild`, `soundmesh radio rebuild`), not on the runner's schedule.
      const recommend = await startRecommendService(config, logger, bus, null);
      return { stops: [() => recommend.stop()] };
    }
    case "topology": {
      // Its reporter speaks for this process only: every other process reports its own edges.
      const topology = await startTopology(config, logger, bus, registry, [topologyManifest]);
      return { stops: [() => topology.stop()] };
    }
    case "access-point": {
      const apBus = bus.connect(accessPointManifest);
      const ring = await readThroughRing(context.nats, apBus, logger);
      const accessPoint = await createAccessPointFor(
        config,
        logger,
        apBus,
        registry,
        ring.reader,
        ring.covers,
      );
      await accessPoint.listen();
      const url = `http://${config.host}:${listeningPort(accessPoint, config.port)}`;
      // Its clients are told of the other access points, to move to one when this one fails. In the background: a
      // broker config from before the access points' bucket (`soundmesh nats-config` not run again) refuses it, and
      // the access point serves on without telling.
      const announcement = announceAccessPoint(
        context.nats,
        context.nodeId,
        `${url.replace(/^http/, "ws")}/ws`,
        logger,
      ).then(
        (announced) => {
          accessPoint.announceAccessPoints(announced);
          return announced;
        },
        (error: unknown) => {
          logger.warn({ err: error }, "access point not announced: clients are not told of the others");
          return undefined;
        },
      );
      return {
        stops: [async () => (await announcement)?.stop(), () => accessPoint.close(), () => ring.stop()],
        url,
      };
    }
  }
}

export async function startServiceProcess(
  config: Config,
  baseLogger: Logger,
  options: ServiceProcessOptions,
): Promise<RunningServiceProcess> {
  const service = checkServiceName(options.service);
  const nodeId = options.nodeId ?? defaultNodeId(service);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) {
    throw new AppError(
      "VALIDATION_FAILED",
      `--node is 1-64 letters, digits, _ or -, not ${JSON.stringify(nodeId)}`,
    );
  }
  const logger = baseLogger.child({ node: nodeId });
  const nats = natsOptionsFor(config, service, nodeId);
  mkdirSync(config.dataDir, { recursive: true });
  // PostgreSQL first: a wrong URL stops the start before anything joins the bus.
  const db = sqlServices.includes(service) ? await openClusterDb(config, logger, service) : undefined;
  let transport: Transport;
  try {
    transport = await connectTransport(nats);
  } catch (error) {
    await db?.close();
    throw error;
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // The callee checks its callers too: every manifest is known, so a caller outside them is refused.
  const bus = createBus({
    transport,
    logger: logger.child({ component: "bus" }),
    rateLimits: { default: config.rateLimits.busDefault, edges: config.rateLimits.busEdges },
    registry,
    manifests: serviceManifests,
  });
  const closeAll = async (stops: Stop[]) => {
    for (const stop of stops)
      await stop().catch((error: unknown) => logger.warn({ err: error }, "stop failed"));
    await bus.close();
    await db?.close();
  };
  let started: { stops: Stop[]; url?: string };
  try {
    started = await startService(service, {
      config,
      logger,
      bus,
      db,
      registry,
      nats,
      nodeId,
      library: options.library,
    });
  } catch (error) {
    await closeAll([]);
    throw error;
  }
  // Every process reports its own edges and sockets to the live map (the topology process's reporter is its own).
  const manifest = serviceManifests.find((m) => m.service === service);
  const reporter =
    service === "topology" || !manifest ? undefined : startReporter(config, logger, bus, [manifest], service);
  logger.info({ service, url: started.url }, "service started");
  return {
    service,
    nodeId,
    ...(started.url === undefined ? {} : { url: started.url }),
    stop: () => {
      reporter?.stop();
      return closeAll(started.stops);
    },
  };
}
