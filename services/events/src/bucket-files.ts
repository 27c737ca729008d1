// The files of one hourly bucket: its JSON Lines log (events and dropped-duplicate records, appended and fsynced
// before an ack), the summary that marks it closed, and the Parquet copy written when it closes.
import { open, readFile, rename, readdir, writeFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import { listeningEvent, type ListeningEvent } from "@soundmesh/protocol";
import { z } from "zod";

export const HOUR_MS = 3_600_000;

export const hourStartOf = (epochMs: number): number => epochMs - (epochMs % HOUR_MS);

/** "2026-12-04T05": the bucket's hour in UTC, the stem of its files. */
export const bucketStem = (hourStart: number): string => new Date(hourStart).toISOString().slice(0, 13);

const stemPattern = /^(\d{4}-\d{2}-\d{2}T\d{2})\.(jsonl|closed\.json)$/;

/** One stored event: the client's event, whose it is, when the server received it, whether its hour had closed. */
export interface StoredEvent {
  event: ListeningEvent;
  userId: string;
  receivedAt: number;
  late: boolean;
}

const eventLine = z.object({
  k: z.literal("e"),
  userId: z.string(),
  receivedAt: z.number().int(),
  late: z.boolean(),
  event: listeningEvent,
});
const duplicateLine = z.object({ k: z.literal("d"), id: z.string(), receivedAt: z.number().int() });
const logLine = z.discriminatedUnion("k", [eventLine, duplicateLine]);
export type LogLine = z.infer<typeof logLine>;

export const eventLineOf = (stored: StoredEvent): string =>
  JSON.stringify({
    k: "e",
    userId: stored.userId,
    receivedAt: stored.receivedAt,
    late: stored.late,
    event: stored.event,
  }) + "\n";
export const duplicateLineOf = (id: string, receivedAt: number): string =>
  JSON.stringify({ k: "d", id, receivedAt }) + "\n";

/** A bucket's completeness: its on-time events over those plus the events of its hour that came late elsewhere. */
export function completeness(count: number, late: number, arrivedLate: number): number {
  const onTime = count - late;
  return onTime + arrivedLate === 0 ? 1 : onTime / (onTime + arrivedLate);
}

/** What a closed bucket's summary file holds; it never changes once written. */
export const closedSummary = z.object({
  hourStart: z.number().int(),
  count: z.number().int(),
  duplicatesDropped: z.number().int(),
  late: z.number().int(),
  /** The late events stored here, by the hour they belong to (for the completeness of those hours). */
  lateByHour: z.record(z.string(), z.number().int()),
  closedAt: z.number().int(),
});
export type ClosedSummary = z.infer<typeof closedSummary>;

export interface BucketFilesOnDisk {
  /** Hours with a log file. */
  logs: number[];
  /** Hours with a closed summary. */
  closed: number[];
}

export async function listBucketFiles(dir: string): Promise<BucketFilesOnDisk> {
  const logs: number[] = [];
  const closed: number[] = [];
  for (const name of await readdir(dir)) {
    const match = stemPattern.exec(name);
    if (!match) continue;
    const hourStart = Date.parse(`${match[1]!}:00:00Z`);
    (match[2] === "jsonl" ? logs : closed).push(hourStart);
  }
  return { logs, closed };
}

export const logPath = (dir: string, hourStart: number) => join(dir, `${bucketStem(hourStart)}.jsonl`);
export const summaryPath = (dir: string, hourStart: number) =>
  join(dir, `${bucketStem(hourStart)}.closed.json`);
export const parquetPath = (dir: string, hourStart: number) => join(dir, `${bucketStem(hourStart)}.parquet`);

/**
 * Reads an append-only JSON Lines file's whole lines. A last line without its newline is a write that was cut off
 * (a crash before the fsync), so never acknowledged: the file is cut back to the last whole line. A missing file
 * has no lines.
 */
export async function readWholeLines(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const end = text.lastIndexOf("\n") + 1;
  if (end < text.length) {
    const handle = await open(path, "r+");
    try {
      await handle.truncate(Buffer.byteLength(text.slice(0, end)));
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
  const whole = text.slice(0, end).split("\n");
  whole.pop();
  return whole;
}

/** Reads a bucket's log (see readWholeLines). A malformed whole line is reported and skipped. */
export async function readLog(path: string, onBadLine: (lineNumber: number) => void): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  (await readWholeLines(path)).forEach((line, index) => {
    const parsed = parseLogLine(line);
    if (parsed) lines.push(parsed);
    else onBadLine(index + 1);
  });
  return lines;
}

/** One log line (without its newline, or with it); null when it is not JSON or not a line of the log. */
export function parseLogLine(text: string): LogLine | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const checked = logLine.safeParse(parsed);
  return checked.success ? checked.data : null;
}

/** Writes a whole file durably: to a temporary name, fsynced, renamed over, the folder fsynced. */
export async function writeFileDurably(dir: string, path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, data);
  const handle = await open(temporary, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await syncDir(dir);
}

export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The Parquet copy of a closed bucket: one row per event, the type-specific fields as a JSON column. */
export function parquetOf(events: StoredEvent[]): Uint8Array {
  const payloadOf = ({ event }: StoredEvent): string => {
    const { v: _v, id: _id, at: _at, trackId: _trackId, type: _type, ...rest } = event;
    return JSON.stringify(rest);
  };
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "id", data: events.map((s) => s.event.id), type: "STRING" },
      { name: "type", data: events.map((s) => s.event.type), type: "STRING" },
      { name: "v", data: events.map((s) => s.event.v), type: "INT32" },
      { name: "at", data: events.map((s) => BigInt(s.event.at)), type: "INT64" },
      { name: "track_id", data: events.map((s) => s.event.trackId), type: "STRING" },
      { name: "user_id", data: events.map((s) => s.userId), type: "STRING" },
      { name: "received_at", data: events.map((s) => BigInt(s.receivedAt)), type: "INT64" },
      { name: "late", data: events.map((s) => s.late), type: "BOOLEAN" },
      { name: "payload", data: events.map(payloadOf), type: "JSON" },
    ],
  });
  return new Uint8Array(buffer);
}

/** An open bucket's log, kept open for appends. */
export async function openLog(dir: string, hourStart: number): Promise<{ handle: FileHandle; size: number }> {
  const path = logPath(dir, hourStart);
  const handle = await open(path, "a");
  const { size } = await handle.stat();
  // A new file's name must survive a crash too, not only its contents.
  if (size === 0) await syncDir(dir);
  return { handle, size };
}
