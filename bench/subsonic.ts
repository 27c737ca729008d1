// OpenSubsonic API benchmark: a whole all-in-one server (in this process) on the generated library of 100,000 MP3
// tracks, asked over HTTP as an app asks it (salted-token auth, f=json): getArtists, getAlbumList2, getAlbum, search3
// and getPlaylist (500 songs) p50/p95, getSimilarSongs2 (from the radio index) p50/p95/p99, one request at a time, and stream's time to the first byte of audio for a
// never-transcoded track (MP3 made by ffmpeg as it plays), for the same transcode from the cache, and for the original.
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, loadConfig, startAllInOne } from "@soundmesh/server";
import { catalogContract, recommendContract, searchContract, userContract } from "@soundmesh/protocol";
import { WsClient, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { fastSecurity } from "@soundmesh/test-kit/server";
import { percentile, printTable, round, writeResults, type Row } from "./report";
import { taggedLibrary } from "./tagged-copies";

const TRACKS = Number(process.env.BENCH_SUBSONIC_TRACKS ?? 100_000);
const SAMPLES = Number(process.env.BENCH_SUBSONIC_SAMPLES ?? 100);
const STREAMS = Number(process.env.BENCH_SUBSONIC_STREAMS ?? 10);
const library = taggedLibrary(TRACKS);
const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-bench-subsonic-"));
// bench/browse.ts keeps the 100,000-track catalog scanned beside the library: the server starts from a copy of it
// (its other services migrate their own tables in), so its start-up scan only checks that nothing changed.
const scanned = `${library.root}.catalog.sqlite`;
if (existsSync(scanned)) copyFileSync(scanned, join(dataDir, "soundmesh.db"));

const config = loadConfig({
  env: {},
  overrides: {
    dataDir,
    port: 0,
    logLevel: "error",
    library: { folders: [library.root], demo: false, watch: false },
    security: fastSecurity,
    rateLimits: { perUserHttp: { ratePerSecond: 1e6, burst: 1e6 } },
  },
});
const startedMs = performance.now();
const startedAtEpochMs = Date.now();
/** A catalog scanned by an older build may not migrate: then the library is scanned afresh (minutes at 100,000). */
async function start() {
  try {
    return await startAllInOne(config, createLogger(config.logLevel));
  } catch (error) {
    if (!existsSync(join(dataDir, "soundmesh.db"))) throw error;
    console.log(`the kept catalog does not migrate (${String(error)}); scanning the library afresh`);
    for (const suffix of ["", "-wal", "-shm"])
      rmSync(join(dataDir, `soundmesh.db${suffix}`), { force: true });
    return startAllInOne(config, createLogger(config.logLevel));
  }
}
const server = await start();
const token = await setupAdmin(server.url, "bench", "bench password 1");
const ws = await WsClient.connect(server.url, token);
await ws.call(userContract, "setMySubsonicPassword", { password: "bench subsonic" });

const auth = () => {
  const salt = Math.random().toString(36).slice(2, 10);
  return { u: "bench", s: salt, t: createHash("md5").update(`bench subsonic${salt}`).digest("hex") };
};
const url = (method: string, params: Record<string, string | string[]>) => {
  const target = new URL(`${server.url}/rest/${method}`);
  for (const [name, value] of Object.entries({ v: "1.16.1", c: "bench", f: "json", ...auth(), ...params }))
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(name, item);
  return target;
};
async function call(method: string, params: Record<string, string | string[]> = {}) {
  const response = await fetch(url(method, params));
  const body = (await response.json()) as {
    "subsonic-response": Record<string, unknown> & { status: string };
  };
  const answer = body["subsonic-response"];
  if (answer.status !== "ok") throw new Error(`${method}: ${JSON.stringify(answer)}`);
  return answer;
}
async function timed(method: string, params: () => Record<string, string | string[]>) {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const started = performance.now();
    await call(method, params());
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b);
}
const random = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(items: readonly T[]): T => items[random(items.length)]!;

/**
 * BENCH_SUBSONIC_DURING_STARTUP=only: answers while the server's start-up work runs (the no-change rescan of the
 * kept catalog first), from the first moment the bench can ask to the scan's end; then the bench stops.
 */
