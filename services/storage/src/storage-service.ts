// The storage service: serves renditions over the bus and transcodes ahead of time in the background, publishing
// the background batch's progress (for the admin page and `soundmesh transcode`). One scheduler runs every ffmpeg.
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import {
  AppError,
  catalogChangedEvent,
  catalogContract,
  storageContract,
  transcodeProgressEvent,
  type CallContext,
  type HandlersOf,
  type StorageContract,
  type TranscodeStatus,
} from "@soundmesh/protocol";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import {
  RenditionStore,
  defaultProfiles,
  type RenditionStoreConfig,
  type ResolveSource,
  type SourceInfo,
  DEFAULT_LONG_POLL_MS,
} from "./rendition-store";
import { CoverCache } from "./cover-cache";
import {
  HANDOFF_CHUNK_BYTES,
  fetchHandoffFrom,
  fetchRenditionFrom,
  handOver,
  type HandOverTarget,
  type HandoffPeers,
} from "./rendition-handoff";
import {
  replicaIntake,
  startReplication,
  type ReplicaTargets,
  type Replication,
  type ReplicationOptions,
} from "./rendition-replication";
import {
  TranscodeScheduler,
  defaultSchedulerConfig,
  type Requester,
  type SchedulerEvent,
  type TranscodeSchedulerConfig,
} from "./transcode-scheduler";

export const storageManifest = {
  service: "storage",
  calls: ["catalog"],
  publishes: ["storage.transcodeProgress"],
  subscribes: ["catalog.changed"],
} as const satisfies ServiceManifest;

/** Track ids asked of the catalog at once when queueing the most recently added tracks. */
const RECENT_PAGE = 5_000;

export interface StorageServiceConfig extends Omit<
  RenditionStoreConfig,
  "profiles" | "pieceSizeBytes" | "waitTimeoutMs" | "ffmpegPath"
> {
  profiles?: RenditionStoreConfig["profiles"];
  pieceSizeBytes?: number;
  waitTimeoutMs?: number;
  ffmpegPath?: string;
  /** The transcode scheduler's bounds (ffmpeg at once, per user, queued); defaults from the machine's parallelism. */
  scheduler?: Partial<TranscodeSchedulerConfig>;
  /** Background transcodes handed to the scheduler at once (default: its maxConcurrent). */
  prepareConcurrency?: number;
  /** How long a track's source (path, size, mtime) is trusted before asking the catalog again. */
  sourceCacheMs?: number;
  /** Profiles made ahead of time when `prepare` names none. */
  prepareProfiles?: string[];
  /** After a scan adds tracks, this many of the most recently added are transcoded ahead (0: none, the default). */
  prepareAfterScan?: number;
  /** Progress is published at most this often while a batch runs (and always when it starts and ends). */
  progressEveryMs?: number;
  /**
   * This node's id on the storage ring (cluster mode): requests addressed to it (`instance`) reach this process
   * alone, besides those any member of the queue group answers.
   */
  nodeId?: string;
  /** Where this node keeps resized album covers the catalog made (cluster mode reads them through the ring). */
  coverDir?: string;
  /** The most that folder holds (default 256 MiB). */
  coverMaxBytes?: number;
}

export interface StorageServiceDeps {
  config: StorageServiceConfig;
  logger: Logger;
  bus: ServiceBus;
  resolveSource: ResolveSource;
  clock?: { now(): number };
  /** Sees every scheduling decision (tests, diagnostics). */
  onSchedulerEvent?: (event: SchedulerEvent) => void;
  /**
   * Cluster mode: the nodes that held a rendition before a ring change. A rendition this node lacks is taken from
   * them (hash-checked) before it would be transcoded.
   */
  handoffPeers?: HandoffPeers;
  /**
   * Cluster mode (with `config.nodeId`): the replicas of a rendition this node owns. Each rendition made here or taken
   * by handoff is then copied to them in the background (they pull it by `handoff` and check its hashes).
   */
  replicaTargets?: ReplicaTargets;
  /** The retry delays of copies to replicas (tests shorten them). */
  replication?: ReplicationOptions;
}

