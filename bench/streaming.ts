// Streaming benchmark: manifest → first piece as the player does (never transcoded vs cached), piece throughput with
// 64 clients beside a bare Node server sending the same bytes, server memory.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WsClient, setupAdmin, waitUntil, writeToneSync } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { printTable, round, type Row, summarize, writeResults, writeUnlimitedConfig } from "./report";
import { catalogContract } from "@soundmesh/protocol";

const TRACKS = 8;
const CLIENTS = 64;
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-stream-"));
const library = join(work, "library", "Bench Artist", "Bench Album");
mkdirSync(library, { recursive: true });
for (let i = 0; i < TRACKS; i++) {
  writeToneSync(join(library, `${i + 1} Track ${i}.flac`), {
    frequency: 300 + i * 40,
    seconds: 240,
    codec: ["-c:a", "flac"],
    tags: { title: `Track ${i}`, artist: "Bench Artist", album: "Bench Album", track: String(i + 1) },
  });
}
// The rate limits would otherwise measure the limiters, not the server.
const configFile = writeUnlimitedConfig(work);
const server = await spawnServer(join(work, "data"), {
  SOUNDMESH_CONFIG: configFile,
  SOUNDMESH_LIBRARY: join(work, "library"),
});
const rows: Row[] = [];
try {
  const token = await setupAdmin(server.url);
  const headers = { authorization: `Bearer ${token}` };
  const ws = await WsClient.connect(server.url, token);
  await waitUntil(
    () => ws.call(catalogContract, "scanStatus"),
    (s) => s.added === TRACKS && !s.running,
    60_000,
  );
  const album = (await ws.call(catalogContract, "recentlyAdded", { limit: 1 })).items[0]!;
  const trackIds = (await ws.call(catalogContract, "album", { albumId: album.id })).tracks.map((t) => t.id);
  await ws.close();

  // As the player does: the manifest (the first state that has a piece, which may still be growing) and piece 0
  // asked for at once (the player checks the piece against the manifest's hash once both are here).
  const firstPiece = async (id: string) => {
    const started = performance.now();
    const [manifest, piece] = await Promise.all([
      fetch(`${server.url}/api/stream/${id}/opus160/manifest?havePieces=0`, { headers }),
      fetch(`${server.url}/api/stream/${id}/opus160/pieces/0`, { headers }),
    ]);
    if (!manifest.ok || !piece.ok) throw new Error(`HTTP ${manifest.status} / ${piece.status}`);
    await Promise.all([manifest.arrayBuffer(), piece.arrayBuffer()]);
    return performance.now() - started;
  };
  const cold: number[] = [];
  const cached: number[] = [];
  for (const id of trackIds) cold.push(await firstPiece(id));
  // The complete manifests: every transcode has ended, so what follows is the cached path.
  for (const id of trackIds)
    await fetch(`${server.url}/api/stream/${id}/opus160/manifest`, { headers }).then((r) => r.arrayBuffer());
  for (let i = 0; i < 5; i++) for (const id of trackIds) cached.push(await firstPiece(id));
  for (const [label, samples] of [
    ["never transcoded (4 min FLAC)", cold],
    ["transcoded and cached", cached],
  ] as const) {
    const stats = summarize(samples);
    rows.push({
      measure: `manifest → first piece, ${label}`,
      count: stats.count,
      "p50 ms": round(stats.p50, 2),
      "p90 ms": round(stats.p90, 2),
      "max ms": round(Math.max(...samples), 2),
    });
  }

  const manifests = await Promise.all(
    trackIds.map(
      async (id) =>
        (await (await fetch(`${server.url}/api/stream/${id}/opus160/manifest`, { headers })).json()) as {
          pieceCount: number;
        },
    ),
  );
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
  const bare = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "bare-piece-server.ts"), cacheDir, "65536"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const barePort = await new Promise<number>((resolve) =>
    bare.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString()))),
  );
  const targets = {
    soundmesh: (track: number, piece: number) =>
      fetch(`${server.url}/api/stream/${trackIds[track]}/opus160/pieces/${piece}`, { headers }),
    bare: (track: number, piece: number) =>
      fetch(`http://127.0.0.1:${barePort}/${keyOf.get(trackIds[track]!)}/${piece}`),
  };
  /** CLIENTS clients, each fetching cached pieces one after another for durationMs. */
  const load = async (get: (track: number, piece: number) => Promise<Response>) => {
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
    return { bytes, requests, latencies, seconds: (performance.now() - started) / 1000 };
  };
  // Alternated, so a change in the machine's load falls on both alike.
  const runs = {
    soundmesh: [] as Array<Awaited<ReturnType<typeof load>>>,
    bare: [] as Array<Awaited<ReturnType<typeof load>>>,
  };
  try {
    for (let round = 0; round < 2; round++)
      for (const name of ["soundmesh", "bare"] as const) runs[name].push(await load(targets[name]));
  } finally {
    bare.kill("SIGTERM");
  }
  const rate = (name: keyof typeof runs) =>
    runs[name].reduce((sum, run) => sum + run.bytes, 0) /
    runs[name].reduce((sum, run) => sum + run.seconds, 0);
  for (const [name, label] of [
    ["soundmesh", `${CLIENTS} clients fetching cached pieces (soundmesh piece route)`],
    ["bare", `${CLIENTS} clients fetching the same bytes (bare Node http + createReadStream)`],
  ] as const) {
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
      ...(name === "soundmesh"
        ? { "of bare": `${Math.round((rate("soundmesh") / rate("bare")) * 100)}%` }
        : {}),
    });
  }
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
  rows.push({ measure: "server resident memory after the run", count: 1, MiB: round(rss / 2 ** 20, 1) });
} finally {
  server.process.kill("SIGTERM");
  await server.exited;
  rmSync(work, { recursive: true, force: true });
}
printTable(
  `Streaming over HTTP on loopback: ${TRACKS} four-minute tracks, opus160, 64 KiB pieces (server and clients share 2 cores)`,
  rows,
);
writeResults("streaming", rows, { durationMs, clients: CLIENTS });
