// Access point benchmark: WebSocket request round trips (user.me through the bus to the user service) on loopback.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WsClient, setupAdmin } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { printTable, round, type Row, summarize, writeResults, writeUnlimitedConfig } from "./report";
import { userContract } from "@soundmesh/protocol";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5000);
const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-bench-ap-"));
// The rate limits would otherwise measure the limiters, not the server.
const configFile = writeUnlimitedConfig(dataDir);
const server = await spawnServer(dataDir, { SOUNDMESH_CONFIG: configFile });
const rows: Row[] = [];
try {
  const token = await setupAdmin(server.url);
  for (const clients of [1, 16, 128]) {
    const sockets = await Promise.all(
      Array.from({ length: clients }, () => WsClient.connect(server.url, token)),
    );
    for (const socket of sockets) await socket.call(userContract, "me"); // warm up
    const samples: number[] = [];
    const deadline = performance.now() + durationMs;
    const started = performance.now();
    await Promise.all(
      sockets.map(async (socket) => {
        while (performance.now() < deadline) {
          const sent = performance.now();
          await socket.call(userContract, "me");
          samples.push(performance.now() - sent);
        }
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const stats = summarize(samples);
    rows.push({
      clients,
      requests: samples.length,
      "req/s": Math.round(samples.length / elapsedS),
      "p50 ms": round(stats.p50),
      "p99 ms": round(stats.p99),
    });
    // Frames are tracked per client; drop them between rounds to keep the client side light.
    await Promise.all(sockets.map((socket) => socket.close()));
  }
} finally {
  server.process.kill("SIGTERM");
  await server.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
printTable(
  "Access point: WebSocket user.me round trip (client and server in separate processes, loopback)",
  rows,
);
writeResults("access-point", rows, { durationMs });
