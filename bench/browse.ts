// Browse benchmark: every method of the catalog contract timed over a generated library of 100,000 MP3 tracks (10,000
// albums, 2,000 album artists, a cover for one album in ten) on SQLite: the real catalog service, called through the
// in-process bus (parameters and results validated on both ends, as the access point calls it), one call at a time,
// with parameters drawn at random across the whole library (deep pages included). p50/p95/p99 beside the 20 ms target.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createInProcessBus } from "@soundmesh/bus";
import { createDb } from "@soundmesh/db";
import { catalogContract } from "@soundmesh/protocol";
import {
  SqlCatalogStore,
  catalogManifest,
  createCatalogService,
  migrateCatalogStore,
  scanLibrary,
} from "@soundmesh/service-catalog";
import { percentile, printTable, round, writeResults, type Row } from "./report";
import { taggedLibrary, tagsOf } from "./tagged-copies";

const TRACKS = Number(process.env.BENCH_BROWSE_TRACKS ?? 100_000);
const SAMPLES = Number(process.env.BENCH_BROWSE_SAMPLES ?? 200);
/** "true": also time browse calls during a no-change rescan (as after a server's start); "only": just that. */
const DURING_RESCAN = process.env.BENCH_BROWSE_DURING_RESCAN ?? "false";
const TARGET_P95_MS = 20;
const library = taggedLibrary(TRACKS);
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-browse-"));

// The scanned database is kept beside the library (scanning 100,000 files takes minutes); migrations run on it anyway.
const dbFile = `${library.root}.catalog.sqlite`;
const scannedBefore = existsSync(dbFile) && process.env.BENCH_BROWSE_RESCAN !== "true";
if (!scannedBefore) rmSync(dbFile, { force: true });
const db = createDb({ kind: "sqlite", file: dbFile });
await migrateCatalogStore(db);
const store = new SqlCatalogStore(db);
if (!scannedBefore) {
  const started = performance.now();
  const scan = await scanLibrary({ roots: [library.root], store, nowMs: Date.now });
  console.log(`scanned ${scan.added} tracks in ${round((performance.now() - started) / 1000, 1)} s`);
}

const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e9, burst: 1e9 } } });
mkdirSync(join(work, "cache"));
const service = createCatalogService({
  config: { libraryFolders: [library.root], cacheDir: join(work, "cache") },
  logger: pino({ level: "silent" }),
  bus: bus.connect(catalogManifest),
  store,
  clock: { now: () => Date.now() },
});
await service.start();
const client = bus.connect({ service: "access-point", calls: ["catalog"] });
const context = { role: "admin" as const, userId: "bench" };
type Method = keyof typeof catalogContract.methods;
const call = <M extends Method>(method: M, params: unknown) =>
  client.request(catalogContract, method, params as never, context);

// Ids to draw from, read once through the service itself.
const random = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(items: readonly T[]): T => items[random(items.length)]!;
/** Ids from five pages spread over a list, so deep ones are asked for as often as the first. */
async function spread<T>(total: number, page: (offset: number) => Promise<T[]>): Promise<T[]> {
  const pages = await Promise.all([0, 1, 2, 3, 4].map((i) => page(Math.floor((total * i) / 5))));
  return pages.flat();
}
const albums = (await call("albums", { limit: 1, offset: 0 })).total;
const artistTotal = (await call("artists", { limit: 1, offset: 0 })).total;
const albumPages = await spread(
  albums,
  async (offset) => (await call("albums", { limit: 500, offset })).items,
);
const albumIds = albumPages.map((album) => album.id);
const coverAlbumIds = albumPages.filter((album) => album.hasCover).map((album) => album.id);
const artistIds = await spread(artistTotal, async (offset) =>
  (await call("artists", { limit: 500, offset })).items.map((artist) => artist.id),
);
const trackIds = await spread(
  TRACKS,
  async (offset) => (await call("recentTrackIds", { limit: 5_000, offset })).trackIds,
);
const genres = (await call("genres", {})).map((g) => g.genre);
const years = (await call("years", {})).map((y) => y.year);
/** A page at a random place in a list of `total`: as often the first page as a deep one. */
const pageIn = (total: number, limit = 50) => ({
  limit,
  offset: random(2) === 0 ? 0 : random(Math.max(1, total - limit)),
});
const trackEntry = (n: number) => {
  const tags = tagsOf(n);
  return Math.random() < 0.5
    ? {
        path: `${tags.TPE2}/${tags.TALB}/${tags.TRCK!.split("/")[0]!.padStart(2, "0")} ${tags.TIT2}.mp3`,
        artist: null,
        title: null,
        durationMs: null,
      }
    : { path: null, artist: tags.TPE1!, title: tags.TIT2!, durationMs: 1_000 };
};

