// Piece throughput of a cluster with 4, 2 and 1 storage nodes and 1 and 2 access points: 64 clients reading cached
// 64 KiB pieces over HTTP, each through its access point, the ring and NATS to the owning node. Beside it in the same
// run the limits: a bare Node server sending the same bytes, and all-in-one (`soundmesh serve`) on the same library.
// One local cluster (`soundmesh cluster`: 4 storage nodes, 2 access points, one nats-server, PostgreSQL); storage
// nodes are stopped (a clean leave) to go from 4 to 2 to 1, and every piece is read once before each measure (the new
// owners make what they lack), so only cached pieces are timed.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { catalogContract, streamManifest } from "@soundmesh/protocol";
import {
  WsClient,
  login,
  natsServerAvailable,
  pgTestDatabase,
  setupAdmin,
  waitUntil,
  writeTone,
} from "@soundmesh/test-kit";
import { spawnServer, startCluster } from "@soundmesh/test-kit/server";
import {
  cpuOfTree,
  printTable,
  round,
  summarize,
  writeResults,
  writeUnlimitedConfig,
  type Row,
} from "./report";

const TRACKS = 16;
const TRACK_SECONDS = 60;
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 4_000);
const PROFILE = "opus96";
const admin = { name: "admin", password: "correct horse battery" };

if (!natsServerAvailable())
  throw new Error("bench/cluster-throughput.ts needs nats-server (apt-get install nats-server)");
const root = mkdtempSync(join(tmpdir(), "soundmesh-bench-cluster-throughput-"));
const libraryDir = join(root, "library", "Throughput Artist", "Pieces");
mkdirSync(libraryDir, { recursive: true });
for (let i = 0; i < TRACKS; i += 1) {
  await writeTone(join(libraryDir, `${i + 1} Piece ${i}.flac`), {
    frequency: 220 + i * 30,
    seconds: TRACK_SECONDS,
    codec: ["-c:a", "flac"],
    tags: { title: `Piece ${i}`, artist: "Throughput Artist", album: "Pieces", track: String(i + 1) },
  });
}
const library = join(root, "library");
// No transcoding ahead after the scan: no ffmpeg runs while pieces are timed.
const unlimited = writeUnlimitedConfig(root, { transcode: { ahead: [] } });

/** Where pieces are read: one or more access points (clients spread over them), each with its own token. */
interface Target {
  urls: Array<{ url: string; token: string }>;
}

interface Track {
  id: string;
  pieceCount: number;
}

/** The tracks of the library once its scan is done, with their rendition's piece counts (making it if needed). */
async function tracksOf(url: string, token: string): Promise<Track[]> {
  const ws = await WsClient.connect(url, token, 10_000);
  let ids: string[];
  try {
    await waitUntil(
      () => ws.call(catalogContract, "scanStatus"),
      (status) => status.added === TRACKS && !status.running,
      120_000,
      250,
    );
    const album = (await ws.call(catalogContract, "recentlyAdded", { limit: 1 })).items[0]!;
    ids = (await ws.call(catalogContract, "album", { albumId: album.id })).tracks.map((t) => t.id);
  } finally {
    await ws.close();
  }
  const headers = { authorization: `Bearer ${token}` };
  // One at a time: a user's transcodes at once are bounded (a 429 past it).
  const tracks: Track[] = [];
  for (const id of ids) {
    const response = await fetch(`${url}/api/stream/${id}/${PROFILE}/manifest`, { headers });
    if (!response.ok) throw new Error(`manifest of ${id}: HTTP ${response.status}`);
    tracks.push({ id, pieceCount: streamManifest.parse(await response.json()).pieceCount });
  }
  return tracks;
}

type PieceUrl = (track: number, piece: number, client: number) => { url: string; init: RequestInit };

/** Reads every piece once through every access point: whoever owns a rendition now has it before timing starts. */
async function readAll(target: Target, tracks: Track[]): Promise<void> {
  for (const { url, token } of target.urls) {
    const headers = { authorization: `Bearer ${token}` };
    // A track at a time (a new owner may transcode it), its pieces at once.
    for (const track of tracks) {
      await Promise.all(
        Array.from({ length: track.pieceCount }, async (_, piece) => {
          const response = await fetch(`${url}/api/stream/${track.id}/${PROFILE}/pieces/${piece}`, {
            headers,
          });
          if (!response.ok) throw new Error(`piece ${piece} of ${track.id}: HTTP ${response.status}`);
          await response.arrayBuffer();
        }),
      );
    }
  }
}

