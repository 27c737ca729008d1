// Runs the playlist service on a fresh database behind the in-process bus, with the real catalog service over a few
// track rows (no audio files: matching compares paths as text), a stand-in user directory, and an event recorder.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createInProcessBus, type Bus, type ServiceBus } from "@soundmesh/bus";
import type { Db } from "@soundmesh/db";
import {
  AppError,
  catalogChangedEvent,
  playlistChangedEvent,
  playlistContract,
  userContract,
  type HandlersOf,
  type ParamsOf,
  type PlaylistChange,
  type PlaylistContract,
  type ResultOf,
  type UserContract,
} from "@soundmesh/protocol";
import {
  SqlCatalogStore,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
} from "@soundmesh/service-catalog";
import {
  createPlaylistService,
  createSqlPlaylistStore,
  createSqlSnapshotStore,
  migratePlaylistStore,
  playlistManifest,
  type PlaylistService,
  type PlaylistStore,
} from "@soundmesh/service-playlist";
import type { DbTarget } from "@soundmesh/test-kit";

export const libraryRoot = "/srv/music";
export const users = {
  alice: { id: "u-alice", name: "alice" },
  bob: { id: "u-bob", name: "bob" },
  carol: { id: "u-carol", name: "carol" },
} as const;
/** The three named users, and as many `listener<N>` users (id `u-listener<N>`) as a test needs. */
export type UserName = keyof typeof users | `listener${number}`;

export function userOf(name: UserName): { id: string; name: string } {
  return name in users ? users[name as keyof typeof users] : { id: `u-${name}`, name };
}

type TrackRow = Parameters<SqlCatalogStore["applyScan"]>[0]["upserts"][number];

export interface FixtureTrack {
  id: string;
  path: string;
  title: string;
  artist: string;
  album: string;
  genre?: string;
  year?: number;
  durationMs?: number;
  addedAt?: number;
}

export const fixtureTracks: FixtureTrack[] = [
  {
    id: "t-blue1",
    path: "Miles Davis/Kind of Blue/01 So What.flac",
    title: "So What",
    artist: "Miles Davis",
    album: "Kind of Blue",
    genre: "Jazz",
    year: 1959,
    durationMs: 562_000,
    addedAt: 1_000,
  },
  {
    id: "t-blue2",
    path: "Miles Davis/Kind of Blue/02 Freddie Freeloader.flac",
    title: "Freddie Freeloader",
    artist: "Miles Davis",
    album: "Kind of Blue",
    genre: "Jazz",
    year: 1959,
    durationMs: 589_000,
    addedAt: 1_000,
  },
  {
    id: "t-love1",
    path: "John Coltrane/A Love Supreme/01 Acknowledgement.mp3",
    title: "Acknowledgement",
    artist: "John Coltrane",
    album: "A Love Supreme",
    genre: "Jazz",
    year: 1965,
    durationMs: 467_000,
    addedAt: 2_000,
  },
  {
    id: "t-okc1",
    path: "Radiohead/OK Computer/01 Airbag.mp3",
    title: "Airbag",
    artist: "Radiohead",
    album: "OK Computer",
    genre: "Rock",
    year: 1997,
    durationMs: 284_000,
    addedAt: 3_000,
  },
  {
    id: "t-okc2",
    path: "Radiohead/OK Computer/02 Paranoid Android.mp3",
    title: "Paranoid Android",
    artist: "Radiohead",
    album: "OK Computer",
    genre: "Rock",
    year: 1997,
    durationMs: 383_000,
    addedAt: 3_000,
  },
];

export function trackRowOf(track: FixtureTrack): TrackRow {
  return {
    id: track.id,
    path: join(libraryRoot, track.path),
    size_bytes: 1,
    mtime_ms: 1,
    fingerprint: track.id,
    title: track.title,
    artist: track.artist,
    artist_id: track.artist.replace(/\W+/g, "-"),
    album: track.album,
    album_id: track.album.replace(/\W+/g, "-"),
    album_artist: track.artist,
    compilation: 0,
    track_no: null,
    disc_no: null,
    year: track.year ?? null,
    genre: track.genre ?? null,
    duration_ms: track.durationMs ?? 200_000,
    codec: null,
    bitrate_kbps: null,
    mb_track_id: null,
    mb_album_id: null,
    rg_track_db: null,
    rg_album_db: null,
    has_picture: 0,
    folder_cover: null,
    added_at: track.addedAt ?? 1_000,
    updated_at: 1,
  };
}

