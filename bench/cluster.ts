// Cluster mode's costs: how long `soundmesh cluster` takes to start a full local cluster (2 access points, 2 search,
// 3 storage, one of each other service, a 3-node NATS JetStream cluster, PostgreSQL), and the per-request cost of
// browse, search and a 64 KiB piece through it against all-in-one (a `soundmesh serve` child on PostgreSQL too, so
// the difference is the processes and NATS, not the database). One request at a time over one client: the time is
// from sending the request to the parsed answer (WebSocket frames for browse and search, HTTP for the piece).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { catalogContract, searchContract, streamManifest } from "@soundmesh/protocol";
import {
  WsClient,
  generateFixtureLibrary,
  login,
  natsServerAvailable,
  pgTestDatabase,
  setupAdmin,
  waitUntil,
  writeTone,
} from "@soundmesh/test-kit";
import { spawnServer, startCluster } from "@soundmesh/test-kit/server";
import { printTable, round, summarize, writeResults, writeUnlimitedConfig, type Row } from "./report";

const requests = Number(process.env.BENCH_CLUSTER_REQUESTS ?? 200);
const admin = { name: "admin", password: "correct horse battery" };

if (!natsServerAvailable())
  throw new Error("bench/cluster.ts needs nats-server (apt-get install nats-server)");
const root = mkdtempSync(join(tmpdir(), "soundmesh-bench-cluster-"));
const fixture = await generateFixtureLibrary();
const longFolder = join(root, "long");
mkdirSync(longFolder);
await writeTone(join(longFolder, "longtone.flac"), {
  frequency: 330,
  seconds: 40,
  codec: ["-c:a", "flac"],
  tags: { title: "Longtone Bench", artist: "Ring Bench", album: "Pieces" },
});
const library = [fixture.root, longFolder];
// The per-user limits out of the way in every process: the bench measures the paths, not the limiters.
const unlimited = writeUnlimitedConfig(root);

interface Target {
  url: string;
  token: string;
}

/** Times browse, search and piece requests against one access point; warms each path first. */
async function measure(target: Target): Promise<Record<string, number[]>> {
  const client = await WsClient.connect(target.url, target.token, 10_000);
  try {
    await waitUntil(
      () => client.call(searchContract, "query", { q: "longtone", kinds: ["track"] }),
      (result) => result.hits.length === 1,
      120_000,
      250,
    );
    const trackId = (await client.call(searchContract, "query", { q: "longtone", kinds: ["track"] })).hits[0]!
      .id;
    const headers = { authorization: `Bearer ${target.token}` };
    const manifest = streamManifest.parse(
      await (await fetch(`${target.url}/api/stream/${trackId}/opus96/manifest`, { headers })).json(),
    );
    if (manifest.pieceCount < 2) throw new Error("the long track has fewer than 2 pieces");
    const pieceUrl = `${target.url}/api/stream/${trackId}/opus96/pieces/0`;
    const paths: Record<string, () => Promise<unknown>> = {
      "browse (recentlyAdded, 50)": () => client.call(catalogContract, "recentlyAdded", { limit: 50 }),
      'search ("sigur r")': () => client.call(searchContract, "query", { q: "sigur r" }),
      "64 KiB piece (HTTP)": async () => {
        const bytes = await (await fetch(pieceUrl, { headers })).arrayBuffer();
        if (bytes.byteLength !== 65_536) throw new Error(`piece 0 is ${bytes.byteLength} bytes`);
      },
    };
    const samples: Record<string, number[]> = {};
    for (const [name, run] of Object.entries(paths)) {
      for (let i = 0; i < 20; i += 1) await run();
      const times: number[] = [];
      for (let i = 0; i < requests; i += 1) {
        const startedMs = performance.now();
        await run();
        times.push(performance.now() - startedMs);
      }
      samples[name] = times;
    }
    return samples;
  } finally {
    await client.close();
  }
}

const loadBefore = loadavg()[0]!;
const clusterDb = await pgTestDatabase();
const allInOneDb = await pgTestDatabase();
if (!clusterDb || !allInOneDb) throw new Error("bench/cluster.ts needs PostgreSQL (SOUNDMESH_TEST_PG_URL)");
const clusterDir = join(root, "cluster");
mkdirSync(clusterDir);
const cluster = await startCluster(
  clusterDir,
  {
    database: clusterDb.url,
    nats: { nodes: 3 },
    services: { "access-point": 2, search: 2, storage: 3 },
    library,
    logLevel: "warn",
  },
  { SOUNDMESH_ADMIN_NAME: admin.name, SOUNDMESH_ADMIN_PASSWORD: admin.password, SOUNDMESH_CONFIG: unlimited },
);
let clusterSamples: Record<string, number[]>;
try {
  const url = cluster.state.accessPoints[0]!;
  clusterSamples = await measure({ url, token: await login(url, admin.name, admin.password) });
} finally {
  await cluster.stop();
  await clusterDb.drop();
}

const allInOneStartedMs = performance.now();
const server = await spawnServer(
  join(root, "all-in-one"),
  {
    SOUNDMESH_DATABASE_URL: allInOneDb.url,
    SOUNDMESH_LIBRARY: library.join(delimiter),
    SOUNDMESH_CONFIG: unlimited,
  },
  120_000,
);
const allInOneStartupMs = performance.now() - allInOneStartedMs;
let allInOneSamples: Record<string, number[]>;
try {
  allInOneSamples = await measure({
    url: server.url,
    token: await setupAdmin(server.url, admin.name, admin.password),
  });
} finally {
  server.process.kill("SIGTERM");
  await server.exited;
  await allInOneDb.drop();
}
const loadAfter = loadavg()[0]!;

const startupRows: Row[] = [
  {
    what: 'soundmesh cluster: spawn to "cluster ready" (14 processes, 3 NATS nodes)',
    seconds: round(cluster.startupMs / 1000, 1),
  },
  { what: "soundmesh serve (all-in-one): spawn to listening", seconds: round(allInOneStartupMs / 1000, 1) },
];
printTable("Start-up", startupRows);

const costRows: Row[] = Object.keys(clusterSamples).map((name) => {
  const inCluster = summarize(clusterSamples[name]!);
  const inOne = summarize(allInOneSamples[name]!);
  return {
    request: name,
    "all-in-one p50 ms": round(inOne.p50, 2),
    "all-in-one p99 ms": round(inOne.p99, 2),
    "cluster p50 ms": round(inCluster.p50, 2),
    "cluster p99 ms": round(inCluster.p99, 2),
    "cluster p50 ÷ all-in-one": round(inCluster.p50 / inOne.p50, 1),
  };
});
printTable(
  `Per-request cost, one at a time, ${requests} each: cluster (through NATS) against all-in-one`,
  costRows,
);
console.log(`load average: ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after`);
writeResults("cluster", [...startupRows, ...costRows], { loadBefore, loadAfter, requests });
rmSync(root, { recursive: true, force: true });
