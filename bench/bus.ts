// Bus benchmark: in-process request/reply round trips per second with p50/p99, sequential and concurrent.
import { z } from "zod";
import { defineService } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import { printTable, round, summarize, writeResults, type Row } from "./report";

const contract = defineService("bench", {
  echo: {
    params: z.object({ n: z.number(), text: z.string() }),
    result: z.object({ n: z.number(), text: z.string() }),
  },
});

async function run(concurrency: number, durationMs: number): Promise<Row> {
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e9, burst: 1e9 } } });
  await bus.connect({ service: "bench", calls: [] }).serve(contract, { echo: (params) => params });
  const client = bus.connect({ service: "client", calls: ["bench"] });
  const samples: number[] = [];
  const deadline = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      await client.request(contract, "echo", { n: samples.length, text: "hello soundmesh" });
      samples.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  await bus.close();
  const stats = summarize(samples);
  return {
    concurrency,
    requests: samples.length,
    "req/s": Math.round(samples.length / elapsedS),
    "p50 ms": round(stats.p50),
    "p99 ms": round(stats.p99),
  };
}

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3000);
const rows: Row[] = [];
for (const concurrency of [1, 16, 128]) rows.push(await run(concurrency, durationMs));
printTable("In-process bus request/reply (JSON codec, contracts checked on both ends)", rows);
writeResults("bus", rows, { durationMs });
