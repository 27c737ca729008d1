// The all-in-one event log: hourly buckets as files. Drops duplicates by event id, appends each batch with one
// fsync (group commit: concurrent batches share it), closes a bucket once the watermark passes its end plus the
// allowed lateness, and stores later events of a closed hour as late in the first open bucket.
import { access, mkdir, readFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import type { Logger } from "pino";
import type { BucketStats, ListeningEvent } from "@soundmesh/protocol";
import {
  HOUR_MS,
  completeness,
  closedSummary,
  duplicateLineOf,
  eventLineOf,
  hourStartOf,
  listBucketFiles,
  logPath,
  openLog,
  parquetOf,
  parquetPath,
  readLog,
  summaryPath,
  writeFileDurably,
  type ClosedSummary,
  type StoredEvent,
} from "./bucket-files";

export interface BucketLogOptions {
  /** The folder of the bucket files (`<dataDir>/events`). */
  dir: string;
  /**
   * The watermark is this clock (the server's wall clock), not the largest event time seen: one client with a
   * clock ahead would otherwise close everyone's buckets early. Event times are bounded by it (see screenEvents).
   */
  clock: { now(): number };
  /** A bucket [H, H + 1 h) closes when the watermark reaches H + 1 h + this. */
  allowedLatenessMs: number;
  /** Ids are remembered this long (by event time); older events are refused, as they could not be told apart. */
  dedupWindowMs: number;
  logger: Logger;
}

export interface AppendItem {
  event: ListeningEvent;
  userId: string;
}

export interface AppendResult {
  /** The events newly stored, in the order given (late ones flagged). */
  accepted: StoredEvent[];
  duplicates: number;
  late: number;
}

/**
 * Where events are stored. The file log is the all-in-one one; a cluster one (a JetStream stream with message-id
 * dedup, the bucket closer a single durable consumer) fits the same shape.
 */
export interface EventLog {
  open(): Promise<StoredEvent[]>;
  append(items: AppendItem[]): Promise<AppendResult>;
  /** Closes every bucket the watermark has passed; answers the hours closed. */
  closeDue(): Promise<number[]>;
  /** The open buckets the watermark has passed (each closed by a close-bucket job). */
  dueHours(): number[];
  /** Closes this hour's bucket if it is open and due; answers whether it did. */
  closeHour(hourStart: number): Promise<boolean>;
  /** Whether this hour needs no closing: its bucket is closed (its files written here), or it is due and empty. */
  isSettled(hourStart: number): Promise<boolean>;
  stats(limit: number): BucketStats[];
  close(): Promise<void>;
}

interface OpenBucket {
  hourStart: number;
  handle: FileHandle | null;
  size: number;
  ids: string[];
  count: number;
  duplicates: number;
  late: number;
  lateByHour: Map<number, number>;
}

interface GroupEntry {
  items: AppendItem[];
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

export function createFileEventLog(options: BucketLogOptions): EventLog {
  const { dir, clock, allowedLatenessMs, dedupWindowMs, logger } = options;
  const open = new Map<number, OpenBucket>();
  const closed = new Map<number, ClosedSummary>();
  /** Every remembered id → the hour of the bucket it is stored in. */
  const seen = new Map<string, number>();
  /** Ids of closed buckets still inside the dedup window, by hour, to forget them when they leave it. */
  const closedIds = new Map<number, string[]>();
  let pending: GroupEntry[] = [];
  let isFlushScheduled = false;
  let lane: Promise<void> = Promise.resolve();

  const isDue = (hourStart: number, now: number) => hourStart + HOUR_MS + allowedLatenessMs <= now;
  /** The first hour still open at `now`: every hour before it is closed or due. */
  const firstOpenHour = (now: number) => hourStartOf(now - allowedLatenessMs);

  function bucketOf(hourStart: number): OpenBucket {
    let bucket = open.get(hourStart);
    if (!bucket) {
      bucket = {
        hourStart,
        handle: null,
        size: 0,
        ids: [],
        count: 0,
        duplicates: 0,
        late: 0,
        lateByHour: new Map(),
      };
      open.set(hourStart, bucket);
    }
    return bucket;
  }

  /** Serialises writes and closes: one at a time, in order. */
  function inLane<T>(work: () => Promise<T>): Promise<T> {
    const result = lane.then(work);
    lane = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async function loadBucket(hourStart: number, replay: StoredEvent[]): Promise<string[]> {
    const lines = await readLog(logPath(dir, hourStart), (line) =>
      logger.error({ hourStart, line }, "skipped a malformed line in an event bucket"),
    );
    const ids: string[] = [];
    const isOpen = !closed.has(hourStart);
    const bucket = isOpen ? bucketOf(hourStart) : null;
    for (const line of lines) {
      if (line.k === "d") {
        if (bucket) bucket.duplicates += 1;
        continue;
      }
      ids.push(line.event.id);
      replay.push({ event: line.event, userId: line.userId, receivedAt: line.receivedAt, late: line.late });
      if (!bucket) continue;
      bucket.count += 1;
      if (line.late) {
        bucket.late += 1;
        const own = hourStartOf(line.event.at);
        bucket.lateByHour.set(own, (bucket.lateByHour.get(own) ?? 0) + 1);
      }
    }
    if (bucket) bucket.ids = ids;
    return ids;
  }

  async function closeBucket(bucket: OpenBucket, now: number): Promise<void> {
    await bucket.handle?.close();
    bucket.handle = null;
    const events: StoredEvent[] = [];
    for (const line of await readLog(logPath(dir, bucket.hourStart), () => undefined))
      if (line.k === "e")
        events.push({ event: line.event, userId: line.userId, receivedAt: line.receivedAt, late: line.late });
    await writeFileDurably(dir, parquetPath(dir, bucket.hourStart), parquetOf(events));
    const summary: ClosedSummary = {
      hourStart: bucket.hourStart,
      count: bucket.count,
      duplicatesDropped: bucket.duplicates,
      late: bucket.late,
      lateByHour: Object.fromEntries([...bucket.lateByHour].map(([hour, n]) => [String(hour), n])),
      closedAt: now,
    };
    // The summary is written last: its presence is what makes the bucket closed, after a crash too.
    await writeFileDurably(dir, summaryPath(dir, bucket.hourStart), JSON.stringify(summary));
    open.delete(bucket.hourStart);
    closed.set(bucket.hourStart, summary);
    closedIds.set(bucket.hourStart, bucket.ids);
  }

  function forgetOldIds(now: number): void {
    for (const [hourStart, ids] of closedIds) {
      if (hourStart + HOUR_MS > now - dedupWindowMs) continue;
      for (const id of ids) if (seen.get(id) === hourStart) seen.delete(id);
      closedIds.delete(hourStart);
    }
  }

  async function closeDueNow(): Promise<number[]> {
    const now = clock.now();
    const due = [...open.values()]
      .filter((bucket) => isDue(bucket.hourStart, now))
      .sort((a, b) => a.hourStart - b.hourStart);
    for (const bucket of due) await closeBucket(bucket, now);
    forgetOldIds(now);
    if (due.length > 0) logger.info({ hours: due.map((b) => b.hourStart) }, "closed event buckets");
    return due.map((bucket) => bucket.hourStart);
  }

  /** Writes one group of batches: dedup in order, one append and one fsync per bucket touched. */
  async function writeGroup(group: GroupEntry[]): Promise<AppendResult[]> {
    await closeDueNow();
    const now = clock.now();
    const lateHour = firstOpenHour(now);
    const text = new Map<number, string>();
    const fresh = new Map<string, number>();
    const duplicatesIn = new Map<number, number>();
    const results = group.map(({ items }) => {
      const result: AppendResult = { accepted: [], duplicates: 0, late: 0 };
      for (const { event, userId } of items) {
        const own = hourStartOf(event.at);
        const isLate = own < lateHour;
        const target = isLate ? lateHour : own;
        if (seen.has(event.id) || fresh.has(event.id)) {
          result.duplicates += 1;
          duplicatesIn.set(target, (duplicatesIn.get(target) ?? 0) + 1);
          text.set(target, (text.get(target) ?? "") + duplicateLineOf(event.id, now));
          continue;
        }
        const stored: StoredEvent = { event, userId, receivedAt: now, late: isLate };
        fresh.set(event.id, target);
        result.accepted.push(stored);
        if (isLate) result.late += 1;
        text.set(target, (text.get(target) ?? "") + eventLineOf(stored));
      }
      return result;
    });
    const written: Array<{ bucket: OpenBucket; sizeBefore: number }> = [];
    try {
      for (const [hourStart, chunk] of text) {
        const bucket = bucketOf(hourStart);
        if (!bucket.handle) Object.assign(bucket, await openLog(dir, hourStart));
        written.push({ bucket, sizeBefore: bucket.size });
        const data = Buffer.from(chunk);
        await bucket.handle!.write(data);
        await bucket.handle!.datasync();
        bucket.size += data.byteLength;
      }
    } catch (error) {
      // Nothing of this group is acknowledged: cut every log back so a retry does not find half of it.
      for (const { bucket, sizeBefore } of written) {
        await bucket.handle?.truncate(sizeBefore).catch(() => undefined);
        bucket.size = sizeBefore;
      }
      throw error;
    }
    for (const [id, hourStart] of fresh) {
      seen.set(id, hourStart);
      bucketOf(hourStart).ids.push(id);
    }
    for (const [hourStart, n] of duplicatesIn) bucketOf(hourStart).duplicates += n;
    for (const result of results)
      for (const stored of result.accepted) {
        const bucket = bucketOf(stored.late ? lateHour : hourStartOf(stored.event.at));
        bucket.count += 1;
        if (!stored.late) continue;
        bucket.late += 1;
        const own = hourStartOf(stored.event.at);
        bucket.lateByHour.set(own, (bucket.lateByHour.get(own) ?? 0) + 1);
      }
    return results;
  }

  async function flush(): Promise<void> {
    isFlushScheduled = false;
    const group = pending;
    pending = [];
    try {
      const results = await writeGroup(group);
      group.forEach((entry, index) => entry.resolve(results[index]!));
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
  }

  function lateInto(hourStart: number): number {
    let n = 0;
    for (const bucket of open.values()) n += bucket.lateByHour.get(hourStart) ?? 0;
    for (const summary of closed.values()) n += summary.lateByHour[String(hourStart)] ?? 0;
    return n;
  }

  const completenessOf = (hourStart: number, count: number, late: number): number =>
    completeness(count, late, lateInto(hourStart));

  return {
    async open() {
      await mkdir(dir, { recursive: true });
      const files = await listBucketFiles(dir);
      for (const hourStart of files.closed) {
        const summary = closedSummary.parse(JSON.parse(await readFile(summaryPath(dir, hourStart), "utf8")));
        closed.set(hourStart, summary);
      }
      const now = clock.now();
      const replay: StoredEvent[] = [];
      for (const hourStart of files.logs.sort((a, b) => a - b)) {
        const isRecent = hourStart + HOUR_MS > now - dedupWindowMs;
        if (closed.has(hourStart) && !isRecent) continue;
        const ids = await loadBucket(hourStart, replay);
        for (const id of ids) seen.set(id, hourStart);
        if (closed.has(hourStart)) closedIds.set(hourStart, ids);
      }
      await inLane(closeDueNow);
      return replay;
    },
    append(items) {
      if (items.length === 0) return Promise.resolve({ accepted: [], duplicates: 0, late: 0 });
      return new Promise<AppendResult>((resolve, reject) => {
        pending.push({ items, resolve, reject });
        if (isFlushScheduled) return;
        isFlushScheduled = true;
        void inLane(flush);
      });
    },
    closeDue: () => inLane(closeDueNow),
    dueHours() {
      const now = clock.now();
      return [...open.keys()].filter((hourStart) => isDue(hourStart, now)).sort((a, b) => a - b);
    },
    closeHour: (hourStart) =>
      inLane(async () => {
        const now = clock.now();
        const bucket = open.get(hourStart);
        if (!bucket || !isDue(hourStart, now)) return false;
        await closeBucket(bucket, now);
        forgetOldIds(now);
        logger.info({ hours: [hourStart] }, "closed event buckets");
        return true;
      }),
    isSettled: (hourStart) => settledOnDisk(dir, hourStart, clock.now(), allowedLatenessMs),
    stats(limit) {
      const rows: BucketStats[] = [];
      for (const bucket of open.values())
        rows.push({
          hourStart: bucket.hourStart,
          state: "open",
          count: bucket.count,
          duplicatesDropped: bucket.duplicates,
          late: bucket.late,
          completeness: completenessOf(bucket.hourStart, bucket.count, bucket.late),
          closedAt: null,
        });
      for (const summary of closed.values())
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
      await inLane(async () => {
        for (const bucket of open.values()) {
          await bucket.handle?.close();
          bucket.handle = null;
        }
      });
    },
  };
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A file-log hour needs no closing when its summary exists, or when it is past due and never had a log. */
export async function settledOnDisk(
  dir: string,
  hourStart: number,
  now: number,
  allowedLatenessMs: number,
): Promise<boolean> {
  if (await exists(summaryPath(dir, hourStart))) return true;
  const isDue = hourStart + HOUR_MS + allowedLatenessMs <= now;
  return isDue && !(await exists(logPath(dir, hourStart)));
}