async function duringStartUp(): Promise<void> {
  let scanEnded = false;
  const scanned = waitUntil(
    () => ws.call(catalogContract, "scanStatus"),
    (status) => !status.running && status.finishedAt !== null && status.finishedAt >= startedAtEpochMs,
    3_600_000,
    100,
  ).then(() => (scanEnded = true));
  const albums = TRACKS / 10;
  const asks: Array<[string, () => Record<string, string>]> = [
    ["getArtists", () => ({})],
    [
      "getAlbumList2",
      () => ({ type: "alphabeticalByName", size: "50", offset: String(random(albums - 50)) }),
    ],
    ["getAlbumList2", () => ({ type: "newest", size: "50" })],
  ];
  const samples: number[] = [];
  const askedFromMs = performance.now();
  while (!scanEnded) {
    const [method, params] = pick(asks);
    const started = performance.now();
    await call(method, params());
    samples.push(performance.now() - started);
  }
  await scanned;
  const sorted = samples.sort((a, b) => a - b);
  const row = {
    what: "getArtists, getAlbumList2 (by name at a random offset, newest): during the start-up rescan",
    samples: sorted.length,
    p50_ms: round(percentile(sorted, 0.5), 1),
    p95_ms: round(percentile(sorted, 0.95), 1),
    p99_ms: round(percentile(sorted, 0.99), 1),
    max_ms: round(sorted[sorted.length - 1] ?? Number.NaN, 1),
    note: `asked for ${round((performance.now() - askedFromMs) / 1000, 1)} s, from ${round((askedFromMs - startedMs) / 1000, 1)} s after the start; load ${loadavg()[0]!.toFixed(2)}`,
  };
  printTable(`OpenSubsonic on ${TRACKS.toLocaleString("en")} tracks during the start-up rescan`, [row]);
  writeResults("subsonic-startup", [row], { tracks: TRACKS });
  await ws.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}
if (process.env.BENCH_SUBSONIC_DURING_STARTUP === "only") await duringStartUp();
// The start-up scan (a no-change rescan of a kept catalog) must have run and ended: until then the server is busy
// and every answer waits for it (the first measurements of an earlier version timed that scan, not the API).
await waitUntil(
  () => ws.call(catalogContract, "scanStatus"),
  (status) => !status.running && status.finishedAt !== null && status.finishedAt >= startedAtEpochMs,
  3_600_000,
  500,
);
// Search answers once its index holds the library (titles are "Song <n>", albums "Album <n>", artists "Artist <n>").
await waitUntil(
  () => ws.call(searchContract, "query", { q: `Song ${TRACKS - 1}` }),
  (answer) => answer.hits.length > 0,
  600_000,
  500,
);
// The radio index the server builds after its first scan, over the whole library: built before any timing, so no
// answer below shares the CPU with that build.
const radioWaitStarted = performance.now();
await waitUntil(
  async () => {
    const status = await ws.call(recommendContract, "status", {});
    if (!status.building && status.tracks < TRACKS) await ws.call(recommendContract, "rebuild", {});
    return status;
  },
  (status) => status.loaded && !status.building && status.tracks >= TRACKS,
  3_600_000,
  1_000,
);
console.log(`radio index ready after ${round((performance.now() - radioWaitStarted) / 1000, 1)} s more`);
console.log(`server ready on ${TRACKS} tracks in ${round((performance.now() - startedMs) / 1000, 1)} s`);
const rows: Row[] = [];
const addRow = (what: string, samples: number[], note = "") =>
  rows.push({
    what,
    samples: samples.length,
    p50_ms: round(percentile(samples, 0.5), 1),
    p95_ms: round(percentile(samples, 0.95), 1),
    note,
  });

