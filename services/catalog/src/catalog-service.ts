// The catalog service: background scans with progress events, optional folder watching, and the browse methods.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  AppError,
  MAX_REMOVED_IDS,
  catalogChangedEvent,
  catalogContract,
  scanProgressEvent,
  type CatalogContract,
  type HandlersOf,
  type ScanStatus,
} from "@soundmesh/protocol";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import { AlbumCovers, defaultCoverLimits, type CoverLimits } from "./covers";
import { scanProblemOf } from "./library-safety";
import { watchFolders, type FolderWatcher } from "./folder-watcher";
import { matchEntries, relativePathOf } from "./playlist-matching";
import { scanLibrary, type ScanResult } from "./scanner";
import type { CatalogStore } from "./store";

export const catalogManifest = {
  service: "catalog",
  calls: [],
  publishes: ["catalog.changed", "catalog.scanProgress"],
} as const satisfies ServiceManifest;

export interface CatalogServiceConfig {
  libraryFolders: readonly string[];
  /** Where resized cover art is cached. */
  cacheDir: string;
  watch?: boolean;
  watchDebounceMs?: number;
  /** Cover images over the pixel cap are never decoded (a scan records why); decodes run a few at a time. */
  covers?: Partial<CoverLimits>;
  /** Keep resized covers in cacheDir (default). Off in a cluster: the storage nodes keep them on their disks. */
  cacheCovers?: boolean;
}

export interface CatalogServiceDeps {
  config: CatalogServiceConfig;
  logger: Logger;
  bus: ServiceBus;
  store: CatalogStore;
  clock: { now(): number };
}

export interface CatalogService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<CatalogContract>;
  /** Album art: resized on demand, bounded in pixels and in decodes at once. */
  covers: AlbumCovers;
  /**
   * Starts a scan, or returns the running one; resolves with its id at once. Only an explicit allowMassRemoval lets
   * a scan remove more than a quarter of a folder's tracks (watcher and start-up scans never do).
   */
  startScan(full?: boolean, allowMassRemoval?: boolean): string;
  /** Resolves when the current scan (if any) has finished. */
  scanFinished(): Promise<ScanResult | undefined>;
  status(): ScanStatus;
  onProgress(listener: (status: ScanStatus) => void): () => void;
}

const idleStatus = (): ScanStatus => ({
  scanId: null,
  running: false,
  phase: "idle",
  done: 0,
  total: 0,
  added: 0,
  updated: 0,
  removed: 0,
  errors: 0,
  startedAt: null,
  finishedAt: null,
  problem: null,
});

