// A small job runner on Luigi's idea (seed 002): a job is done when its output exists, and names the jobs it needs;
// running a job first runs what it needs whose output is missing, then itself, unless its own output exists already.
// Outputs are written to a temporary name and renamed into place, so a job killed halfway leaves no output and the
// next run starts again from nothing and writes the same bytes. Every run that does work is recorded (SQL, migration
// events/003-jobs) with its state, progress and timings; a run whose process died is marked failed when a runner
// next starts. Services register their jobs here (the events service: closing buckets and daily aggregates; the
// recommendation index builder plugs into the "rebuild-recommendation-index" slot).
import { randomUUID } from "node:crypto";
import { access } from "node:fs/promises";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Db, Kysely } from "@soundmesh/db";
import { AppError, type JobInfo, type JobRun } from "@soundmesh/protocol";

export type JobParams = Record<string, string>;

/** What a job makes; the job is done when it exists. */
export interface JobOutput {
  /** For people: a path or a table name. */
  describe: string;
  exists(): Promise<boolean>;
}

/** The output is one file. */
export function fileOutput(path: string): JobOutput {
  return {
    describe: path,
    exists: () =>
      access(path).then(
        () => true,
        () => false,
      ),
  };
}

export interface JobContext {
  params: JobParams;
  /** Aborted when the run is asked to stop (the runner closing). */
  signal: AbortSignal;
  /** Reports how far the run is (0 to 1), with an optional note; pushed to whoever watches. */
  progress(fraction: number, note?: string): void;
  logger: Logger;
}

export interface Job {
  name: string;
  description: string;
  /** The parameter names it takes (e.g. ["day"]); every one is required. */
  params: string[];
  /** The jobs (with their parameters) whose outputs must exist before this one runs. */
  needs(params: JobParams): Array<{ job: string; params: JobParams }>;
  output(params: JobParams): JobOutput;
  run(ctx: JobContext): Promise<void>;
}

interface JobRunsTable {
  events_job_runs: {
    id: string;
    job: string;
    params: string;
    state: string;
    progress: number;
    note: string | null;
    error: string | null;
    created_at: number;
    started_at: number | null;
    finished_at: number | null;
    runner: string;
    host: string;
    pid: number;
  };
}

export interface JobRunnerOptions {
  db: Db;
  logger: Logger;
  clock?: { now(): number };
  /** "server" or "cli": who runs the jobs, recorded with each run. */
  runner: string;
  /** Called with every change of a run (state, progress); the server pushes it to admins. */
  onChange?: (run: JobRun) => void;
  /** Least time between two recorded progress updates of a run (the pushes follow every update). */
  progressWriteMs?: number;
}

/** When a registered job runs by itself: every `everyMs` (and once at once) with the parameters `params` gives. */
export interface JobSchedule {
  everyMs: number;
  /** The parameters for now (e.g. the last day whose buckets are all closed); null: nothing to run yet. */
  params(nowMs: number): JobParams | null;
}

export interface JobRunner {
  register(job: Job): void;
  /**
   * Runs the job on a schedule, the only way jobs run by themselves: a check whose output exists does nothing, so a
   * check is cheap. Stopped by close().
   */
  schedule(name: string, schedule: JobSchedule): void;
  /** Whether a job of this name is registered. */
  has(name: string): boolean;
  jobs(): JobInfo[];
  /**
   * Runs the job after what it needs, unless its output exists: answers this job's run, or null when there was
   * nothing to do. A failure of a needed job fails this one too.
   */
  run(name: string, params?: JobParams): Promise<JobRun | null>;
  runs(limit: number): Promise<JobRun[]>;
  /** Marks runs left "running" by a process that is gone as failed. */
  recoverInterrupted(): Promise<number>;
  /** Aborts the runs in progress. */
  close(): void;
}

