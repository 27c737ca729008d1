// Bus benchmark: request/reply round trips per second with p50/p99: a small JSON echo in process (sequential and
// concurrent), and a 64 KiB piece (the storage piece shape: bytes + a flag) in process and over a real nats-server.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { binary, defineService } from "@soundmesh/protocol";
import { createBus, createInProcessBus, type Bus } from "@soundmesh/bus";
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

async function run(
  bus: Bus,
  label: { transport: string; message: string },
  concurrency: number,
  durationMs: number,
): Promise<Row> {
  await bus.connect({ service: "bench", calls: [] }).serve(contract, {
    echo: (params) => params,
    piece: () => ({ bytes: piece, complete: true }),
  });
  const client = bus.connect({ service: "client", calls: ["bench"] });
  const samples: number[] = [];
  const deadline = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      if (label.message === "echo") {
        await client.request(contract, "echo", { n: samples.length, text: "hello soundmesh" });
      } else {
        const reply = await client.request(contract, "piece", { index: samples.length });
        if (reply.bytes.byteLength !== PIECE_BYTES) throw new Error("a piece came back truncated");
      }
      samples.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  await bus.close();
  const stats = summarize(samples);
  const perSecond = samples.length / elapsedS;
  return {
    transport: label.transport,
    message: label.message,
    concurrency,
    requests: samples.length,
    "req/s": Math.round(perSecond),
    ...(label.message === "echo" ? {} : { "MiB/s": round((perSecond * PIECE_BYTES) / 2 ** 20, 1) }),
    "p50 ms": round(stats.p50),
    "p99 ms": round(stats.p99),
  };
}

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3000);
const rows: Row[] = [];
for (const concurrency of [1, 16, 128]) {
  rows.push(
    await run(
      createInProcessBus({ rateLimits: unlimited }),
      { transport: "in-process", message: "echo" },
      concurrency,
      durationMs,
    ),
  );
}
for (const concurrency of [1, 16]) {
  rows.push(
    await run(
      createInProcessBus({ rateLimits: unlimited }),
      { transport: "in-process", message: "64 KiB piece" },
      concurrency,
      durationMs,
    ),
  );
}
if (natsServerAvailable()) {
  const nats = await startNatsServer();
  try {
    for (const concurrency of [1, 16]) {
      const transport = await createNatsTransport({ servers: nats.url });
      rows.push(
        await run(
          createBus({ transport, rateLimits: unlimited }),
          { transport: "nats", message: "64 KiB piece" },
          concurrency,
          durationMs,
        ),
      );
    }
  } finally {
    await nats.stop();
  }
} else {
  console.warn("nats-server not installed: the NATS rows are skipped");
}
printTable("Bus request/reply (contracts checked on both ends; a piece is 64 KiB of bytes + a flag)", rows);
writeResults("bus", rows, { durationMs, pieceBytes: PIECE_BYTES });
