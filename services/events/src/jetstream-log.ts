// The cluster event log: the hourly buckets as subjects of one JetStream stream, shared by every events process.
// JetStream drops duplicates by message id (the event's id) across all processes, for the dedup window; the
// closer of an hour reads its subject once, records the summary in a KV bucket with `create` (so exactly one
// process's close counts, whichever wins), and every process writes the same closed files (JSON Lines, Parquet,
// summary) into its own bucket folder from the stream, so the daily aggregates and the radio build read them as
// in all-in-one.
//
// Subjects: `<prefix>.<hour>.e` events of that hour, `<prefix>.<hour>.l.<own hour>` late events stored in that
// hour's bucket, `<prefix>.<hour>.d` one record per dropped duplicate. The message body is the very line the file
// log writes, so a closed bucket's files are byte-identical on every node.
import { access, mkdir, readFile } from "node:fs/promises";
import {
  DeliverPolicy,
  JetStreamApiError,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { whenJetStreamReady, type NatsConnection } from "@soundmesh/bus/nats";
import type { BucketStats } from "@soundmesh/protocol";
import { z } from "zod";
import {
  HOUR_MS,
  completeness,
  bucketStem,
  closedSummary,
  duplicateLineOf,
  eventLineOf,
  hourStartOf,
  logPath,
  parquetOf,
  parquetPath,
  parseLogLine,
  readLog,
  summaryPath,
  writeFileDurably,
  type ClosedSummary,
  type StoredEvent,
} from "./bucket-files";
import type { AppendResult, BucketLogOptions, EventLog } from "./bucket-log";

export const eventStreamName = "SOUNDMESH_EVENTS";
export const eventSubjectPrefix = "soundmesh.events";
export const closedBucketsKv = "soundmesh-event-buckets";

export interface JetStreamEventLogOptions extends BucketLogOptions {
  connection: NatsConnection;
  /** Copies of the stream and the KV bucket in a JetStream cluster (1, 3 or 5). */
  replicas?: number;
  /** How long the stream keeps events; a node started later than this after a close cannot write that bucket. */
  retentionMs?: number;
  /** How often the per-hour counts are re-read from the stream (for stats and due hours). */
  refreshIntervalMs?: number;
  /** Attempts per event publish before the batch fails (a retry of a stored event is answered as a duplicate). */
  publishAttempts?: number;
}

/** The KV value of a closed hour: its summary and the last stream sequence it includes. */
const closedRecord = z.object({ summary: closedSummary, lastSeq: z.number().int().nonnegative() });
type ClosedRecord = z.infer<typeof closedRecord>;

interface HourCounts {
  count: number;
  duplicates: number;
  late: number;
  lateByHour: Map<number, number>;
}

/** JetStream durations are in nanoseconds. */
const nanos = (ms: number): number => ms * 1_000_000;

const stemPattern = /^\d{4}-\d{2}-\d{2}T\d{2}$/;
const hourOfStem = (stem: string): number => Date.parse(`${stem}:00:00Z`);

export const eventSubjectOf = (hourStart: number): string =>
  `${eventSubjectPrefix}.${bucketStem(hourStart)}.e`;
export const lateSubjectOf = (hourStart: number, ownHour: number): string =>
  `${eventSubjectPrefix}.${bucketStem(hourStart)}.l.${bucketStem(ownHour)}`;
export const duplicateSubjectOf = (hourStart: number): string =>
  `${eventSubjectPrefix}.${bucketStem(hourStart)}.d`;

/** The hour and kind of a stream subject; null for a subject that is not one of ours. */
function parseSubject(
  subject: string,
): { hourStart: number; kind: "e" | "d" | "l"; ownHour?: number } | null {
  const parts = subject.slice(eventSubjectPrefix.length + 1).split(".");
  const [stem, kind, own] = parts;
  if (!stem || !stemPattern.test(stem)) return null;
  const hourStart = hourOfStem(stem);
  if (kind === "e" && parts.length === 2) return { hourStart, kind };
  if (kind === "d" && parts.length === 2) return { hourStart, kind };
  if (kind === "l" && parts.length === 3 && own && stemPattern.test(own))
    return { hourStart, kind, ownHour: hourOfStem(own) };
  return null;
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

const isAlreadyThere = (error: unknown): boolean =>
  error instanceof JetStreamApiError
    ? error.code === 10071 || /wrong last sequence|exists/i.test(error.message)
    : error instanceof Error && /wrong last sequence|exists/i.test(error.message);

export function createJetStreamEventLog(options: JetStreamEventLogOptions): EventLog {
  const { connection, dir, clock, allowedLatenessMs, dedupWindowMs, logger } = options;
  const replicas = options.replicas ?? 1;
  // By default a day longer than an id is remembered, and at least a week.
  const retentionMs =
    options.retentionMs ?? Math.max(7 * 24 * HOUR_MS, dedupWindowMs + allowedLatenessMs + 24 * HOUR_MS);
  const refreshIntervalMs = options.refreshIntervalMs ?? 2_000;
  const publishAttempts = options.publishAttempts ?? 3;
  if (retentionMs < dedupWindowMs + allowedLatenessMs + HOUR_MS)
    throw new Error(
      "the event stream must keep events longer than the dedup window plus the allowed lateness",
    );

  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let kv: KV;
  const counts = new Map<number, HourCounts>();
  const closed = new Map<number, ClosedRecord>();
  let refreshTimer: NodeJS.Timeout | null = null;
  let refreshing: Promise<void> | null = null;
  let isClosed = false;

  const isDue = (hourStart: number, now: number) => hourStart + HOUR_MS + allowedLatenessMs <= now;
  const firstOpenHour = (now: number) => hourStartOf(now - allowedLatenessMs);

  async function readCounts(): Promise<void> {
    const info = await jsm.streams.info(eventStreamName, { subjects_filter: `${eventSubjectPrefix}.>` });
    const next = new Map<number, HourCounts>();
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const parsed = parseSubject(subject);
      if (!parsed) continue;
      let hour = next.get(parsed.hourStart);
      if (!hour) {
        hour = { count: 0, duplicates: 0, late: 0, lateByHour: new Map() };
        next.set(parsed.hourStart, hour);
      }
      if (parsed.kind === "d") hour.duplicates += n;
      else hour.count += n;
      if (parsed.kind === "l") {
        hour.late += n;
        hour.lateByHour.set(parsed.ownHour!, (hour.lateByHour.get(parsed.ownHour!) ?? 0) + n);
      }
    }
    counts.clear();
    for (const [hour, c] of next) counts.set(hour, c);
  }

  async function readClosed(): Promise<void> {
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    for (const key of keys) {
      if (!stemPattern.test(key)) continue;
      const hourStart = hourOfStem(key);
      if (closed.has(hourStart)) continue;
      const entry = await kv.get(key);
      if (!entry || entry.operation !== "PUT") continue;
      const parsed = closedRecord.safeParse(entry.json());
      if (parsed.success) closed.set(hourStart, parsed.data);
      else logger.error({ key }, "skipped a malformed closed-bucket record");
    }
  }

  /** Re-reads counts and closed hours; concurrent callers share one read. */
  function refresh(): Promise<void> {
    refreshing ??= (async () => {
      try {
        await readClosed();
        await readCounts();
        for (const [hourStart, record] of closed) await materialize(hourStart, record);
      } finally {
        refreshing = null;
      }
    })();
    return refreshing;
  }

  /**
   * Reads the stream in order with a consumer of its own (deleted after) until the sequence `lastSeq` or the end,
   * handing each message to `visit`.
   */
  async function readStream(
    options: { filter: string; startTime?: number },
    lastSeq: number,
    visit: (message: { subject: string; body: string }) => void,
  ): Promise<void> {
    const consumer = await js.consumers.get(eventStreamName, {
      filter_subjects: options.filter,
      ...(options.startTime === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : {
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(options.startTime).toISOString(),
          }),
    });
    try {
      for (;;) {
        const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 });
        let got = 0;
        let isDone = false;
        for await (const message of batch) {
          got += 1;
          if (message.seq > lastSeq) {
            isDone = true;
            break;
          }
          visit({ subject: message.subject, body: message.string() });
          if (message.info.pending === 0 || message.seq === lastSeq) {
            isDone = true;
            break;
          }
        }
        if (isDone || got === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  }

  /** The messages of one hour's bucket up to a sequence, in stream order. */
  async function readHour(
    hourStart: number,
    lastSeq: number,
  ): Promise<Array<{ subject: string; body: string }>> {
    const out: Array<{ subject: string; body: string }> = [];
    await readStream({ filter: `${eventSubjectPrefix}.${bucketStem(hourStart)}.>` }, lastSeq, (message) =>
      out.push(message),
    );
    return out;
  }

  /**
   * The replay at start: every event of the buckets inside the dedup window (by event hour, as the file log does),
   * for the history to catch up; it drops repeats. Messages are stamped with the broker's wall clock, so the read
   * starts that long ago by the wall clock, with an hour and the lateness to spare.
   */
  async function readRecent(): Promise<StoredEvent[]> {
    const info = await jsm.streams.info(eventStreamName);
    if (info.state.messages === 0) return [];
    const oldestHour = clock.now() - dedupWindowMs - HOUR_MS;
    const replay: StoredEvent[] = [];
    await readStream(
      {
        filter: `${eventSubjectPrefix}.>`,
        startTime: Date.now() - dedupWindowMs - allowedLatenessMs - HOUR_MS,
      },
      info.state.last_seq,
      ({ subject, body }) => {
        const parsed = parseSubject(subject);
        if (!parsed || parsed.kind === "d" || parsed.hourStart < oldestHour) return;
        const line = parseLogLine(body);
        if (!line) logger.error({ subject }, "skipped a malformed event message");
        else if (line.k === "e")
          replay.push({
            event: line.event,
            userId: line.userId,
            receivedAt: line.receivedAt,
            late: line.late,
          });
      },
    );
    return replay;
  }

  /** Writes a closed hour's files from the stream (the summary last: its presence marks the bucket closed). */
  async function materialize(hourStart: number, record: ClosedRecord): Promise<void> {
    if (await exists(summaryPath(dir, hourStart))) return;
    const messages = await readHour(hourStart, record.lastSeq);
    const text = messages.map(({ body }) => body).join("");
    await writeFileDurably(dir, logPath(dir, hourStart), text);
    const events: StoredEvent[] = [];
    for (const line of await readLog(logPath(dir, hourStart), (n) =>
      logger.error({ hourStart, line: n }, "skipped a malformed line of a closed event bucket"),
    ))
      if (line.k === "e")
        events.push({ event: line.event, userId: line.userId, receivedAt: line.receivedAt, late: line.late });
    await writeFileDurably(dir, parquetPath(dir, hourStart), parquetOf(events));
    await writeFileDurably(dir, summaryPath(dir, hourStart), JSON.stringify(record.summary));
  }

  async function closeHourNow(hourStart: number): Promise<boolean> {
    const now = clock.now();
    if (!isDue(hourStart, now)) return false;
    let record = closed.get(hourStart);
    if (!record) {
      const info = await jsm.streams.info(eventStreamName);
      const lastSeq = info.state.last_seq;
      const messages = await readHour(hourStart, lastSeq);
      if (messages.length === 0) return false;
      const lateByHour = new Map<number, number>();
      let count = 0;
      let duplicates = 0;
      let late = 0;
      for (const { subject } of messages) {
        const parsed = parseSubject(subject);
        if (!parsed) continue;
        if (parsed.kind === "d") duplicates += 1;
        else count += 1;
        if (parsed.kind === "l") {
          late += 1;
          lateByHour.set(parsed.ownHour!, (lateByHour.get(parsed.ownHour!) ?? 0) + 1);
        }
      }
      const candidate: ClosedRecord = {
        summary: {
          hourStart,
          count,
          duplicatesDropped: duplicates,
          late,
          lateByHour: Object.fromEntries([...lateByHour].map(([hour, n]) => [String(hour), n])),
          closedAt: now,
        },
        lastSeq,
      };
      try {
        await kv.create(bucketStem(hourStart), JSON.stringify(candidate));
        record = candidate;
        logger.info({ hours: [hourStart] }, "closed event buckets");
      } catch (error) {
        if (!isAlreadyThere(error)) throw error;
        // Another process closed it first: its record is the one every node writes.
        const entry = await kv.get(bucketStem(hourStart));
        record = closedRecord.parse(entry?.json());
      }
      closed.set(hourStart, record);
    }
    await materialize(hourStart, record);
    return true;
  }

  function dueHoursAt(now: number): number[] {
    return [...counts.keys()].filter((hour) => !closed.has(hour) && isDue(hour, now)).sort((a, b) => a - b);
  }

  /** Publishes one message; a retry after an error that answers "duplicate" is our own earlier attempt. */
  async function publishOnce(subject: string, body: string, msgID: string | undefined): Promise<boolean> {
    let lastError: unknown = null;
    for (let attempt = 0; attempt < publishAttempts; attempt += 1) {
      try {
        const ack = await js.publish(subject, body, msgID === undefined ? {} : { msgID });
        return !ack.duplicate || lastError !== null;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
      }
    }
    throw lastError;
  }

  function lateInto(hourStart: number): number {
    let n = 0;
    for (const [hour, c] of counts) if (!closed.has(hour)) n += c.lateByHour.get(hourStart) ?? 0;
    for (const { summary } of closed.values()) n += summary.lateByHour[String(hourStart)] ?? 0;
    return n;
  }

  const completenessOf = (hourStart: number, count: number, late: number): number =>
    completeness(count, late, lateInto(hourStart));

  return {
    async open() {
      await mkdir(dir, { recursive: true });
      jsm = await jetstreamManager(connection);
      js = jetstream(connection);
      const config: Partial<StreamConfig> & { name: string } = {
        name: eventStreamName,
        subjects: [`${eventSubjectPrefix}.>`],
        storage: StorageType.File,
        num_replicas: replicas,
        duplicate_window: nanos(dedupWindowMs),
        max_age: nanos(retentionMs),
      };
      // Just after a JetStream cluster starts, its nodes may not yet know each other ("no suitable peers for
      // placement"): keep asking, as the storage ring's bucket does, rather than fail the process's start.
      const onWait = (error: unknown) =>
        logger.info({ err: error }, "waiting for JetStream: the event stream");
      await whenJetStreamReady(
        "creating the event stream",
        async () => {
          try {
            await jsm.streams.add(config);
          } catch (error) {
            if (!isAlreadyThere(error)) throw error;
            await jsm.streams.update(eventStreamName, config);
          }
        },
        { onWait },
      );
      kv = await whenJetStreamReady(
        "creating the closed-buckets KV bucket",
        () => new Kvm(connection).create(closedBucketsKv, { history: 1, replicas }),
        { onWait },
      );
      await refresh();
      const replay = await readRecent();
      refreshTimer = setInterval(() => {
        if (isClosed) return;
        refresh().catch((error: unknown) =>
          logger.warn({ err: error }, "could not re-read the event stream"),
        );
      }, refreshIntervalMs);
      refreshTimer.unref();
      return replay;
    },
    async append(items) {
      const result: AppendResult = { accepted: [], duplicates: 0, late: 0 };
      if (items.length === 0) return result;
      const now = clock.now();
      const lateHour = firstOpenHour(now);
      const outcomes = await Promise.all(
        items.map(async ({ event, userId }) => {
          const own = hourStartOf(event.at);
          const isLate = own < lateHour || closed.has(own);
          // A late event goes to the first open hour (past any another node already closed, its clock ahead).
          let target = own;
          if (isLate) for (target = lateHour; closed.has(target);) target += HOUR_MS;
          const stored: StoredEvent = { event, userId, receivedAt: now, late: isLate };
          const subject = isLate ? lateSubjectOf(target, own) : eventSubjectOf(own);
          const isNew = await publishOnce(subject, eventLineOf(stored), event.id);
          if (!isNew)
            await publishOnce(duplicateSubjectOf(target), duplicateLineOf(event.id, now), undefined);
          return { stored, isNew };
        }),
      );
      for (const { stored, isNew } of outcomes) {
        if (!isNew) {
          result.duplicates += 1;
          continue;
        }
        result.accepted.push(stored);
        if (stored.late) result.late += 1;
      }
      void refresh().catch(() => undefined);
      return result;
    },
    async closeDue() {
      await refresh();
      const hours: number[] = [];
      for (const hour of dueHoursAt(clock.now())) if (await closeHourNow(hour)) hours.push(hour);
      return hours;
    },
    dueHours: () => dueHoursAt(clock.now()),
    closeHour: (hourStart) => closeHourNow(hourStart),
    async isSettled(hourStart) {
      if (await exists(summaryPath(dir, hourStart))) return true;
      await refresh();
      if (closed.has(hourStart)) return exists(summaryPath(dir, hourStart));
      return isDue(hourStart, clock.now()) && !counts.has(hourStart);
    },
    stats(limit) {
      const rows: BucketStats[] = [];
      for (const [hourStart, c] of counts) {
        if (closed.has(hourStart)) continue;
        rows.push({
          hourStart,
          state: "open",
          count: c.count,
          duplicatesDropped: c.duplicates,
          late: c.late,
          completeness: completenessOf(hourStart, c.count, c.late),
          closedAt: null,
        });
      }
      for (const { summary } of closed.values())
        rows.push({
          hourStart: summary.hourStart,
          state: "closed",
          count: summary.count,
          duplicatesDropped: summary.duplicatesDropped,
          late: summary.late,
          completeness: completenessOf(summary.hourStart, summary.count, summary.late),
          closedAt: summary.closedAt,
        });
      return rows.sort((a, b) => b.hourStart - a.hourStart).slice(0, limit);
    },
    async close() {
      isClosed = true;
      if (refreshTimer) clearInterval(refreshTimer);
      // A refresh stuck on a broker that is gone is left to its own timeouts.
      await Promise.race([
        refreshing?.catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
      ]);
    },
  };
}

export async function readClosedSummary(dir: string, hourStart: number): Promise<ClosedSummary> {
  return closedSummary.parse(JSON.parse(await readFile(summaryPath(dir, hourStart), "utf8")));
}