// getArtists: the first answer builds the index of every artist (kept until the catalog changes).
const coldStarted = performance.now();
const artists = await call("getArtists");
const coldArtistsMs = performance.now() - coldStarted;
const artistCount = (artists.artists as { index: Array<{ artist: unknown[] }> }).index.reduce(
  (sum, entry) => sum + entry.artist.length,
  0,
);
addRow("getArtists, first (builds the index)", [coldArtistsMs], `${artistCount} artists`);
addRow("getArtists", await timed("getArtists", () => ({})), `${artistCount} artists`);
const albumTotal = TRACKS / 10;
addRow(
  "getAlbumList2 alphabeticalByName, size 50, random offset",
  await timed("getAlbumList2", () => ({
    type: "alphabeticalByName",
    size: "50",
    offset: String(random(albumTotal - 50)),
  })),
);
addRow("getAlbumList2 newest, size 50", await timed("getAlbumList2", () => ({ type: "newest", size: "50" })));
const albumIds: string[] = [];
const artistIds = new Set<string>();
for (const offset of [0, 2_000, 4_000, 6_000, 8_000]) {
  const page = await call("getAlbumList2", {
    type: "alphabeticalByName",
    size: "500",
    offset: String(offset),
  });
  const albums = (page.albumList2 as { album: Array<{ id: string; artistId: string }> }).album;
  albumIds.push(...albums.map((album) => album.id));
  for (const album of albums) artistIds.add(album.artistId);
}
addRow("getAlbum (10 songs), random album", await timed("getAlbum", () => ({ id: pick(albumIds) })));
addRow(
  "search3 'Song <n>' / 'Album <n>' / 'Artst <n>' (a typo), 20 per kind",
  await timed("search3", () => ({
    query: pick([`Song ${random(TRACKS)}`, `Album ${random(albumTotal)}`, `Artst ${random(TRACKS / 100)}`]),
  })),
);
const songIds: string[] = [];
for (const albumId of albumIds.slice(0, 50)) {
  const album = await call("getAlbum", { id: albumId });
  songIds.push(...(album.album as { song: Array<{ id: string }> }).song.map((song) => song.id));
}
const created = await fetch(`${server.url}/rest/createPlaylist`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams([
    ...Object.entries({ v: "1.16.1", c: "bench", f: "json", ...auth(), name: "Bench 500" }),
    ...songIds.slice(0, 500).map((id) => ["songId", id]),
  ]).toString(),
});
const playlistId = ((await created.json()) as { "subsonic-response": { playlist: { id: string } } })[
  "subsonic-response"
].playlist.id;
addRow("getPlaylist, 500 songs", await timed("getPlaylist", () => ({ id: playlistId })));

// getSimilarSongs2: the radio (recommend over the bus: hnswlib nearest neighbours of the artist's tracks) and the
// songs' records and annotations (the radio index was waited for before any timing, above).
const similar = await timed("getSimilarSongs2", () => ({ id: pick([...artistIds]), count: "50" }));
rows.push({
  what: "getSimilarSongs2, 50 songs, random artist",
  samples: similar.length,
  p50_ms: round(percentile(similar, 0.5), 1),
  p95_ms: round(percentile(similar, 0.95), 1),
  p99_ms: round(percentile(similar, 0.99), 1),
  note: `${artistIds.size} artists drawn from`,
});

/** Time until the first audio byte arrives, and the whole body read. */
async function firstByteMs(params: Record<string, string>): Promise<number> {
  const started = performance.now();
  const response = await fetch(url("stream", params));
  const reader = response.body!.getReader();
  const first = await reader.read();
  const elapsed = performance.now() - started;
  if (first.done || !response.headers.get("content-type")?.startsWith("audio/"))
    throw new Error(`stream answered ${response.headers.get("content-type")}`);
  for (;;) if ((await reader.read()).done) break;
  return elapsed;
}
const streamIds = songIds.slice(0, STREAMS);
const cold: number[] = [];
const cached: number[] = [];
const original: number[] = [];
for (const id of streamIds) cold.push(await firstByteMs({ id, format: "mp3", maxBitRate: "128" }));
for (const id of streamIds) {
  // The finished transcode is renamed into the cache as ffmpeg ends: wait for it to be there.
  await waitUntil(
    () =>
      fetch(url("stream", { id, format: "mp3", maxBitRate: "128" }), {
        headers: { range: "bytes=0-0" },
      }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      }),
    (status) => status === 206,
    30_000,
  );
  cached.push(await firstByteMs({ id, format: "mp3", maxBitRate: "128" }));
  original.push(await firstByteMs({ id, format: "raw" }));
}
for (const [what, samples] of [
  ["stream MP3 128k, never transcoded (ffmpeg's first bytes)", cold],
  ["stream MP3 128k, from the transcode cache", cached],
  ["stream original (raw)", original],
] as const)
  addRow(
    `${what}: time to first byte`,
    [...samples].sort((a, b) => a - b),
  );

printTable(`OpenSubsonic API on ${TRACKS.toLocaleString("en")} tracks (one request at a time)`, rows);
writeResults("subsonic", rows, { tracks: TRACKS, samples: SAMPLES });
await ws.close();
await server.stop();
rmSync(dataDir, { recursive: true, force: true });