export interface StorageService {
  start(): Promise<void>;
  stop(): Promise<void>;
  store: RenditionStore;
  /** The covers this node keeps, when it has a cover folder. */
  covers: CoverCache | undefined;
  handlers: HandlersOf<StorageContract>;
  /** Resolves when the background queue is empty. */
  idle(): Promise<void>;
  /** Copies to replicas (cluster mode, with `replicaTargets`): pushed, failed tries, not yet done. */
  replication: Replication | undefined;
  /**
   * Cluster mode, after a ring change (and at start): queues a copy of every complete rendition this node holds to
   * the key's other owners; a replica that has one answers `have`. Returns how many were queued (0 without replicas).
   */
  replicateHeld(): number;
  /**
   * Cluster mode, before leaving the ring cleanly: the renditions this node owns are taken by their next owners
   * (most recently used first) for up to `withinMs`.
   */
  handOver(target: HandOverTarget, withinMs: number): Promise<{ renditions: number; bytes: number }>;
}

export function createStorageService({
  config,
  logger,
  bus,
  resolveSource,
  clock,
  onSchedulerEvent,
  handoffPeers,
  replicaTargets,
  replication: replicationOptions,
}: StorageServiceDeps): StorageService {
  const schedulerConfig = {
    ...defaultSchedulerConfig(availableParallelism()),
    ...config.scheduler,
  };
  const scheduler = new TranscodeScheduler(schedulerConfig, (event) => {
    if (event.type === "refused") logger.info(event, "transcode refused");
    else logger.debug(event, "transcode scheduling");
    onSchedulerEvent?.(event);
  });
  const sources = cachedSources(
    resolveSource,
    config.sourceCacheMs ?? 2_000,
    clock ? () => clock.now() : Date.now,
  );
  const store = new RenditionStore(
    {
      cacheDir: config.cacheDir,
      capBytes: config.capBytes,
      pieceSizeBytes: config.pieceSizeBytes ?? 64 * 1024,
      ffmpegPath: config.ffmpegPath ?? "ffmpeg",
      profiles: config.profiles ?? defaultProfiles,
      waitTimeoutMs: config.waitTimeoutMs ?? 60_000,
      longPollMs: config.longPollMs ?? DEFAULT_LONG_POLL_MS,
      ...(config.pieceCacheBytes === undefined ? {} : { pieceCacheBytes: config.pieceCacheBytes }),
      warmFfmpeg: config.warmFfmpeg ?? true,
    },
    sources.resolve,
    logger,
    scheduler,
    handoffPeers ? fetchHandoffFrom(bus, handoffPeers, logger) : undefined,
  );
  const replication =
    replicaTargets && config.nodeId !== undefined
      ? startReplication(bus, config.nodeId, replicaTargets, logger, replicationOptions)
      : undefined;
  if (replication) store.onReady = ({ trackId, profile }) => replication.push(trackId, profile);
  const intake = replicaIntake();
  const askCatalog = (albumId: string, size: number, traceId?: string) =>
    bus.request(
      catalogContract,
      "cover",
      { albumId, size: size as 64 | 300 | 600 },
      traceId === undefined ? {} : { traceId },
    );
  const covers =
    config.coverDir === undefined
      ? undefined
      : new CoverCache({
          dir: config.coverDir,
          origin: askCatalog,
          logger,
          ...(config.coverMaxBytes === undefined ? {} : { maxBytes: config.coverMaxBytes }),
        });
  const queue: Array<{ trackId: string; profile: string }> = [];
  /** Jobs waiting or running, by "trackId|profile": asking twice for one rendition queues it once. */
  const pending = new Set<string>();
  const concurrency = config.prepareConcurrency ?? schedulerConfig.maxConcurrent;
  const nowMs = clock ? () => clock.now() : Date.now;
  let running = 0;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];
  let subscriptions: Subscription[] = [];
  let batch = { done: 0, failed: 0, total: 0 };
  let lastPublishMs = 0;

  const status = (): TranscodeStatus => ({ working: running + queue.length > 0, ...batch });
  const publishProgress = (force: boolean) => {
    const now = nowMs();
    if (!force && now - lastPublishMs < (config.progressEveryMs ?? 250)) return;
    lastPublishMs = now;
    bus
      .publish(transcodeProgressEvent, status())
      .catch((error: unknown) => logger.debug({ err: error }, "transcode progress not published"));
  };

  const enqueue = (trackIds: readonly string[], profiles: readonly string[]): number => {
    if (running + queue.length === 0) batch = { done: 0, failed: 0, total: 0 };
    let queued = 0;
    for (const trackId of trackIds)
      for (const profile of profiles) {
        const key = `${trackId}|${profile}`;
        if (pending.has(key)) continue;
        pending.add(key);
        queue.push({ trackId, profile });
        queued += 1;
      }
    batch.total += queued;
    if (queued > 0) publishProgress(true);
    pump();
    return queued;
  };

  const pump = () => {
    while (!stopped && running < concurrency && queue.length > 0) {
      const job = queue.shift()!;
      running += 1;
      store
        .prepare(job.trackId, job.profile)
        .then(
          () => (batch.done += 1),
          (error: unknown) => {
            batch.failed += 1;
            logger.warn({ err: error, ...job }, "ahead-of-time transcode failed");
          },
        )
        .finally(() => {
          running -= 1;
          pending.delete(`${job.trackId}|${job.profile}`);
          const isIdle = running === 0 && queue.length === 0;
          if (!stopped) publishProgress(isIdle);
          pump();
        });
    }
    if (running === 0 && queue.length === 0) {
      for (const wake of idleWaiters) wake();
      idleWaiters = [];
    }
  };

  const profilesOf = (profiles: readonly string[] | undefined) => {
    const wanted = profiles ?? config.prepareProfiles ?? ["opus96"];
    const known = Object.keys(config.profiles ?? defaultProfiles);
    const unknown = wanted.filter((profile) => !known.includes(profile));
    if (unknown.length > 0)
      throw new AppError("NOT_FOUND", `No profile ${unknown.join(", ")}; known: ${known.join(", ")}`);
    return wanted;
  };

  /** Queues the most recently added tracks, `tracks` at most, a page of ids from the catalog at a time. */
  const prepareRecent = async (tracks: number, profiles: readonly string[], traceId?: string) => {
    for (let offset = 0; offset < tracks; offset += RECENT_PAGE) {
      const { trackIds } = await bus.request(
        catalogContract,
        "recentTrackIds",
        { limit: Math.min(RECENT_PAGE, tracks - offset), offset },
        { ...(traceId === undefined ? {} : { traceId }), timeoutMs: 30_000 },
      );
      enqueue(trackIds, profiles);
      if (trackIds.length < RECENT_PAGE) break;
    }
  };

  /** The transcode-ahead policy after scans: the catalog only says what changed. */
  const onCatalogChanged = async ({ added }: { added: number }, ctx: CallContext) => {
    const tracks = Math.min(added, config.prepareAfterScan ?? 0);
    if (tracks > 0 && !stopped) await prepareRecent(tracks, profilesOf(undefined), ctx.traceId);
  };

  const handlers: HandlersOf<StorageContract> = {
    manifest: ({ trackId, profile, havePieces, fromMs }, ctx) =>
      store.manifest(trackId, profile, listenerOf(ctx), havePieces, fromMs),
    piece: ({ trackId, profile, index, fromMs }, ctx) =>
      store.piece(trackId, profile, index, listenerOf(ctx), fromMs),
    range: async ({ trackId, profile, start, endInclusive }, ctx) => ({
      bytes: await store.range(trackId, profile, start, endInclusive, listenerOf(ctx)),
    }),
    handoff: ({ trackId, profile, start }) => store.held(trackId, profile, start, HANDOFF_CHUNK_BYTES),
    // A replica that holds the rendition answers `have` at once; only the copies it pulls are bounded.
    replicate: ({ trackId, profile, from }) =>
      store.takeReplica(trackId, profile, () =>
        intake(() => fetchRenditionFrom(bus, from, trackId, profile)),
      ),
    prepare: ({ trackIds, profiles }) => ({ queued: enqueue(trackIds, profilesOf(profiles)) }),
    transcodeAhead: async ({ tracks, profiles }, ctx) => {
      await prepareRecent(tracks, profilesOf(profiles), ctx.traceId);
      return status();
    },
    transcodeStatus: () => status(),
    cover: ({ albumId, size }, ctx) => (covers ?? { cover: askCatalog }).cover(albumId, size, ctx.traceId),
    // Jobs waiting or being worked on: 0 means the background queue is idle.
    stats: () => ({
      ...store.stats(),
      replicasPushed: replication?.stats().pushed ?? 0,
      queued: queue.length + running,
    }),
  };

  return {
    store,
    covers,
    handlers,
    replication,
    replicateHeld: () => {
      if (!replication) return 0;
      const held = store.heldRenditions();
      for (const { trackId, profile } of held) replication.push(trackId, profile);
      return held.length;
    },
    handOver: (target, withinMs) => handOver(bus, store, target, withinMs, logger),
    idle: () =>
      running === 0 && queue.length === 0
        ? Promise.resolve()
        : new Promise((resolve) => idleWaiters.push(resolve)),
    async start() {
      await store.load();
      subscriptions = [
        await bus.serve(
          storageContract,
          handlers,
          config.nodeId === undefined ? {} : { instance: config.nodeId },
        ),
        // One storage instance per change prepares, as one answers each request.
        await bus.subscribe(catalogChangedEvent, onCatalogChanged, { queue: "storage" }),
        // Every instance forgets the sources it knows: a scan may have changed any of them.
        await bus.subscribe(catalogChangedEvent, () => {
          sources.forget();
          covers?.forget();
        }),
      ];
    },
    async stop() {
      stopped = true;
      queue.length = 0;
      pending.clear();
      replication?.stop();
      await Promise.all(subscriptions.map((subscription) => subscription.unsubscribe()));
      scheduler.close();
      store.close();
    },
  };
}

