// Runs the events service behind the in-process bus on a fresh database, with the real catalog service over a few
// track rows (so plays are counted per album and artist), a file event log in a temporary folder and a set clock.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessBus, type Bus } from "@soundmesh/bus";
import {
  AppError,
  catalogContract,
  eventsContract,
  type EventsContract,
  type ParamsOf,
  type ResultOf,
} from "@soundmesh/protocol";
import { SqlCatalogStore, catalogManifest, createCatalogService } from "@soundmesh/service-catalog";
import type { DbTarget } from "@soundmesh/test-kit";
import {
  createEventsService,
  createScrobbler,
  createSqlHistoryStore,
  eventsManifest,
  lastFmClient,
  listenBrainzClient,
  type EventsService,
  type Scrobbler,
} from "../src/index";
import { LATENESS, ManualClock, T0, fileLog, silentLogger } from "./fixtures";

const libraryRoot = "/srv/music";
type TrackRow = Parameters<SqlCatalogStore["applyScan"]>[0]["upserts"][number];

/** Two albums by two artists: t-a1, t-a2 on album "First" by "Ann"; t-b1 on "Second" by "Bo". */
export const tracks = [
  { id: "t-a1", title: "One", artist: "Ann", album: "First" },
  { id: "t-a2", title: "Two", artist: "Ann", album: "First" },
  { id: "t-b1", title: "Three", artist: "Bo", album: "Second" },
] as const;
export const albumIdOf = (album: string) => `al-${album}`;
const artistIdOf = (artist: string) => `ar-${artist}`;
/** Wide enough for the plays of the "top of the month" cases to be accepted. */
export const HARNESS_DEDUP_WINDOW_MS = 90 * 86_400_000;

function trackRowOf(track: (typeof tracks)[number]): TrackRow {
  return {
    id: track.id,
    path: join(libraryRoot, track.artist, track.album, `${track.title}.flac`),
    size_bytes: 1,
    mtime_ms: 1,
    fingerprint: track.id,
    title: track.title,
    artist: track.artist,
    artist_id: artistIdOf(track.artist),
    album: track.album,
    album_id: albumIdOf(track.album),
    album_artist: track.artist,
    compilation: 0,
    track_no: null,
    disc_no: null,
    year: null,
    genre: null,
    duration_ms: 240_000,
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
  clock: ManualClock;
  bus: Bus;
  service: EventsService;
  call<K extends keyof EventsContract["methods"]>(
    method: K,
    params: ParamsOf<EventsContract, K>,
    as?: string | null,
  ): Promise<ResultOf<EventsContract, K>>;
  failure<K extends keyof EventsContract["methods"]>(
    method: K,
    params: ParamsOf<EventsContract, K>,
    as?: string | null,
  ): Promise<AppError>;
  /** The artist page id the catalog gives a track (the catalog derives it from the credited names). */
  artistIdOfTrack(trackId: string): Promise<string>;
  /** Stops the service and starts a new one on the same files and database, as a restart does. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Scrobbling against sinks at these addresses (the tests' fakes on loopback). */
export interface HarnessScrobbling {
  listenBrainzUrl: string;
  lastFm: { apiUrl: string; apiKey: string; apiSecret: string } | null;
  maxAttempts: number;
}

export const SCROBBLE_RETRY_MIN_MS = 1_000;

export async function startHarness(target: DbTarget, scrobbling?: HarnessScrobbling): Promise<Harness> {
  const test = await target.open();
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-events-"));
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e6, burst: 1e6 }, edges: {} } });
  const clock = new ManualClock(T0 + 30 * 60_000);
  const catalog = new SqlCatalogStore(test.db);
  await catalog.applyScan({
    upserts: tracks.map(trackRowOf),
    deletions: [],
    errors: [],
    clearedErrorPaths: [],
  });
  const catalogService = createCatalogService({
    config: { libraryFolders: [libraryRoot], cacheDir: join(dir, "cache"), watch: false },
    logger: silentLogger,
    bus: bus.connect(catalogManifest),
    store: catalog,
    clock,
  });
  await catalogService.start();
  const eventsBus = bus.connect(eventsManifest);
  const scrobblerOf = (): Scrobbler | undefined =>
    scrobbling &&
    createScrobbler({
      db: test.db,
      logger: silentLogger,
      clock,
      listenBrainz: listenBrainzClient(scrobbling.listenBrainzUrl),
      lastFm: scrobbling.lastFm
        ? lastFmClient(scrobbling.lastFm.apiUrl, scrobbling.lastFm.apiKey, scrobbling.lastFm.apiSecret)
        : null,
      lastFmAuthUrl: "https://www.last.fm/api/auth/",
      lastFmApiKey: scrobbling.lastFm?.apiKey ?? null,
      maxAttempts: scrobbling.maxAttempts,
      retryMinMs: SCROBBLE_RETRY_MIN_MS,
      retryMaxMs: 8 * SCROBBLE_RETRY_MIN_MS,
      keepDoneMs: HARNESS_DEDUP_WINDOW_MS,
    });
  const make = () =>
    createEventsService({
      logger: silentLogger,
      bus: eventsBus,
      log: fileLog(join(dir, "events"), clock, HARNESS_DEDUP_WINDOW_MS),
      history: createSqlHistoryStore(test.db),
      clock,
      dedupWindowMs: HARNESS_DEDUP_WINDOW_MS,
      closeIntervalMs: 0,
      ...(scrobbling ? { scrobbler: scrobblerOf()! } : {}),
    });
  let service = make();
  await service.start();
  const caller = bus.connect({ service: "access-point", calls: ["events", "catalog"] });
  const call: Harness["call"] = (method, params, as = "u-alice") =>
    caller.request(eventsContract, method, params, as === null ? {} : { userId: as, role: "user" });
  return {
    clock,
    bus,
    get service() {
      return service;
    },
    call,
    async failure(method, params, as) {
      const error = await call(method, params, as).then(
        () => null,
        (thrown: unknown) => thrown,
      );
      if (!(error instanceof AppError)) throw new Error(`expected an AppError, got ${String(error)}`);
      return error;
    },
    async artistIdOfTrack(trackId) {
      return (await caller.request(catalogContract, "track", { trackId })).artistId;
    },
    async restart() {
      await service.stop();
      service = make();
      await service.start();
    },
    async close() {
      await service.stop();
      await catalogService.stop();
      await bus.close();
      await test.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { LATENESS };
