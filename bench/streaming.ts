// Streaming benchmark: manifest → first piece as the player does (never transcoded vs cached), piece throughput with
// 64 clients beside a bare Node server sending the same bytes, server memory.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { WsClient, setupAdmin, waitUntil, writeToneSync } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import {
  cpuOfTree,
  printTable,
  round,
  type Row,
  summarize,
  writeResults,
  writeUnlimitedConfig,
} from "./report";
import { catalogContract } from "@soundmesh/protocol";

const TRACKS = 8;
/** Never-transcoded tracks sought into at once: a seek's offset rendition (from 3:00 of 4:00). */
const SEEK_TRACKS = 4;
const SEEK_FROM_MS = 180_000;
const CLIENTS = 64;
const WARM_UP_PAIRS = 200;
const CPU_PAIRS = 1_000;
/**
 * With BENCH_BEFORE_CLI (a copy of apps/server's bin and dist built before a change), that build serves the 64-client
 * rows too, from its own data dir over the same library; each of BENCH_ROUNDS rounds runs before, now and the bare
 * server in turn, so a change in the machine's load falls on all three.
 */
const beforeCli = process.env.BENCH_BEFORE_CLI;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-stream-"));
/** An album of four-minute FLAC tracks, each its own tone. */
function writeAlbum(album: string, title: string, tracks: number, baseHz: number): void {
  const folder = join(work, "library", "Bench Artist", album);
  mkdirSync(folder, { recursive: true });
  for (let i = 0; i < tracks; i++) {
    writeToneSync(join(folder, `${i + 1} ${title} ${i}.flac`), {
      frequency: baseHz + i * 40,
      seconds: 240,
      codec: ["-c:a", "flac"],
      tags: { title: `${title} ${i}`, artist: "Bench Artist", album, track: String(i + 1) },
    });
  }
}
writeAlbum("Bench Album", "Track", TRACKS, 300);
writeAlbum("Seek Album", "Seek", SEEK_TRACKS, 500);
// The rate limits would otherwise measure the limiters, not the server.
const configFile = writeUnlimitedConfig(work);
const serverEnv = { SOUNDMESH_CONFIG: configFile, SOUNDMESH_LIBRARY: join(work, "library") };
const server = await spawnServer(join(work, "data"), serverEnv);
let beforeServer: Awaited<ReturnType<typeof spawnServer>> | undefined;

/** Signs in as the first administrator and waits for the library's scan: the bench album's and the seek album's ids. */
async function scannedLibrary(url: string) {
  const token = await setupAdmin(url);
  const ws = await WsClient.connect(url, token);
  await waitUntil(
    () => ws.call(catalogContract, "scanStatus"),
    (s) => s.added === TRACKS + SEEK_TRACKS && !s.running,
    60_000,
  );
  const albums = (await ws.call(catalogContract, "recentlyAdded", { limit: 2 })).items;
  const tracksOf = async (title: string) =>
    (
      await ws.call(catalogContract, "album", { albumId: albums.find((a) => a.title === title)!.id })
    ).tracks.map((t) => t.id);
  const library = {
    headers: { authorization: `Bearer ${token}` },
    trackIds: await tracksOf("Bench Album"),
    seekIds: await tracksOf("Seek Album"),
  };
  await ws.close();
  return library;
}

/** Each track's complete manifest, one after another: every transcode has ended, so what follows is the cached path. */
async function completeManifests(url: string, trackIds: string[], headers: Record<string, string>) {
  const manifests: Array<{ pieceCount: number }> = [];
  for (const id of trackIds) {
    const response = await fetch(`${url}/api/stream/${id}/opus160/manifest`, { headers });
    if (!response.ok) throw new Error(`manifest of ${id}: HTTP ${response.status}`);
    manifests.push((await response.json()) as { pieceCount: number });
  }
  return manifests;
}

/**
 * Waits until the server runs and queues no transcode (transcode-ahead of the albums' other tracks), twice in a row:
 * the 64-client rows time the pieces, not an ffmpeg beside them.
 */
async function transcodesIdle(url: string): Promise<void> {
  const isBusy = async () =>
    /^soundmesh_transcodes_(running|queued)(\{[^}]*\})? [1-9]/m.test(
      await (await fetch(`${url}/metrics`)).text(),
    );
  let idleReads = 0;
  await waitUntil(
    async () => (idleReads = (await isBusy()) ? 0 : idleReads + 1),
    (reads) => reads >= 2,
    180_000,
    500,
  );
}