export function createCatalogService({
  config,
  logger,
  bus,
  store,
  clock,
}: CatalogServiceDeps): CatalogService {
  let status = idleStatus();
  let running: Promise<ScanResult | undefined> | undefined;
  let rerun = false;
  let lastPublishMs = 0;
  let subscription: Subscription | undefined;
  let watcher: FolderWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const listeners = new Set<(status: ScanStatus) => void>();
  const coverLimits = { ...defaultCoverLimits, ...config.covers };
  const covers = new AlbumCovers(
    config.cacheCovers === false ? undefined : join(config.cacheDir, "covers"),
    coverLimits,
    logger,
  );

  const emit = (force = false) => {
    for (const listener of listeners) listener(status);
    const now = clock.now();
    if (!force && now - lastPublishMs < 250) return;
    lastPublishMs = now;
    bus
      .publish(scanProgressEvent, status)
      .catch((error: unknown) => logger.warn({ err: error }, "scan progress not published"));
  };

  async function runScan(
    scanId: string,
    full: boolean,
    allowMassRemoval: boolean,
  ): Promise<ScanResult | undefined> {
    try {
      const { removedIds, ...result } = await scanLibrary({
        roots: config.libraryFolders,
        store,
        nowMs: () => clock.now(),
        full,
        allowMassRemoval,
        maxCoverPixels: coverLimits.maxPixels,
        onProgress: (progress) => {
          status = { ...status, ...progress, phase: progress.phase === "idle" ? "saving" : progress.phase };
          emit();
        },
      });
      status = { ...status, ...result, running: false, phase: "idle", finishedAt: clock.now() };
      emit(true);
      logger.info({ scanId, ...result }, "scan finished");
      await store
        .releaseMemory()
        .catch((error: unknown) => logger.warn({ err: error }, "scan memory not released"));
      if (result.added + result.updated + result.removed > 0) {
        await bus.publish(catalogChangedEvent, {
          scanId,
          added: result.added,
          updated: result.updated,
          removed: result.removed,
          // Search forgets these at once; past the cap it checks its track hits with the catalog instead.
          ...(removedIds.length <= MAX_REMOVED_IDS ? { removedTrackIds: removedIds } : {}),
        });
      }
      return { ...result, removedIds };
    } catch (error) {
      const problem = scanProblemOf(error) ?? {
        code: "INTERNAL" as const,
        message: "the scan failed; the server log says why",
        folder: null,
        wouldRemove: null,
        canConfirm: false,
      };
      if (problem.code === "INTERNAL") logger.error({ err: error, scanId }, "scan failed");
      else logger.warn({ scanId, ...problem }, "scan stopped: nothing was removed");
      status = { ...status, running: false, phase: "idle", finishedAt: clock.now(), problem };
      emit(true);
      return undefined;
    }
  }

  function startScan(full = false, allowMassRemoval = false): string {
    if (running && status.scanId) return status.scanId;
    const scanId = randomBytes(8).toString("base64url");
    status = { ...idleStatus(), scanId, running: true, phase: "walking", startedAt: clock.now() };
    emit(true);
    running = runScan(scanId, full, allowMassRemoval).finally(() => {
      running = undefined;
      if (rerun) {
        rerun = false;
        startScan(false);
      }
    });
    return scanId;
  }

  const requireAlbum = async (albumId: string) => {
    const album = await store.album(albumId);
    if (!album) throw new AppError("NOT_FOUND", "No such album");
    return album;
  };

  const handlers: HandlersOf<CatalogContract> = {
    artists: ({ sort, limit, offset }) => store.artists(sort, limit, offset),
    artist: async ({ artistId }) => {
      const found = (await store.artists("name", 1, 0, artistId)).items[0];
      if (!found) throw new AppError("NOT_FOUND", "No such artist");
      return found;
    },
    albumsOfArtist: ({ artistId, role, limit, offset }) =>
      store.albums({ artistId, role }, "year", limit, offset),
    albums: ({ sort, limit, offset }) => store.albums({}, sort, limit, offset),
    album: async ({ albumId }) => {
      // An old id answers with the album its tracks now form (album.id says which).
      const album = await requireAlbum(albumId);
      return { album, tracks: await store.trackRecords(await store.tracksOfAlbum(album.id)) };
    },
    track: async ({ trackId }) => {
      const row = await store.track(trackId);
      if (!row) throw new AppError("NOT_FOUND", "No such track");
      return (await store.trackRecords([row]))[0]!;
    },
    tracks: async ({ trackIds }) => {
      const rows = new Map((await store.tracksByIds(trackIds)).map((row) => [row.id, row]));
      return store.trackRecords(trackIds.flatMap((id) => rows.get(id) ?? []));
    },
    recentlyAdded: ({ limit, offset }) => store.albums({}, "recent", limit, offset),
    genres: () => store.genres(),
    byGenre: ({ genre, limit, offset }) => store.albums({ genre }, "title", limit, offset),
    years: () => store.years(),
    byYear: ({ year, limit, offset }) => store.albums({ year }, "title", limit, offset),
    random: async ({ kind, limit }) =>
      kind === "tracks"
        ? { albums: [], tracks: await store.trackRecords(await store.randomTracks(limit)) }
        : { albums: await store.randomAlbums(limit), tracks: [] },
    scan: ({ full, allowMassRemoval }) => ({ scanId: startScan(full, allowMassRemoval) }),
    scanStatus: () => status,
    scanErrors: ({ limit, offset }) => store.scanErrors(limit, offset),
    libraryFolders: () => [...config.libraryFolders],
    trackSource: async ({ trackId }) => {
      const row = await store.track(trackId);
      if (!row) throw new AppError("NOT_FOUND", "No such track");
      return {
        path: row.path,
        sizeBytes: Number(row.size_bytes),
        mtimeMs: Number(row.mtime_ms),
        durationMs: Number(row.duration_ms),
      };
    },
    searchDocuments: ({ cursor, limit }) => store.searchDocuments(cursor, limit),
    matchEntries: async ({ entries }) => ({
      matches: await matchEntries(store, config.libraryFolders, entries),
    }),
    trackEntries: async ({ trackIds }) => {
      const rows = new Map((await store.tracksByIds(trackIds)).map((row) => [row.id, row]));
      return trackIds.flatMap((id) => {
        const row = rows.get(id);
        if (!row) return [];
        const { title, artist, album } = row;
        const relativePath = relativePathOf(row.path, config.libraryFolders);
        return [{ trackId: id, relativePath, title, artist, album, durationMs: Number(row.duration_ms) }];
      });
    },
    recentTrackIds: async ({ limit, offset }) => ({ trackIds: await store.recentTrackIds(limit, offset) }),
    smartTracks: async ({ rules }) => ({ trackIds: await store.smartTrackIds(rules, clock.now()) }),
    cover: async ({ albumId, size }) => {
      // An old album id answers with the cover of the album its tracks now form.
      const album = await requireAlbum(albumId);
      return covers.cover(album.id, await store.tracksOfAlbum(album.id), size);
    },
  };

  return {
    handlers,
    covers,
    startScan,
    status: () => status,
    scanFinished: () => running ?? Promise.resolve(undefined),
    onProgress(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async start() {
      subscription = await bus.serve(catalogContract, handlers);
      if (config.watch && config.libraryFolders.length > 0) {
        let warned = false;
        watcher = await watchFolders(config.libraryFolders, {
          onChange: () => {
            clearTimeout(debounce);
            debounce = setTimeout(() => {
              if (running) rerun = true;
              else startScan(false);
            }, config.watchDebounceMs ?? 2_000);
          },
          // Said once: past the system's watch limit every further folder fails the same way.
          onError: (error, folder) => {
            if (warned) return;
            warned = true;
            logger.warn(
              { err: error, folder },
              "a library folder is not watched (changes there wait for a scan)",
            );
          },
        });
      }
    },
    async stop() {
      clearTimeout(debounce);
      watcher?.close();
      await running;
      await subscription?.unsubscribe();
    },
  };
}
