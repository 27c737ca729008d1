// Wires every service into one process: SQLite (or PostgreSQL), the in-process bus, the access point.
import { mkdirSync } from "node:fs";
import type { Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { Bus } from "@soundmesh/bus";
import { accessPointManifest } from "@soundmesh/service-access-point";
import { createTrackerService, trackerManifest } from "@soundmesh/service-tracker";
import { createAccessPointFor, listeningPort } from "./access-point-wiring";
import type { Config } from "./config";
import { createSearchFor, startLibraryServices } from "./library-services";
import { startPlaylistService } from "./playlist-services";
import { startEventsService } from "./events-wiring";
import { scheduleRadioIndex, startRecommendService } from "./recommend-wiring";
import { startMemoryRelease } from "./memory-release";
import { resolveLibraryFolders, type LibraryChoice } from "./library-folders";
import { startTopology, type RunningTopology } from "./topology-wiring";
import { bootstrapAdmin, startUserService } from "./user-wiring";
import { createBusFor, openDb } from "./wiring";

export interface RunningServer {
  url: string;
  port: number;
  bus: Bus;
  registry: Registry;
  topology: RunningTopology;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** What to do when --library names folders that are not the recorded ones. */
  library?: LibraryChoice;
  /** Called as each part has been created (bench/heap-parts.ts measures memory there); synchronous. */
  onStage?: (stage: string) => void;
}

/**
 * How often /metrics' event-loop delay (nodejs_eventloop_lag_*, since the last scrape) samples the loop: prom-client's
 * 10 ms, or SOUNDMESH_EVENT_LOOP_RESOLUTION_MS (bench/playlist.ts takes 1 ms, to see blocks of a few milliseconds).
 */
function eventLoopResolutionMs(): number {
  const resolution = Number(process.env.SOUNDMESH_EVENT_LOOP_RESOLUTION_MS ?? 10);
  return Number.isInteger(resolution) && resolution >= 1 ? resolution : 10;
}

export async function startAllInOne(
  config: Config,
  logger: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  const onStage = options.onStage ?? (() => undefined);
  mkdirSync(config.dataDir, { recursive: true });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: eventLoopResolutionMs() });
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
    onStage("playlist");
    // Search reads the catalog and the playlists as it starts: after both, so its first calls find them up
    // (before, its first playlist read failed and the topology raised a search → playlist alert at every start).
    const search = createSearchFor(config, logger, bus, { serveWhenBuilt: false });
    await search.start();
    stops.unshift(() => search.stop());
    onStage("search (empty index)");
    const events = await startEventsService(config, logger, bus, db);
    stops.unshift(() => events.stop());
    const recommend = await startRecommendService(config, logger, bus, events.jobs);
    stops.unshift(() => recommend.stop());
    const topology = await startTopology(config, logger, bus, registry);
    stops.unshift(() => topology.stop());
    onStage("topology");
    const apBus = bus.connect(accessPointManifest);
    await bootstrapAdmin(config, apBus, logger);
    // Pieces are read from storage's store directly, not over the bus (rendition-reader.ts says why).
    const accessPoint = await createAccessPointFor(config, logger, apBus, registry, library.storage.store);
    stops.unshift(() => accessPoint.close());
    const url = await accessPoint.listen();
    onStage("access point");
    const port = listeningPort(accessPoint, config.port);
    logger.info({ url, dataDir: config.dataDir, database: db.dialect }, "soundmesh started");
    // After a scan or a rebuild, once the process goes quiet, what they used goes back to the system.
    const memoryRelease = startMemoryRelease({
      releaseCaches: () => db.releaseMemory(),
      onRelease: ({ heapTotalBefore, heapTotalAfter, mallocTrimmed, durationMs }) =>
        logger.debug(
          { heapTotalBefore, heapTotalAfter, mallocTrimmed, durationMs: Math.round(durationMs) },
          "memory handed back after a busy spell",
        ),
    });
    stops.unshift(() => Promise.resolve(memoryRelease.stop()));
    // The first scan runs in the background; the server answers meanwhile and pushes progress.
    library.catalog.startScan(false);
    // The radio index's schedule starts once the first scan is done, so its first build has the library's tracks.
    void library.catalog
      .scanFinished()
      .catch(() => undefined)
      .then(() => scheduleRadioIndex(config, events.jobs));
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