const rows: Row[] = [];
try {
  const { headers, trackIds, seekIds } = await scannedLibrary(server.url);

  // As the player does: the manifest (the first state that has a piece, which may still be growing) and piece 0
  // asked for at once (the player checks the piece against the manifest's hash once both are here).
  // Each answer's time is kept too: where the time of a seek's offset rendition goes (manifest, then piece 0).
  const pair = async (manifestUrl: string, pieceUrl: string, init: RequestInit = { headers }) => {
    const started = performance.now();
    const settled = async (url: string) => {
      const response = await fetch(url, init);
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
      await response.arrayBuffer();
      return performance.now() - started;
    };
    const [manifestMs, pieceMs] = await Promise.all([settled(manifestUrl), settled(pieceUrl)]);
    return { manifestMs, pieceMs, ms: performance.now() - started };
  };
  const stream = `${server.url}/api/stream`;
  const firstPiece = async (id: string) =>
    (await pair(`${stream}/${id}/opus160/manifest?havePieces=0`, `${stream}/${id}/opus160/pieces/0`)).ms;
  const cold: number[] = [];
  const cached: number[] = [];
  const bareCached: number[] = [];
  for (const id of trackIds) cold.push(await firstPiece(id));
  const seeks = [];
  for (const id of seekIds) {
    const from = `${stream}/${id}/opus160/from/${SEEK_FROM_MS}`;
    seeks.push(await pair(`${from}/manifest?havePieces=0`, `${from}/pieces/0`));
  }
  // The complete manifests: every transcode has ended, so what follows is the cached path.
  const manifests = await completeManifests(server.url, trackIds, headers);
  // The same bytes from the same files, served by a bare Node server (the yardstick): rendition key by track.
  const cacheDir = join(work, "data", "renditions");
  const keyOf = new Map<string, string>();
  for (const key of readdirSync(cacheDir)) {
    const manifest = JSON.parse(readFileSync(join(cacheDir, key, "manifest.json"), "utf8")) as {
      trackId: string;
      profile: string;
    };
    if (manifest.profile === "opus160") keyOf.set(manifest.trackId, key);
  }
  const spawnBare = async (...extra: string[]) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "bare-piece-server.ts"), cacheDir, "65536", ...extra],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const port = await new Promise<number>((resolve) =>
      child.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString()))),
    );
    return { child, port };
  };
  const { child: bare, port: barePort } = await spawnBare();
  // The same bare server sending soundmesh's headers with each piece too (its security headers among them): the
  // headers' cost to the client, apart from the server's path.
  const pieceHeaders = Object.fromEntries(
    [...(await fetch(`${stream}/${trackIds[0]}/opus160/pieces/0`, { headers })).headers].filter(
      ([name]) => !["connection", "keep-alive", "date", "content-length", "content-type"].includes(name),
    ),
  );
  const { child: bareWithHeaders, port: bareWithHeadersPort } = await spawnBare(JSON.stringify(pieceHeaders));
  const bareFirstPiece = async (id: string) => {
    const bareUrl = `http://127.0.0.1:${barePort}/${keyOf.get(id)}`;
    return (await pair(`${bareUrl}/manifest`, `${bareUrl}/0`, {})).ms;
  };
  // Both servers' code warmed up first (a running server has answered many requests); not counted.
  for (let i = 0; i < WARM_UP_PAIRS; i++) {
    await firstPiece(trackIds[i % TRACKS]!);
    await bareFirstPiece(trackIds[i % TRACKS]!);
  }
  // Server CPU time per pair over many pairs (the clock ticks in 10 ms): what the load on these shared cores changes
  // least. Then soundmesh and the bare server (the same manifest.json and piece bytes, no checks) in turn, timed.
  const cpuMs = { soundmesh: 0, bare: 0 };
  for (const [name, pid, ask] of [
    ["soundmesh", server.process.pid!, firstPiece],
    ["bare", bare.pid!, bareFirstPiece],
  ] as const) {
    const before = cpuOfTree(pid);
    for (let i = 0; i < CPU_PAIRS; i++) await ask(trackIds[i % TRACKS]!);
    cpuMs[name] = (cpuOfTree(pid) - before) / CPU_PAIRS;
  }
  for (let i = 0; i < 5; i++)
    for (const id of trackIds) {
      cached.push(await firstPiece(id));
      bareCached.push(await bareFirstPiece(id));
    }
  // A click on a track last asked for a while ago: past storage's 2 s memory of its source (the catalog's record).
  const afterIdle: number[] = [];
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  for (const id of trackIds) afterIdle.push(await firstPiece(id));
  for (const [label, samples] of [
    ["never transcoded (4 min FLAC)", cold],
    ["transcoded and cached", cached],
    ["transcoded and cached, 3 s after the last request", afterIdle],
    ["bare Node server, same files (the limit)", bareCached],
    [`seek's offset rendition from ${SEEK_FROM_MS / 60_000}:00, never transcoded`, seeks.map((s) => s.ms)],
    [`seek's offset rendition: its manifest alone`, seeks.map((s) => s.manifestMs)],
  ] as const) {
    const stats = summarize(samples);
    const cpu = samples === cached ? cpuMs.soundmesh : samples === bareCached ? cpuMs.bare : undefined;
    rows.push({
      measure: `manifest → first piece, ${label}`,
      count: stats.count,
      "p50 ms": round(stats.p50, 2),
      "p90 ms": round(stats.p90, 2),
      "max ms": round(Math.max(...samples), 2),
      ...(cpu === undefined ? {} : { "server CPU ms": round(cpu, 3) }),
    });
  }

  type Get = (track: number, piece: number) => Promise<Response>;
  const targets: Partial<Record<"before" | "soundmesh" | "headers" | "bare", { get: Get; pid: number }>> = {
    soundmesh: {
      get: (track, piece) =>
        fetch(`${server.url}/api/stream/${trackIds[track]}/opus160/pieces/${piece}`, { headers }),
      pid: server.process.pid!,
    },
    bare: {
      get: (track, piece) => fetch(`http://127.0.0.1:${barePort}/${keyOf.get(trackIds[track]!)}/${piece}`),
      pid: bare.pid!,
    },
    headers: {
      get: (track, piece) =>
        fetch(`http://127.0.0.1:${bareWithHeadersPort}/${keyOf.get(trackIds[track]!)}/${piece}`),
      pid: bareWithHeaders.pid!,
    },
  };
  if (beforeCli) {
    // The same library scanned and transcoded by the build from before the change, in a data dir of its own.
    beforeServer = await spawnServer(join(work, "data-before"), serverEnv, 30_000, beforeCli);
    const before = await scannedLibrary(beforeServer.url);
    await completeManifests(beforeServer.url, before.trackIds, before.headers);
    // Its code warmed up as the current build's was.
    for (let i = 0; i < WARM_UP_PAIRS; i++) {
      const id = before.trackIds[i % TRACKS]!;
      await pair(
        `${beforeServer.url}/api/stream/${id}/opus160/manifest?havePieces=0`,
        `${beforeServer.url}/api/stream/${id}/opus160/pieces/0`,
        { headers: before.headers },
      );
    }
    const url = beforeServer.url;
    targets.before = {
      get: (track, piece) =>
        fetch(`${url}/api/stream/${before.trackIds[track]}/opus160/pieces/${piece}`, {
          headers: before.headers,
        }),
      pid: beforeServer.process.pid!,
    };
  }
  await Promise.all([
    transcodesIdle(server.url),
    ...(beforeServer ? [transcodesIdle(beforeServer.url)] : []),
  ]);
  // Every piece asked of every server once, untimed: in storage's memory, as on a server that has been playing these
  // tracks (and in the page cache for the bare servers).
  for (const target of Object.values(targets))
    for (let track = 0; track < TRACKS; track++)
      await Promise.all(
        Array.from({ length: manifests[track]!.pieceCount }, async (_, piece) => {
          const response = await target.get(track, piece);
          if (!response.ok) throw new Error(`piece ${piece} of track ${track}: HTTP ${response.status}`);
          await response.arrayBuffer();
        }),
      );
  /** CLIENTS clients, each fetching cached pieces one after another for durationMs. */
  const load = async ({ get, pid }: { get: Get; pid: number }) => {
    const cpuBefore = cpuOfTree(pid);
    const clientCpuBefore = process.cpuUsage();
    const loadBefore = loadavg()[0]!;
    let bytes = 0;
    let requests = 0;
    const latencies: number[] = [];
    const deadline = performance.now() + durationMs;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        let n = client;
        while (performance.now() < deadline) {
          const track = n % trackIds.length;
          const piece = Math.floor(n / trackIds.length) % manifests[track]!.pieceCount;
          const t = performance.now();
          const response = await get(track, piece);
          if (!response.ok) throw new Error(`piece: HTTP ${response.status}`);
          bytes += (await response.arrayBuffer()).byteLength;
          latencies.push(performance.now() - t);
          requests += 1;
          n += CLIENTS;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(clientCpuBefore);
    return {
      bytes,
      requests,
      latencies,
      seconds,
      cpuMs: cpuOfTree(pid) - cpuBefore,
      clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
      load: [loadBefore, loadavg()[0]!],
    };
  };
  // Alternated, so a change in the machine's load falls on all alike.
  const names = (["before", "soundmesh", "headers", "bare"] as const).filter(
    (name) => targets[name] !== undefined,
  );
  const runs = {
    before: [] as Array<Awaited<ReturnType<typeof load>>>,
    soundmesh: [] as Array<Awaited<ReturnType<typeof load>>>,
    headers: [] as Array<Awaited<ReturnType<typeof load>>>,
    bare: [] as Array<Awaited<ReturnType<typeof load>>>,
  };
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const name of names) runs[name].push(await load(targets[name]!));
  } finally {
    bare.kill("SIGTERM");
    bareWithHeaders.kill("SIGTERM");
  }
  const rate = (name: keyof typeof runs) =>
    runs[name].reduce((sum, run) => sum + run.bytes, 0) /
    runs[name].reduce((sum, run) => sum + run.seconds, 0);
  const labels = {
    before: `${CLIENTS} clients fetching cached pieces (soundmesh piece route, build before the change)`,
    soundmesh: `${CLIENTS} clients fetching cached pieces (soundmesh piece route)`,
    headers: `${CLIENTS} clients fetching the same bytes (bare server sending soundmesh's headers too)`,
    bare: `${CLIENTS} clients fetching the same bytes (bare Node http + createReadStream)`,
  };
  for (const name of names) {
    const label = labels[name];
    const latencies = runs[name].flatMap((run) => run.latencies);
    const requests = runs[name].reduce((sum, run) => sum + run.requests, 0);
    const seconds = runs[name].reduce((sum, run) => sum + run.seconds, 0);
    const stats = summarize(latencies);
    rows.push({
      measure: label,
      count: requests,
      "p50 ms": round(stats.p50, 2),
      "p90 ms": round(stats.p90, 2),
      "max ms": round(Math.max(...latencies), 2),
      "MiB/s": round(rate(name) / 2 ** 20, 1),
      "pieces/s": Math.round(requests / seconds),
      "server CPU ms": round(runs[name].reduce((sum, run) => sum + run.cpuMs, 0) / requests, 3),
      "client CPU ms": round(runs[name].reduce((sum, run) => sum + run.clientCpuMs, 0) / requests, 3),
      ...(name === "bare" ? {} : { "of bare": `${Math.round((rate(name) / rate("bare")) * 100)}%` }),
    });
  }
  // Each round's rate beside the bare server's in the same round, and the load average around the round.
  for (let turn = 0; turn < ROUNDS; turn++) {
    const rateOf = (name: (typeof names)[number]) => runs[name][turn]!.bytes / runs[name][turn]!.seconds;
    const loads = names.flatMap((name) => runs[name][turn]!.load);
    rows.push({
      measure: `${CLIENTS} clients, round ${turn + 1}: MiB/s and share of the bare server's`,
      ...Object.fromEntries(
        names.map((name) => [
          name,
          name === "bare"
            ? `${round(rateOf(name) / 2 ** 20, 1)}`
            : `${round(rateOf(name) / 2 ** 20, 1)} (${Math.round((rateOf(name) / rateOf("bare")) * 100)}%)`,
        ]),
      ),
      "load avg": `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
    });
  }
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
  rows.push({ measure: "server resident memory after the run", count: 1, MiB: round(rss / 2 ** 20, 1) });
} finally {
  server.process.kill("SIGTERM");
  beforeServer?.process.kill("SIGTERM");
  await Promise.all([server.exited, beforeServer?.exited]);
  rmSync(work, { recursive: true, force: true });
}
printTable(
  `Streaming over HTTP on loopback: ${TRACKS} four-minute tracks, opus160, 64 KiB pieces (server and clients share 2 cores)`,
  rows,
);
writeResults("streaming", rows, { durationMs, clients: CLIENTS, rounds: ROUNDS, before: beforeCli ?? null });