/** Each method with how its parameters are drawn; `scan` starts a library scan and is timed by bench/scan.ts. */
const methods: Record<string, () => unknown> = {
  artists: () => ({ sort: pick(["name", "recent"]), ...pageIn(artistTotal) }),
  artist: () => ({ artistId: pick(artistIds) }),
  albumsOfArtist: () => ({ artistId: pick(artistIds), role: pick(["albumArtist", "appearsOn"]) }),
  albums: () => ({ sort: pick(["title", "artist", "year", "recent"]), ...pageIn(albums) }),
  album: () => ({ albumId: pick(albumIds) }),
  track: () => ({ trackId: pick(trackIds) }),
  tracks: () => ({ trackIds: Array.from({ length: 50 }, () => pick(trackIds)) }),
  recentlyAdded: () => pageIn(albums),
  genres: () => ({}),
  byGenre: () => ({ genre: pick(genres), ...pageIn(albums / genres.length) }),
  years: () => ({}),
  byYear: () => ({ year: pick(years), ...pageIn(albums / years.length) }),
  random: () => ({ kind: pick(["albums", "tracks"]), limit: 50 }),
  scanStatus: () => ({}),
  scanErrors: () => ({ limit: 50, offset: 0 }),
  libraryFolders: () => ({}),
  trackSource: () => ({ trackId: pick(trackIds) }),
  searchDocuments: () => ({ cursor: random(2) === 0 ? 0 : random(TRACKS), limit: 1_000 }),
  matchEntries: () => ({ entries: Array.from({ length: 100 }, () => trackEntry(random(TRACKS))) }),
  trackEntries: () => ({ trackIds: Array.from({ length: 100 }, () => pick(trackIds)) }),
  recentTrackIds: () => ({ limit: 100, offset: random(TRACKS - 100) }),
  smartTracks: () => ({
    rules: pick([
      { genres: [pick(genres)], order: "artist", limit: 500 },
      { artists: [`Artist ${random(TRACKS / 50)}`], order: "year", limit: 500 },
      { yearFrom: 1990, yearTo: 1999, order: "title", limit: 500 },
      { addedWithinDays: 30, order: "recentlyAdded", limit: 500 },
    ]),
  }),
  cover: () => ({ albumId: pick(warmCovers), size: pick([64, 300, 600]) }),
};
// Covers are timed as served once made (from the disk cache): the first request of each resizes with libvips.
const warmCovers = coverAlbumIds.slice(0, 20);
for (const albumId of warmCovers) for (const size of [64, 300, 600]) await call("cover", { albumId, size });
const untimed = Object.keys(catalogContract.methods).filter((name) => !(name in methods));

const rows: Row[] = [];
for (const [method, params] of Object.entries(DURING_RESCAN === "only" ? {} : methods)) {
  const samples: number[] = [];
  // A few calls first (covers made and cached on disk, statements warm), then the timed ones.
  for (let i = 0; i < 5; i++) await call(method as Method, params());
  for (let i = 0; i < SAMPLES; i++) {
    const given = params();
    const started = performance.now();
    await call(method as Method, given);
    samples.push(performance.now() - started);
  }
  const sorted = samples.sort((a, b) => a - b);
  const [p50, p95, p99] = [0.5, 0.95, 0.99].map((p) => percentile(sorted, p)) as [number, number, number];
  rows.push({
    method: `catalog.${method}`,
    calls: samples.length,
    "p50 ms": round(p50, 2),
    "p95 ms": round(p95, 2),
    "p99 ms": round(p99, 2),
    "p95/target": round(p95 / TARGET_P95_MS, 2),
  });
  console.log(JSON.stringify(rows[rows.length - 1]));
}

/**
 * Browse calls one at a time while the catalog service runs a no-change rescan of the whole library (what a server
 * does at start), from the rescan's start to its end; the rescan's own time beside them.
 */
async function duringRescan(): Promise<Row> {
  const mix = ["albums", "artists", "album", "artist", "tracks", "byGenre"] as const;
  const samples: number[] = [];
  let finished = false;
  const started = performance.now();
  service.startScan(false);
  const scanned = service.scanFinished().then((result) => {
    finished = true;
    return result;
  });
  while (!finished) {
    const method = pick(mix);
    const given = methods[method]!();
    const callStarted = performance.now();
    await call(method, given);
    samples.push(performance.now() - callStarted);
  }
  const result = await scanned;
  const rescanMs = performance.now() - started;
  if (!result || result.unchanged !== TRACKS)
    throw new Error(`the rescan changed the library: ${JSON.stringify(result)}`);
  const sorted = samples.sort((a, b) => a - b);
  const [p50, p95, p99] = [0.5, 0.95, 0.99].map((p) => percentile(sorted, p)) as [number, number, number];
  return {
    method: `${mix.join(", ")}: during a no-change rescan (${round(rescanMs / 1000, 1)} s)`,
    calls: samples.length,
    "p50 ms": round(p50, 2),
    "p95 ms": round(p95, 2),
    "p99 ms": round(p99, 2),
    "p95/target": round(p95 / TARGET_P95_MS, 2),
    "max ms": round(sorted[sorted.length - 1]!, 1),
    load: loadavg()[0]!.toFixed(2),
  };
}
if (DURING_RESCAN !== "false") {
  rows.push(await duringRescan());
  console.log(JSON.stringify(rows[rows.length - 1]));
}
await service.stop();
await db.close();
rmSync(work, { recursive: true, force: true });
printTable(
  `Browse at ${TRACKS.toLocaleString("en")} tracks (${albums.toLocaleString("en")} albums, ${artistTotal.toLocaleString("en")} artists), SQLite, the catalog service over the in-process bus, ${SAMPLES} calls each (covers already resized); target p95 ≤ ${TARGET_P95_MS} ms` +
    (untimed.length > 0 ? `; not timed here: ${untimed.join(", ")} (starts a scan: bench/scan.ts)` : ""),
  rows,
);
writeResults("browse", rows, {
  tracks: TRACKS,
  albums,
  artists: artistTotal,
  samples: SAMPLES,
  scannedBefore,
  untimed,
  duringRescan: DURING_RESCAN,
});
