// Cluster-mode costs. (1) Per-request cost through NATS against in process: one request at a time, a small call
// (a JSON echo) and a 64 KiB piece (bytes + a flag), timed from the caller's request() to its parsed reply, with
// the callee on its own NATS connection (as another process would be) and contracts checked on both ends.
// (2) The storage ring: the share of keys that change owner when a node joins or leaves at N = 3, 4 and 8 (ideal
// 1/N), and the cost of building a ring and of one owners() lookup.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { z } from "zod";
import { binary, defineService } from "@soundmesh/protocol";
import {
  HashRing,
  createBus,
  createInProcessTransport,
  keysMoved,
  type Bus,
  type Transport,
} from "@soundmesh/bus";
import { createNatsTransport } from "@soundmesh/bus/nats";
import { natsServerAvailable, startNatsServer } from "@soundmesh/test-kit";
import { printTable, round, summarize, writeResults, type Row } from "./report";

const contract = defineService("bench", {
  echo: {
    params: z.object({ n: z.number(), text: z.string() }),
    result: z.object({ n: z.number(), text: z.string() }),
  },
  piece: {
    params: z.object({ index: z.number() }),
    result: z.object({ bytes: binary, complete: z.boolean() }),
  },
});
const PIECE_BYTES = 64 * 1024;
const piece = randomBytes(PIECE_BYTES);
const unlimited = { default: { ratePerSecond: 1e9, burst: 1e9 } };
const requests = Number(process.env.BENCH_REQUESTS ?? 2_000);
const warmup = 200;

/** Sequential round trips; the server's bus and the client's bus may share a transport (in process) or not. */
async function measure(serverBus: Bus, clientBus: Bus, message: "echo" | "piece"): Promise<number[]> {
  await serverBus.connect({ service: "bench", calls: [] }).serve(contract, {
    echo: (params) => params,
    piece: () => ({ bytes: piece, complete: true }),
  });
  const client = clientBus.connect({ service: "client", calls: ["bench"] });
  const samples: number[] = [];
  for (let i = 0; i < warmup + requests; i++) {
    const started = performance.now();
    if (message === "echo") await client.request(contract, "echo", { n: i, text: "hello soundmesh" });
    else {
      const reply = await client.request(contract, "piece", { index: i });
      if (reply.bytes.byteLength !== PIECE_BYTES) throw new Error("a piece came back truncated");
    }
    if (i >= warmup) samples.push(performance.now() - started);
  }
  return samples;
}

const costRows: Row[] = [];
const p50s = new Map<string, number>();
const p99s = new Map<string, number>();
const nats = natsServerAvailable() ? await startNatsServer() : undefined;
if (!nats) console.warn("nats-server not installed: the NATS rows are skipped");
try {
  for (const message of ["echo", "piece"] as const) {
    const kinds: Array<[string, () => Promise<[Transport, Transport]>]> = [
      [
        "in-process",
        () => {
          const shared = createInProcessTransport();
          return Promise.resolve([shared, shared]);
        },
      ],
    ];
    if (nats) {
      kinds.push([
        "nats",
        async () => [
          await createNatsTransport({ servers: nats.url }),
          await createNatsTransport({ servers: nats.url }),
        ],
      ]);
    }
    for (const [transportName, make] of kinds) {
      const [serverTransport, clientTransport] = await make();
      const serverBus = createBus({ transport: serverTransport, rateLimits: unlimited });
      const clientBus =
        serverTransport === clientTransport
          ? serverBus
          : createBus({ transport: clientTransport, rateLimits: unlimited });
      const stats = summarize(await measure(serverBus, clientBus, message));
      await serverBus.close();
      if (clientBus !== serverBus) await clientBus.close();
      const label = message === "echo" ? "small call" : "64 KiB piece";
      p50s.set(`${transportName} ${label}`, stats.p50);
      p99s.set(`${transportName} ${label}`, stats.p99);
      const base = transportName === "nats" ? `in-process ${label}` : undefined;
      costRows.push({
        transport: transportName,
        message: label,
        requests: stats.count,
        "p50 ms": round(stats.p50),
        "p99 ms": round(stats.p99),
        "p50 × in-process": base ? round(stats.p50 / p50s.get(base)!, 1) : "",
        "p99 × in-process": base ? round(stats.p99 / p99s.get(base)!, 1) : "",
      });
    }
  }
} finally {
  await nats?.stop();
}
printTable("Per-request cost, one request at a time: NATS (two connections) against in process", costRows);

const keyCount = Number(process.env.BENCH_RING_KEYS ?? 100_000);
const keys = Array.from({ length: keyCount }, (_, i) => `track-${i}:opus-160`);
const ringRows: Row[] = [];
for (const n of [3, 4, 8]) {
  const nodes = Array.from({ length: n }, (_, i) => `storage-${i + 1}`);
  const buildStarted = performance.now();
  const ring = new HashRing(nodes);
  const buildMs = performance.now() - buildStarted;
  const joined = ring.withNode("storage-new");
  const left = ring.withoutNode("storage-1");
  const lookupStarted = performance.now();
  for (const key of keys) ring.owners(key, 2);
  const lookupUs = ((performance.now() - lookupStarted) * 1000) / keys.length;
  for (const [change, after, ideal] of [
    ["join", joined, 1 / (n + 1)],
    ["leave", left, 1 / n],
  ] as const) {
    const moved = keysMoved(ring, after, keys) / keys.length;
    const movedWithReplica = keysMoved(ring, after, keys, 2) / keys.length;
    ringRows.push({
      N: n,
      change,
      keys: keyCount,
      "owner moved %": round(moved * 100, 2),
      "ideal %": round(ideal * 100, 2),
      "moved / ideal": round(moved / ideal, 3),
      "owner or replica moved %": round(movedWithReplica * 100, 2),
      "build ms": round(buildMs, 2),
      "owners(key, 2) µs": round(lookupUs, 2),
    });
  }
}
printTable(
  "Storage ring (128 virtual nodes): keys whose owner changes when a node joins or leaves",
  ringRows,
);
const load = loadavg().map((v) => round(v, 2));
console.log(`load average: ${load.join(" ")}`);
writeResults("nats-bus", [...costRows, ...ringRows], {
  requests,
  warmup,
  pieceBytes: PIECE_BYTES,
  loadavg: load,
});
