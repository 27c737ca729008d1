// The recommend service: serves recommendContract on the bus from the loaded radio index, and swaps a new build in
// whole as soon as `current.json` names one (built by the job runner's scheduled job, `soundmesh jobs run`,
// `soundmesh radio rebuild`, or here when an admin asks). It schedules no builds of its own: the job runner does.
import { watch, type FSWatcher } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { Logger } from "pino";
import type { ServiceBus, ServiceManifest, Subscription } from "@soundmesh/bus";
import {
  AppError,
  eventsContract,
  playlistContract,
  recommendContract,
  type CallContext,
  type HandlersOf,
  type RadioIndexStatus,
  type RadioSeed,
  type RecommendContract,
} from "@soundmesh/protocol";
import { buildRadioIndex, type BuildRadioOptions, type BuildResult } from "./build-radio-index";
import { seededRandom } from "./item2vec";
import { centroid, pickTracks } from "./pick-tracks";
import { loadRadioIndex, type RadioIndex } from "./radio-index";

export const recommendManifest = {
  service: "recommend",
  calls: ["catalog", "events", "playlist"],
} as const satisfies ServiceManifest;

export interface RecommendServiceDeps {
  logger: Logger;
  /** Already connected with recommendManifest. */
  bus: ServiceBus;
  clock: { now(): number };
  /** The build's input and output folders and its tracks (by default the catalog's, over the bus). */
  build: BuildRadioOptions;
}

export interface RecommendService {
  start(): Promise<void>;
  stop(): Promise<void>;
  handlers: HandlersOf<RecommendContract>;
  /** Builds from the current input (one build at a time: a second call joins the running one) and swaps it in. */
  rebuild(): Promise<BuildResult>;
  /** Loads the build `current.json` names, if it is not the one in use. */
  reload(): Promise<void>;
  current(): RadioIndex | null;
}

/** Seeds of a radio beyond this many tracks are sampled: the direction does not change, the work would. */
const MAX_SEED_TRACKS = 200;
const DAY_MS = 86_400_000;

function requireUser(ctx: CallContext): string {
  if (ctx.userId === undefined) throw new AppError("UNAUTHENTICATED", "Radio needs a signed-in user");
  return ctx.userId;
}

