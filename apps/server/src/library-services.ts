// Wires the library side: catalog (scans) and storage (renditions); search is created here and started by the caller.
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Bus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import { catalogContract } from "@soundmesh/protocol";
import type { CatalogService } from "@soundmesh/service-catalog";
import {
  catalogSearchSource,
  createSearchService,
  playlistSearchSource,
  searchManifest,
  type SearchService,
} from "@soundmesh/service-search";
import {
  createStorageService,
  storageManifest,
  type HandoffPeers,
  type ReplicaTargets,
  type StorageService,
} from "@soundmesh/service-storage";
import { startCatalogService } from "./catalog-wiring";
import type { Config } from "./config";

export interface LibraryServices {
  catalog: CatalogService;
  storage: StorageService;
  stop(): Promise<void>;
}

/**
 * The search service on `bus`, not started. All-in-one serves at once (from an empty index until the first build);
 * a cluster replica (`serveWhenBuilt`) joins the queue group only once its whole index is built.
 */
export function createSearchFor(
  config: Config,
  logger: Logger,
  bus: Bus,
  { serveWhenBuilt }: { serveWhenBuilt: boolean },
): SearchService {
  const searchBus = bus.connect(searchManifest);
  return createSearchService({
    logger: logger.child({ service: "search" }),
    bus: searchBus,
    source: catalogSearchSource(searchBus),
    // In a cluster the playlist service may start after search: the playlist index is retried until it answers.
    playlists: playlistSearchSource(searchBus),
    clock: { now: () => Date.now() },
    rebuildEveryMs: config.search.rebuildEveryHours * 3600_000,
    serveWhenBuilt,
  });
}

/** The storage service with its rendition cache in `cacheDir`; in cluster mode `nodeId` is its place on the ring. */
export function createStorageFor(
  config: Config,
  logger: Logger,
  bus: Bus,
  cacheDir: string,
  /**
   * Cluster mode: this node's id on the ring, where it takes renditions from when the ring changes, and where it
   * copies those it makes.
   */
  cluster?: { nodeId: string; handoffPeers: HandoffPeers; replicaTargets: ReplicaTargets },
): StorageService {
  const storageBus = bus.connect(storageManifest);
  return createStorageService({
    config: {
      cacheDir,
      capBytes: config.cache.maxBytes,
      profiles: config.transcode.profiles,
      prepareProfiles: [...config.transcode.ahead],
      // The most recently added tracks a scan brings are transcoded ahead (storage follows catalog.changed).
      prepareAfterScan: 100,
      warmFfmpeg: config.transcode.warm,
      scheduler: {
        maxConcurrent: config.transcode.maxConcurrent,
        maxPerUser: config.transcode.maxPerUser,
        maxQueued: config.transcode.maxQueued,
      },
      ...(cluster === undefined ? {} : { nodeId: cluster.nodeId }),
      // Beside the renditions: a cluster's storage node keeps the covers it serves on its own disk.
      coverDir: join(dirname(cacheDir), "covers"),
      // A fortieth of the rendition cache's budget (256 MiB of the default 10 GiB): covers are tens of KiB each.
      coverMaxBytes: Math.floor(config.cache.maxBytes / 40),
    },
    logger: logger.child({ service: "storage" }),
    bus: storageBus,
    resolveSource: (trackId) => storageBus.request(catalogContract, "trackSource", { trackId }),
    ...(cluster === undefined
      ? {}
      : { handoffPeers: cluster.handoffPeers, replicaTargets: cluster.replicaTargets }),
  });
}

export async function startLibraryServices(
  config: Config,
  logger: Logger,
  bus: Bus,
  db: Db,
  libraryFolders: readonly string[],
  onStage: (stage: string) => void = () => undefined,
): Promise<LibraryServices> {
  const stops: Array<() => Promise<void>> = [];
  const storage = createStorageFor(config, logger, bus, join(config.dataDir, "renditions"));
  await storage.start();
  stops.push(() => storage.stop());
  onStage("storage");
  const catalog = await startCatalogService(config, logger, bus, db, libraryFolders, config.library.watch);
  stops.unshift(() => catalog.stop());
  onStage("catalog (with its folder watches)");
  return {
    catalog,
    storage,
    async stop() {
      for (const stop of stops) await stop();
    },
  };
}
