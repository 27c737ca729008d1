// The storage service: serves renditions over the bus and transcodes ahead of time in the background.
import type { Logger } from "pino";
import { storageContract, type HandlersOf, type StorageContract } from "@soundmesh/protocol";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import {
  RenditionStore,
  defaultProfiles,
  type RenditionStoreConfig,
  type ResolveSource,
  type SourceInfo,
} from "./rendition-store";

export const storageManifest = { service: "storage", calls: ["catalog"] } as const satisfies ServiceManifest;

export interface StorageServiceConfig extends Omit<
  RenditionStoreConfig,
  "profiles" | "pieceSizeBytes" | "waitTimeoutMs" | "ffmpegPath"
> {
  profiles?: RenditionStoreConfig["profiles"];
  pieceSizeBytes?: number;
  waitTimeoutMs?: number;
  ffmpegPath?: string;
  /** Background transcodes at once. */
  prepareConcurrency?: number;
  /** How long a track's source (path, size, mtime) is trusted before asking the catalog again. */
  sourceCacheMs?: number;
  /** Profiles made ahead of time when `prepare` names none. */
  prepareProfiles?: string[];
}

export interface StorageServiceDeps {
  config: StorageServiceConfig;
  logger: Logger;
  bus: ServiceBus;
  resolveSource: ResolveSource;
  clock?: { now(): number };
}

export interface StorageService {
  start(): Promise<void>;
  stop(): Promise<void>;
  store: RenditionStore;
  handlers: HandlersOf<StorageContract>;
  /** Resolves when the background queue is empty. */
  idle(): Promise<void>;
}

export function createStorageService({
  config,
  logger,
  bus,
  resolveSource,
  clock,
}: StorageServiceDeps): StorageService {
  const store = new RenditionStore(
    {
      cacheDir: config.cacheDir,
      capBytes: config.capBytes,
      pieceSizeBytes: config.pieceSizeBytes ?? 64 * 1024,
      ffmpegPath: config.ffmpegPath ?? "ffmpeg",
      profiles: config.profiles ?? defaultProfiles,
      waitTimeoutMs: config.waitTimeoutMs ?? 60_000,
    },
    cachedSources(resolveSource, config.sourceCacheMs ?? 2_000, clock ? () => clock.now() : Date.now),
    logger,
  );
  const queue: Array<{ trackId: string; profile: string }> = [];
  const concurrency = config.prepareConcurrency ?? 1;
  let running = 0;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];
  let subscription: Subscription | undefined;

  const pump = () => {
    while (!stopped && running < concurrency && queue.length > 0) {
      const job = queue.shift()!;
      running += 1;
      store
        .manifest(job.trackId, job.profile)
        .catch((error: unknown) => logger.warn({ err: error, ...job }, "ahead-of-time transcode failed"))
        .finally(() => {
          running -= 1;
          pump();
        });
    }
    if (running === 0 && queue.length === 0) {
      for (const wake of idleWaiters) wake();
      idleWaiters = [];
    }
  };

  const handlers: HandlersOf<StorageContract> = {
    manifest: ({ trackId, profile }) => store.manifest(trackId, profile),
    piece: ({ trackId, profile, index }) => store.piece(trackId, profile, index),
    range: async ({ trackId, profile, start, endInclusive }) => ({
      bytes: await store.range(trackId, profile, start, endInclusive),
    }),
    prepare: ({ trackIds, profiles }) => {
      const wanted = profiles ?? config.prepareProfiles ?? ["opus96"];
      for (const trackId of trackIds) for (const profile of wanted) queue.push({ trackId, profile });
      const queued = trackIds.length * wanted.length;
      pump();
      return { queued };
    },
    // Jobs waiting or being worked on: 0 means the background queue is idle.
    stats: () => ({ ...store.stats(), queued: queue.length + running }),
  };

  return {
    store,
    handlers,
    idle: () =>
      running === 0 && queue.length === 0
        ? Promise.resolve()
        : new Promise((resolve) => idleWaiters.push(resolve)),
    async start() {
      await store.load();
      subscription = await bus.serve(storageContract, handlers);
    },
    async stop() {
      stopped = true;
      queue.length = 0;
      await subscription?.unsubscribe();
    },
  };
}

/** Every piece request needs the source's size and mtime; asking the catalog once per few seconds is enough. */
function cachedSources(resolve: ResolveSource, ttlMs: number, nowMs: () => number): ResolveSource {
  const cache = new Map<string, { value: Promise<SourceInfo>; expiresAtMs: number }>();
  return (trackId) => {
    const hit = cache.get(trackId);
    if (hit && hit.expiresAtMs > nowMs()) return hit.value;
    if (cache.size > 10_000) cache.clear();
    const value = resolve(trackId);
    cache.set(trackId, { value, expiresAtMs: nowMs() + ttlMs });
    value.catch(() => cache.delete(trackId));
    return value;
  };
}
