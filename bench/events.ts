// Events benchmark: listening events ingested per second on one node with dedup (the events service's submit handler:
// zod screening, dedup by id, JSON Lines append with one fsync per group of concurrent batches, plays counted into
// SQLite), with 1, 8 and 64 concurrent senders and a tenth of each batch retried; beside it, in the same run, the
// limit: the same bytes appended with fdatasync and nothing else. Then the time to close a bucket (Parquet, summary,
// fsyncs) once the watermark has passed, at 1,000, 10,000 and 100,000 events.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createInProcessBus } from "@soundmesh/bus";
import { createDb } from "@soundmesh/db";
import type { ListeningEvent } from "@soundmesh/protocol";
import {
  bucketStem,
  createEventsService,
  createFileEventLog,
  createSqlHistoryStore,
  eventsManifest,
  migrateEventsStore,
} from "@soundmesh/service-events";
import { printTable, round, type Row, writeResults } from "./report";

const durationMs = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const senderCounts = [1, 8, 64];
const BATCH = Number(process.env.BENCH_EVENTS_BATCH ?? 500);
const HOUR = 3_600_000;
const logger = pino({ level: "silent" });

const runId = randomBytes(6).toString("hex");
let sequence = 0;
/**
 * A version 7 UUID made cheaply: the time, then this run's random bits and a counter. Random bytes per id cost more
 * than the whole ingest path here, and a client makes its ids on its own machine, not on the server's.
 */
