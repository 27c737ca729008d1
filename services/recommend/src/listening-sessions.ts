// Reads the closed hourly event buckets (never changing, so a build from them is repeatable) into listening
// sessions: each user's consecutive heard plays, split where a pause is longer than the session gap.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

/** A play counts for co-listening when this much of it was heard (or half of a shorter track); skips do not. */
const HEARD_MS = 30_000;

const playLine = z.object({
  k: z.literal("e"),
  userId: z.string(),
  event: z.object({
    type: z.literal("play.ended"),
    id: z.string(),
    at: z.number(),
    trackId: z.string(),
    playedMs: z.number(),
    durationMs: z.number(),
    reason: z.string(),
  }),
});

export interface BucketInput {
  /** The closed buckets read, by hour start (epoch ms), ascending. */
  hours: number[];
  /** SHA-256 of every bucket log read, in hour order: what the build's fingerprint is made from. */
  digest: string;
  /** Track ids in listening order, one list per session; sessions ordered by user id, then time. */
  sessions: string[][];
  plays: number;
  /** Listeners with at least one heard play. */
  users: number;
}

const closedPattern = /^(\d{4}-\d{2}-\d{2}T\d{2})\.closed\.json$/;

function heard(playedMs: number, durationMs: number, reason: string): boolean {
  return reason !== "skipped" && playedMs >= Math.min(HEARD_MS, durationMs / 2) && playedMs > 0;
}

/** The closed buckets under `eventsDir` (none when it does not exist yet). */
export async function closedHours(eventsDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(eventsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names
    .flatMap((name) => {
      const match = closedPattern.exec(name);
      return match ? [Date.parse(`${match[1]!}:00:00Z`)] : [];
    })
    .sort((a, b) => a - b);
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // The events service skips a malformed line as well; the play is simply not counted.
    return null;
  }
}

interface Play {
  at: number;
  id: string;
  trackId: string;
}

/**
 * Reads the closed buckets (those before `untilMs` when given: a day's build reads its day and the days before, so
 * later buckets closing meanwhile do not change it) and cuts each user's plays into sessions at pauses longer than
 * `sessionGapMs`.
 */
export async function readListeningSessions(
  eventsDir: string,
  sessionGapMs: number,
  signal?: AbortSignal,
  untilMs = Infinity,
): Promise<BucketInput> {
  const hours = (await closedHours(eventsDir)).filter((hour) => hour < untilMs);
  const hash = createHash("sha256");
  const byUser = new Map<string, Play[]>();
  const seen = new Set<string>();
  for (const hour of hours) {
    signal?.throwIfAborted();
    const stem = new Date(hour).toISOString().slice(0, 13);
    const text = await readFile(join(eventsDir, `${stem}.jsonl`), "utf8");
    hash.update(`${stem}\n`).update(text);
    for (const line of text.split("\n")) {
      // Cheap screen first: most lines are other event types.
      if (!line.includes('"play.ended"')) continue;
      const parsed = playLine.safeParse(parseJson(line));
      if (!parsed.success) continue;
      const { userId, event } = parsed.data;
      // The events service drops duplicates; a second copy here would only be a repair's leftover.
      if (seen.has(event.id) || !heard(event.playedMs, event.durationMs, event.reason)) continue;
      seen.add(event.id);
      const plays = byUser.get(userId) ?? [];
      plays.push({ at: event.at, id: event.id, trackId: event.trackId });
      byUser.set(userId, plays);
    }
  }
  const sessions: string[][] = [];
  let plays = 0;
  for (const userId of [...byUser.keys()].sort()) {
    const list = byUser.get(userId)!.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    plays += list.length;
    let current: string[] = [];
    let lastAt = -Infinity;
    for (const play of list) {
      if (play.at - lastAt > sessionGapMs && current.length > 0) {
        sessions.push(current);
        current = [];
      }
      current.push(play.trackId);
      lastAt = play.at;
    }
    if (current.length > 0) sessions.push(current);
  }
  return { hours, digest: hash.digest("hex"), sessions, plays, users: byUser.size };
}