export class ManualClock {
  constructor(private nowMs = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.nowMs;
  }
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

export interface Harness {
  db: Db;
  bus: Bus;
  store: PlaylistStore;
  catalog: SqlCatalogStore;
  service: PlaylistService;
  clock: ManualClock;
  events: PlaylistChange[];
  /** Rows the playlist store has inserted, updated or deleted so far (every table). */
  rowsWritten(): number;
  /** Statements the playlist store has sent so far (reads and writes): round trips, on PostgreSQL. */
  statements(): number;
  call<K extends keyof PlaylistContract["methods"]>(
    method: K,
    params: ParamsOf<PlaylistContract, K>,
    as?: UserName | null,
  ): Promise<ResultOf<PlaylistContract, K>>;
  failure<K extends keyof PlaylistContract["methods"]>(
    method: K,
    params: ParamsOf<PlaylistContract, K>,
    as?: UserName | null,
  ): Promise<AppError>;
  /**
   * Makes `who` a collaborator as accepting an invitation does, straight in the store: a setup step that does not
   * spend the owner's invitation allowance (invitations.test.ts covers the invitations themselves).
   */
  collaborate(playlistId: string, who: UserName): Promise<void>;
  /** Publishes catalog.changed as the catalog would after a scan. */
  catalogChanged(): Promise<void>;
  close(): Promise<void>;
}

/** The user service's lookupUsers over the fixture users; its other methods are not used here. */
function userDirectory(): HandlersOf<UserContract> {
  const unused = () => {
    throw new AppError("UNAVAILABLE", "not in the playlist harness");
  };
  const all = Object.values(users);
  return {
    ...(Object.fromEntries(
      Object.keys(userContract.methods).map((method) => [method, unused]),
    ) as unknown as HandlersOf<UserContract>),
    lookupUsers: ({ names, ids }) => {
      const listeners = [
        ...names.filter((name) => /^listener\d+$/.test(name)),
        ...ids.flatMap((id) => (/^u-listener\d+$/.test(id) ? [id.slice(2)] : [])),
      ].map((name) => userOf(name as UserName));
      const found = all.filter((user) => names.includes(user.name) || ids.includes(user.id));
      return [...new Map([...found, ...listeners].map((user) => [user.id, user])).values()].map(
        ({ id, name }) => ({ id, name }),
      );
    },
  };
}

/**
 * Counts the rows each write statement affects, raw SQL included: edits are measured in rows, not time. `gate`, when
 * given, is awaited before each statement's result reaches the store (with its table, for inserts): a test can hold
 * a write transaction open at a chosen statement.
 */
function writeCounter(gate?: (insertInto: string | undefined) => Promise<void>): {
  plugin: Parameters<Db["kysely"]["withPlugin"]>[0];
  total: () => number;
  statements: () => number;
} {
  let total = 0;
  let statements = 0;
  const insertsInto = new WeakMap<object, string>();
  return {
    plugin: {
      transformQuery: ({ node, queryId }) => {
        statements += 1;
        if (node.kind === "InsertQueryNode" && node.into)
          insertsInto.set(queryId, node.into.table.identifier.name);
        return node;
      },
      async transformResult({ result, queryId }) {
        if (result.numAffectedRows !== undefined) total += Number(result.numAffectedRows);
        if (gate) await gate(insertsInto.get(queryId));
        return result;
      },
    },
    total: () => total,
    statements: () => statements,
  };
}

/** `snapshots`: items keep what their track was (item-snapshots.ts); off by default, so counted reads stay exact. */
export async function startHarness(
  target: DbTarget,
  options: { snapshots?: boolean; gate?: (insertInto: string | undefined) => Promise<void> } = {},
): Promise<Harness> {
  const test = await target.open();
  const cacheDir = mkdtempSync(join(tmpdir(), "soundmesh-playlist-"));
  const logger = pino({ level: process.env.SOUNDMESH_TEST_LOG_LEVEL ?? "silent" });
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e6, burst: 1e6 }, edges: {} } });
  const clock = new ManualClock();
  const catalog = new SqlCatalogStore(test.db);
  await catalog.applyScan({
    upserts: fixtureTracks.map(trackRowOf),
    deletions: [],
    errors: [],
    clearedErrorPaths: [],
  });
  const catalogBus = bus.connect(catalogManifest);
  const catalogService = createCatalogService({
    config: { libraryFolders: [libraryRoot], cacheDir, watch: false },
    logger,
    bus: catalogBus,
    store: catalog,
    clock,
  });
  await catalogService.start();
  const userBus = bus.connect({ service: "user", calls: [] });
  const userServing = await userBus.serve(userContract, userDirectory());
  const writes = writeCounter(options.gate);
  const store = createSqlPlaylistStore({
    ...test.db,
    kysely: test.db.kysely.withPlugin(writes.plugin),
    reader: test.db.reader.withPlugin(writes.plugin),
  });
  const service = createPlaylistService({
    logger,
    bus: bus.connect(playlistManifest),
    store,
    ...(options.snapshots ? { snapshots: createSqlSnapshotStore(test.db) } : {}),
    clock,
    newId: () => randomBytes(12).toString("base64url"),
  });
  await service.start();
  const accessPoint: ServiceBus = bus.connect({
    service: "access-point",
    calls: ["playlist"],
    subscribes: ["playlist.changed"],
  });
  const events: PlaylistChange[] = [];
  await accessPoint.subscribe(playlistChangedEvent, (change) => void events.push(change));

  const call: Harness["call"] = (method, params, as = "alice") =>
    accessPoint.request(
      playlistContract,
      method,
      params,
      as === null ? {} : { userId: userOf(as).id, role: "user" },
    );
  const failure: Harness["failure"] = async (method, params, as) => {
    const outcome = await call(method, params, as).then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    if (!("error" in outcome)) throw new Error(`${method} succeeded: ${JSON.stringify(outcome.result)}`);
    if (!(outcome.error instanceof AppError)) throw outcome.error;
    return outcome.error;
  };

  return {
    db: test.db,
    bus,
    store,
    catalog,
    service,
    clock,
    events,
    rowsWritten: writes.total,
    statements: writes.statements,
    call,
    async collaborate(playlistId, who) {
      const { id, name } = userOf(who);
      await store.addMember(playlistId, "collaborator", { userId: id, name }, clock.now());
    },
    failure,
    catalogChanged: () =>
      catalogBus.publish(catalogChangedEvent, { scanId: "scan1", added: 1, updated: 0, removed: 0 }),
    async close() {
      await service.stop();
      await userServing.unsubscribe();
      await catalogService.stop();
      await bus.close();
      await test.close();
      rmSync(cacheDir, { recursive: true, force: true });
    },
  };
}

export const preparePlaylistDb = async (db: Db): Promise<void> => {
  await migrateCatalogStore(db);
  await migratePlaylistStore(db);
};

let counter = 0;
/** Readable ids for items and operations made by tests (the contract wants 8+ URL-safe characters). */
export const testId = (prefix = "id"): string => `${prefix}${String(++counter).padStart(8, "0")}`;