function uuidV7(ms: number): string {
  const time = ms.toString(16).padStart(12, "0");
  const counter = (sequence++).toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${runId.slice(0, 3)}-8${runId.slice(3, 6)}-${counter}`;
}

/** A mix as a player sends it: per play a start, a latency, an end, the bytes by source, sometimes a seek. */
function eventAt(at: number, i: number): ListeningEvent {
  const base = { v: 1 as const, id: uuidV7(at), at, trackId: `track${i % 5_000}` };
  switch (i % 5) {
    case 0:
      return { ...base, type: "play.started" };
    case 1:
      return { ...base, type: "start.latency", latencyMs: 180, firstPieceFrom: "cache" };
    case 2:
      return { ...base, type: "play.ended", playedMs: 200_000, durationMs: 240_000, reason: "finished" };
    case 3:
      return {
        ...base,
        type: "source.bytes",
        cacheBytes: 1_000_000,
        peerBytes: 2_000_000,
        serverBytes: 300_000,
      };
    default:
      return { ...base, type: "seek", fromMs: 10_000, toMs: 60_000 };
  }
}

/** Made before the clock starts: what is timed is the server's work, not the bench making events. */
function eventPool(count: number): ListeningEvent[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => eventAt(now, i));
}
const POOL = Number(process.env.BENCH_EVENTS_POOL ?? 300_000);

async function ingest(senders: number): Promise<Row> {
  const pool = eventPool(POOL);
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-bench-events-"));
  const db = createDb({ kind: "sqlite", file: join(dir, "history.db") });
  await migrateEventsStore(db);
  const bus = createInProcessBus();
  const clock = { now: () => Date.now() };
  const log = createFileEventLog({
    dir: join(dir, "events"),
    clock,
    allowedLatenessMs: 10 * 60_000,
    dedupWindowMs: 48 * HOUR,
    logger,
  });
  const service = createEventsService({
    logger,
    bus: bus.connect(eventsManifest),
    log,
    history: createSqlHistoryStore(db),
    clock,
    dedupWindowMs: 48 * HOUR,
    closeIntervalMs: 0,
    // No catalog in this bench: plays are counted per track only (the catalog lookup is cached per track anyway).
    placeTracks: () => Promise.resolve(new Map()),
  });
  await service.start();
  let accepted = 0;
  let duplicates = 0;
  let batches = 0;
  let i = 0;
  const ctx = { caller: "bench", traceId: "bench", userId: "u-bench" };
  const started = performance.now();
  const deadline = started + durationMs;
  let previous: ListeningEvent[] = [];
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (performance.now() < deadline && i + BATCH < pool.length) {
        // A tenth of each batch is a retry of events already sent.
        const retried = previous.slice(0, BATCH / 10);
        const events = [...retried, ...pool.slice(i, (i += BATCH - retried.length))];
        previous = events.slice(retried.length);
        const result = await service.handlers.submit({ events }, ctx);
        accepted += result.accepted;
        duplicates += result.duplicates;
        batches += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await service.stop();
  await bus.close();
  await db.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    what: `events.submit handler, ${senders} sender(s), batches of ${BATCH} (10% retried)`,
    "events/s (stored + dropped)": Math.round((accepted + duplicates) / seconds),
    "new events/s": Math.round(accepted / seconds),
    "duplicates dropped": duplicates,
    "batches/s": Math.round(batches / seconds),
  };
}

/** The limit: one file, the same kind of lines, appended and fdatasynced per group of 8 batches. */
async function appendLimit(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-bench-fsync-"));
  const handle = await open(join(dir, "limit.jsonl"), "a");
  const pool = eventPool(POOL);
  let events = 0;
  let syncs = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  for (let i = 0; performance.now() < deadline && i + 8 * BATCH < pool.length;) {
    let chunk = "";
    for (let n = 0; n < 8 * BATCH; n++, i++)
      chunk += JSON.stringify({ k: "e", userId: "u", receivedAt: 0, late: false, event: pool[i] }) + "\n";
    await handle.write(chunk);
    await handle.datasync();
    events += 8 * BATCH;
    syncs += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    what: `limit: JSON lines of ${8 * BATCH} events + fdatasync, nothing else`,
    "events/s (stored + dropped)": Math.round(events / seconds),
    "new events/s": Math.round(events / seconds),
    "duplicates dropped": 0,
    "batches/s": Math.round((syncs * 8) / seconds),
  };
}

/** Fills one hour's bucket, moves the watermark past hour + lateness, and times closeDue(). */
async function closeLatency(events: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-bench-close-"));
  const hour = Date.UTC(2030, 0, 1);
  let now = hour + 30 * 60_000;
  const log = createFileEventLog({
    dir,
    clock: { now: () => now },
    allowedLatenessMs: 10 * 60_000,
    dedupWindowMs: 48 * HOUR,
    logger,
  });
  await log.open();
  for (let start = 0; start < events; start += 1_000) {
    const items = Array.from({ length: Math.min(1_000, events - start) }, (_, n) => ({
      event: eventAt(hour + ((start + n) % HOUR), start + n),
      userId: "u-bench",
    }));
    await log.append(items);
  }
  now = hour + HOUR + 10 * 60_000;
  const started = performance.now();
  const closed = await log.closeDue();
  const closeMs = performance.now() - started;
  const parquet = existsSync(join(dir, `${bucketStem(hour)}.parquet`));
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  if (closed.length !== 1 || !parquet) throw new Error("the bucket did not close");
  return {
    what: `close a bucket of ${events.toLocaleString("en")} events (read log, write Parquet + summary, fsync)`,
    "close ms after the watermark": round(closeMs, 1),
    "events/s": Math.round(events / (closeMs / 1000)),
  };
}

const ingestRows: Row[] = [];
for (const senders of senderCounts) ingestRows.push(await ingest(senders));
ingestRows.push(await appendLimit());
const limit = Number(ingestRows.at(-1)!["events/s (stored + dropped)"]);
for (const row of ingestRows.slice(0, -1))
  row["ratio to limit"] = round(Number(row["events/s (stored + dropped)"]) / limit, 2);
printTable("Events ingested per second, one node with dedup (target ≥ 20,000/s)", ingestRows);

const closeRows: Row[] = [];
for (const events of process.env.BENCH_EVENTS_SKIP_CLOSE ? [] : [1_000, 10_000, 100_000])
  closeRows.push(await closeLatency(events));
printTable(
  "Bucket close latency once the watermark passes (the timer checks every 10 s by default; an arriving event checks too)",
  closeRows,
);
const file = writeResults("events", [...ingestRows, ...closeRows], { durationMs, batch: BATCH });
console.log(`\nwrote ${file}`);