/** The same parameters always give the same key (sorted by name). */
const keyOf = (params: JobParams) =>
  JSON.stringify(Object.fromEntries(Object.entries(params).sort(([a], [b]) => a.localeCompare(b))));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const kysely = options.db.kysely as Kysely<JobRunsTable>;
  const clock = options.clock ?? { now: () => Date.now() };
  const registered = new Map<string, Job>();
  const abort = new AbortController();
  /** Runs in progress in this runner, by job and parameters, so two callers share one run. */
  const inFlight = new Map<string, Promise<JobRun | null>>();
  const host = hostname();
  const timers: NodeJS.Timeout[] = [];

  const runOf = (row: JobRunsTable["events_job_runs"]): JobRun => ({
    id: row.id,
    job: row.job,
    params: JSON.parse(row.params) as JobParams,
    state: row.state as JobRun["state"],
    progress: Number(row.progress),
    note: row.note,
    error: row.error,
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    runner: row.runner,
  });

  function jobOf(name: string): Job {
    const job = registered.get(name);
    if (!job) throw new AppError("NOT_FOUND", `No job is called ${name}`);
    return job;
  }

  function checkParams(job: Job, params: JobParams): void {
    const missing = job.params.filter((name) => params[name] === undefined);
    const unknown = Object.keys(params).filter((name) => !job.params.includes(name));
    if (missing.length > 0 || unknown.length > 0)
      throw new AppError(
        "VALIDATION_FAILED",
        `${job.name} takes ${job.params.join(", ") || "no parameters"}` +
          (missing.length ? `; missing ${missing.join(", ")}` : "") +
          (unknown.length ? `; unknown ${unknown.join(", ")}` : ""),
      );
  }

  async function execute(job: Job, params: JobParams, chain: string[]): Promise<JobRun | null> {
    checkParams(job, params);
    if (await job.output(params).exists()) return null;
    for (const need of job.needs(params)) {
      const key = `${need.job}${keyOf(need.params)}`;
      if (chain.includes(key))
        throw new AppError("BAD_REQUEST", `Job ${job.name} needs itself through ${need.job}`);
      const needed = await start(jobOf(need.job), need.params, [...chain, key]);
      if (needed?.state === "failed")
        throw new AppError("INTERNAL", `${job.name} needs ${need.job} ${keyOf(need.params)}, which failed`);
    }
    const row: JobRunsTable["events_job_runs"] = {
      id: randomUUID(),
      job: job.name,
      params: keyOf(params),
      state: "running",
      progress: 0,
      note: null,
      error: null,
      created_at: clock.now(),
      started_at: clock.now(),
      finished_at: null,
      runner: options.runner,
      host,
      pid: process.pid,
    };
    await kysely.insertInto("events_job_runs").values(row).execute();
    options.onChange?.(runOf(row));
    let lastWrite = 0;
    let writing: Promise<unknown> = Promise.resolve();
    const ctx: JobContext = {
      params,
      signal: abort.signal,
      logger: options.logger.child({ job: job.name, params }),
      progress(fraction, note) {
        row.progress = Math.max(0, Math.min(1, fraction));
        row.note = note ?? row.note;
        options.onChange?.(runOf(row));
        const now = clock.now();
        if (now - lastWrite < (options.progressWriteMs ?? 250)) return;
        lastWrite = now;
        const { progress, note: written } = row;
        writing = writing.then(() =>
          kysely
            .updateTable("events_job_runs")
            .set({ progress, note: written })
            .where("id", "=", row.id)
            .execute()
            .catch(() => undefined),
        );
      },
    };
    try {
      await job.run(ctx);
      Object.assign(row, { state: "done", progress: 1, finished_at: clock.now() });
    } catch (error) {
      Object.assign(row, { state: "failed", error: (error as Error).message, finished_at: clock.now() });
      options.logger.error({ err: error, job: job.name, params }, "job failed");
    }
    await writing;
    await kysely
      .updateTable("events_job_runs")
      .set({
        state: row.state,
        progress: row.progress,
        note: row.note,
        error: row.error,
        finished_at: row.finished_at,
      })
      .where("id", "=", row.id)
      .execute();
    const run = runOf(row);
    options.onChange?.(run);
    return run;
  }

  function start(job: Job, params: JobParams, chain: string[]): Promise<JobRun | null> {
    const key = `${job.name}${keyOf(params)}`;
    let running = inFlight.get(key);
    if (!running) {
      running = execute(job, params, chain).finally(() => inFlight.delete(key));
      inFlight.set(key, running);
    }
    return running;
  }

  return {
    register(job) {
      if (registered.has(job.name)) throw new Error(`job ${job.name} is registered twice`);
      registered.set(job.name, job);
    },
    schedule(name, schedule) {
      jobOf(name);
      if (abort.signal.aborted) return;
      const check = () => {
        if (abort.signal.aborted) return;
        let params: JobParams | null;
        try {
          params = schedule.params(clock.now());
          if (params === null) return;
        } catch (error) {
          options.logger.error({ err: error, job: name }, "the schedule's parameters failed");
          return;
        }
        // A failed run is recorded and logged by execute(); this catches what fails before a run starts.
        start(jobOf(name), params, [`${name}${keyOf(params)}`]).catch((error: unknown) =>
          options.logger.error({ err: error, job: name, params }, "scheduled job not run"),
        );
      };
      timers.push(setTimeout(check, 0), setInterval(check, schedule.everyMs));
      for (const timer of timers) timer.unref();
    },
    has: (name) => registered.has(name),
    jobs: () =>
      [...registered.values()].map((job) => ({
        name: job.name,
        description: job.description,
        params: job.params,
      })),
    run(name, params = {}) {
      const job = jobOf(name);
      return start(job, params, [`${name}${keyOf(params)}`]);
    },
    async runs(limit) {
      const rows = await kysely
        .selectFrom("events_job_runs")
        .selectAll()
        .orderBy("created_at", "desc")
        .orderBy("id")
        .limit(limit)
        .execute();
      return rows.map(runOf);
    },
    async recoverInterrupted() {
      const rows = await kysely
        .selectFrom("events_job_runs")
        .select(["id", "host", "pid"])
        .where("state", "in", ["running", "pending"])
        .execute();
      const gone = rows.filter(
        (row) => row.host === host && row.pid !== process.pid && !isAlive(Number(row.pid)),
      );
      for (const row of gone)
        await kysely
          .updateTable("events_job_runs")
          .set({ state: "failed", error: "interrupted: its process ended", finished_at: clock.now() })
          .where("id", "=", row.id)
          .execute();
      return gone.length;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.length = 0;
      abort.abort(new Error("the job runner is closing"));
    },
  };
}