/** A listener is the user the access point names; a service calling without one counts as its own listener. */
function listenerOf(ctx: CallContext): Requester {
  return { userId: ctx.userId ?? `service:${ctx.caller}` };
}

/**
 * Every request needs the source's size and mtime (the rendition's key), which only a scan changes. A known answer
 * is used at once: past `ttlMs` it is asked again in the background and the next request sees the new one (a click on
 * a track played minutes ago no longer waits for a catalog round trip), and a scan's `catalog.changed` forgets them all.
 */
export function cachedSources(
  resolve: ResolveSource,
  ttlMs: number,
  nowMs: () => number,
): { resolve: ResolveSource; forget(): void } {
  const cache = new Map<string, { value: Promise<SourceInfo>; expiresAtMs: number; settled: boolean }>();
  const ask = (trackId: string): Promise<SourceInfo> => {
    if (cache.size > 10_000) cache.clear();
    const entry = { value: resolve(trackId), expiresAtMs: nowMs() + ttlMs, settled: false };
    const previous = cache.get(trackId);
    // A refresh keeps the answer it replaces in use until it has one of its own.
    if (!previous?.settled) cache.set(trackId, entry);
    entry.value.then(
      () => {
        entry.settled = true;
        cache.set(trackId, entry);
      },
      () => {
        if (cache.get(trackId) === entry || cache.get(trackId) === previous) cache.delete(trackId);
      },
    );
    return entry.value;
  };
  return {
    resolve: (trackId) => {
      const hit = cache.get(trackId);
      if (!hit) return ask(trackId);
      if (hit.expiresAtMs <= nowMs() && hit.settled) {
        hit.expiresAtMs = Infinity;
        void ask(trackId).catch(() => undefined);
      }
      return hit.value;
    },
    forget: () => cache.clear(),
  };
}