/** Whose CPU time is counted: a process and its descendants, and for a cluster the share of each kind of process. */
interface CpuOf {
  total: number;
  parts?: Record<string, () => number[]>;
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const cpuOfAll = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuOfTree(pid), 0);

/** CLIENTS clients, each reading pieces one after another for `forMs`. */
async function load(tracks: Track[], pieceUrl: PieceUrl, cpu: CpuOf, forMs = durationMs) {
  const cpuBefore = cpuOfTree(cpu.total);
  const partsBefore = Object.entries(cpu.parts ?? {}).map(
    ([name, pids]) => [name, cpuOfAll(pids())] as const,
  );
  const clientBefore = process.cpuUsage();
  let bytes = 0;
  const latencies: number[] = [];
  const deadline = performance.now() + forMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      let n = client * 7;
      while (performance.now() < deadline) {
        const track = n % tracks.length;
        const piece = Math.floor(n / tracks.length) % tracks[track]!.pieceCount;
        const { url, init } = pieceUrl(track, piece, client);
        const sentMs = performance.now();
        const response = await fetch(url, init);
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        bytes += (await response.arrayBuffer()).byteLength;
        latencies.push(performance.now() - sentMs);
        n += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = summarize(latencies);
  const perPiece = (ms: number) => round(ms / latencies.length, 2);
  const client = process.cpuUsage(clientBefore);
  return {
    "MiB/s": round(bytes / 2 ** 20 / seconds, 1),
    "pieces/s": Math.round(latencies.length / seconds),
    "p50 ms": round(stats.p50, 1),
    "p99 ms": round(stats.p99, 1),
    "server CPU ms/piece": perPiece(cpuOfTree(cpu.total) - cpuBefore),
    ...(partsBefore.length === 0
      ? {}
      : {
          "of which": partsBefore
            .map(([name, before]) => `${name} ${perPiece(cpuOfAll(cpu.parts![name]!()) - before)}`)
            .join(", "),
        }),
    "client CPU ms/piece": perPiece((client.user + client.system) / 1000),
  };
}

const throughRoutes =
  (target: Target, tracks: Track[]): PieceUrl =>
  (track, piece, client) => {
    const { url, token } = target.urls[client % target.urls.length]!;
    return {
      url: `${url}/api/stream/${tracks[track]!.id}/${PROFILE}/pieces/${piece}`,
      init: { headers: { authorization: `Bearer ${token}` } },
    };
  };

/** The bare server on a rendition cache folder: GET /<rendition key>/<piece>. */
async function startBare(cacheDir: string) {
  const keyOf = new Map<string, string>();
  for (const key of readdirSync(cacheDir)) {
    const manifest = JSON.parse(readFileSync(join(cacheDir, key, "manifest.json"), "utf8")) as {
      trackId: string;
      profile: string;
    };
    if (manifest.profile === PROFILE) keyOf.set(manifest.trackId, key);
  }
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "bare-piece-server.ts"), cacheDir, "65536"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString()))),
  );
  const pieceUrl =
    (tracks: Track[]): PieceUrl =>
    (track, piece) => ({
      url: `http://127.0.0.1:${port}/${keyOf.get(tracks[track]!.id)}/${piece}`,
      init: {},
    });
  return { child, pieceUrl };
}

const rows: Row[] = [];
const measure = async (setup: string, tracks: Track[], pieceUrl: PieceUrl, cpu: CpuOf) => {
  // A second unmeasured first: connections opened, the code on this path compiled.
  await load(tracks, pieceUrl, cpu, 1_000);
  const loadBefore = loadavg()[0]!;
  const result = await load(tracks, pieceUrl, cpu);
  rows.push({ setup, ...result, load: round(loadBefore, 1) });
  console.log(`${setup}: ${JSON.stringify(result)} (load ${loadBefore.toFixed(1)})`);
};

const allInOneDb = await pgTestDatabase();
const clusterDb = await pgTestDatabase();
if (!allInOneDb || !clusterDb)
  throw new Error("bench/cluster-throughput.ts needs PostgreSQL (SOUNDMESH_TEST_PG_URL)");

