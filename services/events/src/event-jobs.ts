// The events service's jobs (jobs.ts): closing an hourly bucket, the daily aggregates (plays per user and track of
// one UTC day, from that day's closed buckets), and the slot the recommendation index builder plugs into.
import { access, mkdir, open, rename } from "node:fs/promises";
import { AppError } from "@soundmesh/protocol";
import { join } from "node:path";
import { HOUR_MS, bucketStem, logPath, readLog, summaryPath, syncDir } from "./bucket-files";
import { settledOnDisk, type EventLog } from "./bucket-log";
import { countsAsPlay } from "./events-service";
import { fileOutput, type Job, type JobContext, type JobOutput, type JobParams } from "./jobs";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** "2026-12-04T05" → the hour's start; a typed error for anything else. */
export function hourOf(param: string | undefined): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}$/.test(param ?? "") ? Date.parse(`${param!}:00:00Z`) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new AppError("VALIDATION_FAILED", `hour must look like 2026-12-04T05, not ${param ?? "nothing"}`);
  return ms;
}

/** "2026-12-04" → the day's start (UTC). */
export function dayOf(param: string | undefined): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(param ?? "") ? Date.parse(`${param!}T00:00:00Z`) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new AppError("VALIDATION_FAILED", `day must look like 2026-12-04, not ${param ?? "nothing"}`);
  return ms;
}

const DAY_MS = 24 * HOUR_MS;

/** The last UTC day whose 24 buckets are all due to close at `nowMs` (its last hour's end plus the lateness). */
export function lastClosedDay(nowMs: number, allowedLatenessMs: number): string {
  const dayStart = Math.floor((nowMs - allowedLatenessMs) / DAY_MS) * DAY_MS - DAY_MS;
  return new Date(dayStart).toISOString().slice(0, 10);
}

export interface BucketJobsOptions {
  /** The bucket folder (`<dataDir>/events`). */
  dir: string;
  clock: { now(): number };
  allowedLatenessMs: number;
  /** The open log, in the server; without it (the CLI) close-bucket only checks whether the hour is closed. */
  log?: EventLog;
}

/**
 * close-bucket (hour): its output is the bucket's summary file, or nothing at all for an hour that had no events
 * once it is past due.
 */
export function closeBucketJob(options: BucketJobsOptions): Job {
  const { dir, clock, allowedLatenessMs, log } = options;
  return {
    name: "close-bucket",
    description: "closes an hourly event bucket: writes its Parquet copy and summary",
    params: ["hour"],
    needs: () => [],
    output(params: JobParams): JobOutput {
      const hourStart = hourOf(params.hour);
      return {
        describe: summaryPath(dir, hourStart),
        exists: () =>
          log ? log.isSettled(hourStart) : settledOnDisk(dir, hourStart, clock.now(), allowedLatenessMs),
      };
    },
    async run(ctx) {
      const hourStart = hourOf(ctx.params.hour);
      if (!log) throw new Error("closing a bucket runs in the server, which holds the open log");
      if (!(await log.closeHour(hourStart)))
        throw new Error(`the bucket of ${bucketStem(hourStart)} is not due yet (or not open)`);
      ctx.progress(1);
    },
  };
}

export const dailyPath = (dir: string, day: string) => join(dir, "daily", `${day}.jsonl`);

/** For the kill tests: stops the job here (until the process is killed) when SOUNDMESH_TEST_JOB_HOLD says so. */
export async function holdIfAsked(job: string, step: string): Promise<void> {
  if (process.env.SOUNDMESH_TEST_JOB_HOLD !== `${job}@${step}`) return;
  process.stderr.write(`job ${job} held at ${step}\n`);
  await new Promise(() => undefined);
}

/**
 * daily-aggregates (day): plays per user and track of one UTC day (the scrobbling rule, as play counts), read from
 * the day's 24 closed buckets, as JSON Lines sorted by user and track. Needs the 24 close-bucket jobs.
 */
export function dailyAggregatesJob(options: Pick<BucketJobsOptions, "dir">): Job {
  const { dir } = options;
  return {
    name: "daily-aggregates",
    description: "plays per user and track of one UTC day, from its closed buckets",
    params: ["day"],
    needs: (params) => {
      const start = dayOf(params.day);
      return Array.from({ length: 24 }, (_, h) => ({
        job: "close-bucket",
        params: { hour: bucketStem(start + h * HOUR_MS) },
      }));
    },
    output: (params) => fileOutput(dailyPath(dir, params.day!)),
    async run(ctx: JobContext) {
      const day = ctx.params.day!;
      const start = dayOf(day);
      const plays = new Map<string, { plays: number; playedMs: number }>();
      for (let h = 0; h < 24; h++) {
        ctx.signal.throwIfAborted();
        const path = logPath(dir, start + h * HOUR_MS);
        if (await exists(path))
          for (const line of await readLog(path, () => undefined)) {
            if (line.k !== "e" || line.event.type !== "play.ended") continue;
            if (!countsAsPlay(line.event.playedMs, line.event.durationMs)) continue;
            const key = `${line.userId}\t${line.event.trackId}`;
            const entry = plays.get(key) ?? { plays: 0, playedMs: 0 };
            entry.plays += 1;
            entry.playedMs += line.event.playedMs;
            plays.set(key, entry);
          }
        ctx.progress(((h + 1) / 24) * 0.5, `read ${bucketStem(start + h * HOUR_MS)}`);
      }
      const keys = [...plays.keys()].sort();
      const lines = keys.map((key) => {
        const [userId, trackId] = key.split("\t");
        const { plays: count, playedMs } = plays.get(key)!;
        return JSON.stringify({ day, userId, trackId, plays: count, playedMs }) + "\n";
      });
      // Written to a temporary name in chunks, then renamed: a run killed here leaves no output.
      const path = dailyPath(dir, day);
      const temporary = `${path}.tmp`;
      await mkdir(join(dir, "daily"), { recursive: true });
      const out = await open(temporary, "w");
      try {
        const CHUNK = 1_000;
        for (let i = 0; i < lines.length; i += CHUNK) {
          ctx.signal.throwIfAborted();
          await out.write(lines.slice(i, i + CHUNK).join(""));
          ctx.progress(0.5 + (0.5 * Math.min(lines.length, i + CHUNK)) / lines.length, "writing");
          if (i === 0) await holdIfAsked("daily-aggregates", "first-chunk");
        }
        await out.sync();
      } finally {
        await out.close();
      }
      await rename(temporary, path);
      await syncDir(join(dir, "daily"));
    },
  };
}

/**
 * The slot of the recommendation index: the radio engineer's build plugs in here (its output and its build), and
 * the job needs the daily aggregates of its day.
 */
export function recommendationIndexJob(builder: {
  output(params: JobParams): JobOutput;
  build(ctx: JobContext): Promise<void>;
}): Job {
  return {
    name: "rebuild-recommendation-index",
    description: "rebuilds the recommendation index from the listening history",
    params: ["day"],
    needs: (params) => [{ job: "daily-aggregates", params: { day: params.day! } }],
    output: (params) => builder.output(params),
    run: (ctx) => builder.build(ctx),
  };
}