export function createRecommendService(deps: RecommendServiceDeps): RecommendService {
  const { logger, bus, clock } = deps;
  let index: RadioIndex | null = null;
  let loadedAt: number | null = null;
  let running: Promise<BuildResult> | null = null;
  let subscription: Subscription | null = null;
  let watcher: FSWatcher | null = null;
  const stopping = new AbortController();

  /**
   * The loaded index; the build `current.json` names is read in at its first use (a radio, a mix, similar tracks, the
   * status), not at start nor when a build lands unasked: at 100,000 tracks its graph is 53 MB held for a feature an
   * idle server may not use.
   */
  async function useIndex(): Promise<RadioIndex> {
    if (!index) await reload();
    if (!index) throw new AppError("INDEX_NOT_BUILT");
    return index;
  }

  async function loadCurrent(): Promise<void> {
    const loaded = await loadRadioIndex(deps.build.outDir, index?.fingerprint);
    if (!loaded) return;
    // One assignment: a query running now finished on the old index (queries are synchronous), later ones see this.
    index = loaded;
    loadedAt = clock.now();
    logger.info({ fingerprint: loaded.fingerprint, tracks: loaded.size }, "radio index loaded");
  }

  /** One load at a time, in order: a slow older load never swaps in after a newer one. */
  let loading: Promise<void> = Promise.resolve();
  function reload(): Promise<void> {
    loading = loading.catch(() => undefined).then(loadCurrent);
    return loading;
  }

  function rebuild(): Promise<BuildResult> {
    running ??= buildRadioIndex(deps.build, () => undefined, stopping.signal)
      .then(async (result) => {
        await reload();
        return result;
      })
      .finally(() => {
        running = null;
      });
    return running;
  }

  function status(): RadioIndexStatus {
    return {
      loaded: index !== null,
      fingerprint: index?.fingerprint ?? null,
      tracks: index?.size ?? 0,
      listenedTracks: index?.stats.listenedTracks ?? 0,
      sessions: index?.stats.sessions ?? 0,
      plays: index?.stats.plays ?? 0,
      buckets: index?.stats.buckets ?? 0,
      lastHour: index?.stats.lastHour ?? null,
      dimensions: index?.dimensions ?? 0,
      loadedAt,
      building: running !== null,
    };
  }

  async function seedLabels(current: RadioIndex, seed: RadioSeed, ctx: CallContext): Promise<number[]> {
    let labels: number[];
    if (seed.kind === "track") {
      const label = current.labelOf(seed.id);
      labels = label === undefined ? [] : [label];
    } else if (seed.kind === "playlist") {
      const { items } = await bus.request(
        playlistContract,
        "get",
        { playlistId: seed.id },
        ctx.userId === undefined ? {} : { userId: ctx.userId },
      );
      labels = items.flatMap(({ trackId }) => {
        const label = current.labelOf(trackId);
        return label === undefined ? [] : [label];
      });
    } else labels = current.labelsOf(seed.kind, seed.id);
    if (labels.length === 0)
      throw new AppError("NOT_FOUND", `No ${seed.kind} ${seed.id} with tracks in the radio index`, {
        details: { seed },
      });
    return labels;
  }

  /** Evenly spread seeds, so a long playlist's radio points where the whole playlist does. */
  const sample = (labels: number[]) =>
    labels.length <= MAX_SEED_TRACKS
      ? labels
      : Array.from(
          { length: MAX_SEED_TRACKS },
          (_, i) => labels[Math.floor((i * labels.length) / MAX_SEED_TRACKS)]!,
        );

  function labelsOf(current: RadioIndex, trackIds: readonly string[]): number[] {
    return trackIds.flatMap((id) => {
      const label = current.labelOf(id);
      return label === undefined ? [] : [label];
    });
  }

  async function mixSeeds(
    userId: string,
  ): Promise<{ seeds: string[]; basedOn: "you" | "server" | "catalog" }> {
    const asUser = { userId };
    for (const period of ["month", "all"] as const) {
      const mine = await bus.request(
        eventsContract,
        "top",
        { kind: "track", period, scope: "me", limit: 10 },
        asUser,
      );
      if (mine.length > 0) return { seeds: mine.map((entry) => entry.id), basedOn: "you" };
    }
    const server = await bus.request(
      eventsContract,
      "top",
      { kind: "track", period: "month", scope: "server", limit: 10 },
      asUser,
    );
    return { seeds: server.map((entry) => entry.id), basedOn: server.length > 0 ? "server" : "catalog" };
  }

  function reloadLogged(): void {
    reload().catch((error: unknown) => logger.error({ err: error }, "loading the radio index failed"));
  }

  function rebuildLogged(): void {
    rebuild().catch((error: unknown) => {
      if (!stopping.signal.aborted) logger.error({ err: error }, "building the radio index failed");
    });
  }

  const handlers: HandlersOf<RecommendContract> = {
    async radio({ seed, limit, exclude }, ctx) {
      requireUser(ctx);
      const current = await useIndex();
      const seeds = await seedLabels(current, seed, ctx);
      const recent = labelsOf(current, exclude);
      // An artist's radio may play the artist; an album's or a playlist's moves on from what was just heard.
      const skip = new Set([...recent, ...(seed.kind === "artist" ? [] : seeds)]);
      const vector = centroid(current, sample(seeds));
      return { tracks: pickTracks(current, vector, { limit, skip, recent, diversify: true }) };
    },
    async similar({ trackId, limit }, ctx) {
      requireUser(ctx);
      const current = await useIndex();
      const label = current.labelOf(trackId);
      if (label === undefined)
        throw new AppError("NOT_FOUND", `Track ${trackId} is not in the radio index`, {
          details: { trackId },
        });
      const vector = current.vectorOf(label);
      return {
        tracks: pickTracks(current, vector, { limit, skip: new Set([label]), recent: [], diversify: false }),
      };
    },
    async dailyMix({ limit }, ctx) {
      const userId = requireUser(ctx);
      const current = await useIndex();
      const { seeds, basedOn } = await mixSeeds(userId);
      const day = Math.floor(clock.now() / DAY_MS);
      const random = seededRandom(hashOf(`${userId}:${day}`));
      let seedLabels = labelsOf(current, seeds);
      if (seedLabels.length === 0)
        seedLabels = Array.from({ length: Math.min(5, current.size) }, () =>
          Math.floor(random() * current.size),
        );
      // Each seed leads a strand; the strands are dealt in turn, in an order that changes daily, not hourly.
      const strands = shuffle(seedLabels, random).map((label) =>
        pickTracks(current, current.vectorOf(label), {
          limit,
          skip: new Set(seedLabels),
          recent: [],
          diversify: true,
        }),
      );
      const seen = new Set<string>();
      const tracks = [];
      for (let round = 0; tracks.length < limit && round < limit; round++)
        for (const strand of strands) {
          const next = strand[round];
          if (next && !seen.has(next.trackId) && tracks.length < limit) {
            seen.add(next.trackId);
            tracks.push(next);
          }
        }
      return { tracks, basedOn };
    },
    status: async () => {
      if (!index) await reload();
      return status();
    },
    rebuild() {
      rebuildLogged();
      return status();
    },
  };

  return {
    handlers,
    rebuild,
    reload,
    current: () => index,
    async start() {
      if (subscription) return;
      await mkdir(deps.build.outDir, { recursive: true });
      // A build from another process (the CLI) or the job runner names itself in current.json, written whole; it
      // replaces a loaded index at once, and is read at first use otherwise.
      watcher = watch(deps.build.outDir, { persistent: false }, (_type, name) => {
        if (name === "current.json" && index) reloadLogged();
      });
      watcher.on("error", (error) => logger.warn({ err: error }, "the radio index folder is not watched"));
      subscription = await bus.serve(recommendContract, handlers);
    },
    async stop() {
      watcher?.close();
      watcher = null;
      stopping.abort();
      await running?.catch(() => undefined);
      const current = subscription;
      subscription = null;
      await current?.unsubscribe();
    },
  };
}

function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