// The limits first: all-in-one, and the bare server on all-in-one's rendition cache (every rendition in one folder).
const allInOneDir = join(root, "all-in-one");
const server = await spawnServer(
  allInOneDir,
  { SOUNDMESH_DATABASE_URL: allInOneDb.url, SOUNDMESH_LIBRARY: library, SOUNDMESH_CONFIG: unlimited },
  120_000,
);
let bare: Awaited<ReturnType<typeof startBare>> | undefined;
let tracks: Track[];
try {
  const token = await setupAdmin(server.url, admin.name, admin.password);
  tracks = await tracksOf(server.url, token);
  const allInOne: Target = { urls: [{ url: server.url, token }] };
  await readAll(allInOne, tracks);
  bare = await startBare(join(allInOneDir, "renditions"));
  await measure("bare Node server, same bytes (limit)", tracks, bare.pieceUrl(tracks), {
    total: bare.child.pid!,
  });
  await measure("all-in-one (soundmesh serve)", tracks, throughRoutes(allInOne, tracks), {
    total: server.process.pid!,
  });
} catch (error) {
  bare?.child.kill("SIGTERM");
  await clusterDb.drop();
  throw error;
} finally {
  server.process.kill("SIGTERM");
  await server.exited;
  await allInOneDb.drop();
}

const bareServer = bare;
const clusterDir = join(root, "cluster");
mkdirSync(clusterDir);
let cluster: Awaited<ReturnType<typeof startCluster>> | undefined;
try {
  cluster = await startCluster(
    clusterDir,
    {
      database: clusterDb.url,
      nats: { nodes: 1 },
      services: { "access-point": 2, storage: 4 },
      library: [library],
      logLevel: "warn",
    },
    {
      SOUNDMESH_ADMIN_NAME: admin.name,
      SOUNDMESH_ADMIN_PASSWORD: admin.password,
      SOUNDMESH_CONFIG: unlimited,
    },
  );
  const urls = await Promise.all(
    cluster.state.accessPoints.map(async (url) => ({
      url,
      token: await login(url, admin.name, admin.password),
    })),
  );
  const clusterTracks = await tracksOf(urls[0]!.url, urls[0]!.token);
  const storageNodes = cluster.state.processes.filter((p) => p.service === "storage");
  const running = (service: string) =>
    cluster!.state.processes
      .filter((p) => p.service === service)
      .map((p) => p.pid)
      .filter(isRunning);
  const cpu: CpuOf = {
    total: cluster.process.pid!,
    parts: {
      "access points": () => running("access-point"),
      storage: () => running("storage"),
      "nats-server": () => cluster!.state.nats.map((node) => node.pid),
    },
  };
  for (const nodes of [4, 2, 1]) {
    for (const stopped of storageNodes.slice(nodes)) {
      try {
        process.kill(stopped.pid, "SIGTERM");
      } catch {
        // Stopped for a smaller ring already.
      }
      await waitUntil(
        () => isRunning(stopped.pid),
        (alive) => !alive,
        30_000,
      );
    }
    const both: Target = { urls };
    await readAll(both, clusterTracks);
    for (const accessPoints of [1, 2]) {
      const target: Target = { urls: urls.slice(0, accessPoints) };
      await measure(
        `cluster: ${nodes} storage, ${accessPoints} access point${accessPoints > 1 ? "s" : ""}`,
        clusterTracks,
        throughRoutes(target, clusterTracks),
        cpu,
      );
    }
  }
  // The bare server again at the end: the machine's load moves during a run.
  await measure("bare Node server, same bytes (limit, again)", tracks, bareServer.pieceUrl(tracks), {
    total: bareServer.child.pid!,
  });
} finally {
  bareServer.child.kill("SIGTERM");
  await cluster?.stop();
  await clusterDb.drop();
}

printTable(
  `Piece throughput: ${CLIENTS} clients reading cached 64 KiB pieces (${TRACKS} tracks, ${PROFILE}), ${durationMs / 1000} s each; clients, servers and NATS share the machine's cores`,
  rows,
);
console.log(`load average (1 min) at each row's start in "load"; now ${loadavg()[0]!.toFixed(1)}`);
writeResults("cluster-throughput", rows, { clients: CLIENTS, durationMs, tracks: TRACKS });
rmSync(root, { recursive: true, force: true });
