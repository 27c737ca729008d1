// Runs the recommend service behind the in-process bus with the real catalog, events and playlist services on a
// fresh database: plays go in through events.submit, buckets close on a set clock, the index is built from them.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import {
  AppError,
  catalogContract,
  eventsContract,
  playlistContract,
  recommendContract,
  type ListeningEvent,
  type ParamsOf,
  type RecommendContract,
  type ResultOf,
} from "@soundmesh/protocol";
import { SqlCatalogStore, catalogManifest, createCatalogService } from "@soundmesh/service-catalog";
import {
  createEventsService,
  createFileEventLog,
  createSqlHistoryStore,
  eventsManifest,
  type EventsService,
} from "@soundmesh/service-events";
import { createPlaylistService, createSqlPlaylistStore, playlistManifest } from "@soundmesh/service-playlist";
import { createSqlUserStore, createUserService, userManifest } from "@soundmesh/service-user";
import type { DbTarget } from "@soundmesh/test-kit";
import {
  catalogTracks,
  createRecommendService,
  recommendManifest,
  type RecommendService,
} from "../src/index";
import { HOUR, silentLogger, tempDir } from "./fixtures";
import type { TrackFeatures } from "../src/track-features";

const libraryRoot = "/srv/music";
type TrackRow = Parameters<SqlCatalogStore["applyScan"]>[0]["upserts"][number];
const DEDUP_WINDOW_MS = 365 * 24 * HOUR;

function trackRowOf(track: TrackFeatures): TrackRow {
  // The catalog makes artist ids from names, so a name per artist id; genre and year as the world has them.
  return {
    id: track.id,
    path: join(libraryRoot, track.folder ?? "", `${track.id}.flac`),
    size_bytes: 1,
    mtime_ms: 1,
    fingerprint: track.id,
    title: track.id,
    artist: `Artist ${track.artistId}`,
    artist_id: track.artistId,
    album: `Album ${track.albumId}`,
    album_id: track.albumId,
    album_artist: `Artist ${track.artistId}`,
    compilation: 0,
    track_no: null,
    disc_no: null,
    year: track.year,
    genre: track.genre,
    duration_ms: 180_000,
    codec: null,
    bitrate_kbps: null,
    mb_track_id: null,
    mb_album_id: null,
    rg_track_db: null,
    rg_album_db: null,
    has_picture: 0,
    folder_cover: null,
    added_at: 1_000,
    updated_at: 1,
  };
}

export interface Harness {
  clock: { nowMs: number; now(): number };
  bus: Bus;
  dir: string;
  events: EventsService;
  recommend: RecommendService;
  call<K extends keyof RecommendContract["methods"]>(
    method: K,
    params: ParamsOf<RecommendContract, K>,
    as?: string | null,
  ): Promise<ResultOf<RecommendContract, K>>;
  failure<K extends keyof RecommendContract["methods"]>(
    method: K,
    params: ParamsOf<RecommendContract, K>,
    as?: string | null,
  ): Promise<AppError>;
  /** Submits plays as their users through the events service. */
  submit(plays: ReadonlyArray<{ userId: string; event: ListeningEvent }>): Promise<void>;
  /** Moves the clock past the last hour's close and closes the buckets. */
  closeBuckets(): Promise<void>;
  createPlaylist(userId: string, trackIds: string[]): Promise<string>;
  /** The artist id the catalog gave a track (it makes them from the credited names). */
  artistIdOf(trackId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startHarness(target: DbTarget, tracks: readonly TrackFeatures[]): Promise<Harness> {
  const test = await target.open();
  const dir = tempDir();
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e6, burst: 1e6 }, edges: {} } });
  const clock = { nowMs: Date.UTC(2030, 0, 1), now: () => clock.nowMs };
  const catalogStore = new SqlCatalogStore(test.db);
  await catalogStore.applyScan({
    upserts: tracks.map(trackRowOf),
    deletions: [],
    errors: [],
    clearedErrorPaths: [],
  });
  const catalog = createCatalogService({
    config: { libraryFolders: [libraryRoot], cacheDir: join(dir, "cache"), watch: false },
    logger: silentLogger,
    bus: bus.connect(catalogManifest),
    store: catalogStore,
    clock,
  });
  await catalog.start();
  const events = createEventsService({
    logger: silentLogger,
    bus: bus.connect(eventsManifest),
    log: createFileEventLog({
      dir: join(dir, "events"),
      clock,
      allowedLatenessMs: 10 * 60_000,
      dedupWindowMs: DEDUP_WINDOW_MS,
      logger: silentLogger,
    }),
    history: createSqlHistoryStore(test.db),
    clock,
    dedupWindowMs: DEDUP_WINDOW_MS,
    closeIntervalMs: 0,
  });
  await events.start();
  // The playlist service asks the user service for owners' names.
  const user = createUserService({
    logger: silentLogger,
    bus: bus.connect(userManifest),
    store: createSqlUserStore(test.db),
    clock,
    followStanding: false,
  });
  await user.start();
  const playlist = createPlaylistService({
    logger: silentLogger,
    bus: bus.connect(playlistManifest),
    store: createSqlPlaylistStore(test.db),
    clock,
    newId: () => randomUUID(),
  });
  await playlist.start();
  const recommendBus = bus.connect(recommendManifest);
  const recommend = createRecommendService({
    logger: silentLogger,
    bus: recommendBus,
    clock,
    build: {
      eventsDir: join(dir, "events"),
      outDir: join(dir, "recommend"),
      loadTracks: (signal) => catalogTracks(recommendBus, signal),
    },
  });
  const caller = bus.connect({
    service: "access-point",
    calls: ["recommend", "events", "playlist", "catalog"],
  });
  const call: Harness["call"] = (method, params, as = "u-0") =>
    caller.request(recommendContract, method, params, as === null ? {} : { userId: as, role: "user" });
  return {
    clock,
    bus,
    dir,
    events,
    recommend,
    call,
    async failure(method, params, as) {
      const error = await call(method, params, as).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`);
      return error;
    },
    async submit(plays) {
      // Every play is in the past: those of closed hours go late into the open bucket, which the build reads too.
      clock.nowMs = Math.max(clock.nowMs, ...plays.map((play) => play.event.at));
      const byUser = new Map<string, ListeningEvent[]>();
      for (const { userId, event } of plays) byUser.set(userId, [...(byUser.get(userId) ?? []), event]);
      for (const [userId, list] of byUser)
        for (let start = 0; start < list.length; start += 500)
          await caller.request(
            eventsContract,
            "submit",
            { events: list.slice(start, start + 500) },
            { userId, role: "user" },
          );
    },
    async closeBuckets() {
      clock.nowMs = clock.nowMs - (clock.nowMs % HOUR) + 2 * HOUR;
      await events.tick();
    },
    async createPlaylist(userId, trackIds) {
      const { playlist: created } = await caller.request(
        playlistContract,
        "create",
        { name: "Mine", trackIds },
        { userId, role: "user" },
      );
      return created.id;
    },
    async artistIdOf(trackId) {
      return (await caller.request(catalogContract, "track", { trackId })).artistId;
    },
    async close() {
      await recommend.stop();
      await playlist.stop();
      await events.stop();
      await user.stop();
      await catalog.stop();
      await bus.close();
      await test.close();
    },
  };
}
