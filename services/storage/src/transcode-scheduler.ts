// Decides which ffmpeg runs: at most `maxConcurrent` at once, a listener's transcode before background work (which
// runs at nice 19 and is paused with SIGSTOP while a listener waits for a slot), users served in turn, each capped.
// A user's new click that finds no free slot takes it from that user's earlier clicks nobody waits on any more.
import type { ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { setPriority } from "node:os";
import { AppError, toAppError } from "@soundmesh/protocol";

/** Who wants a rendition: a listener (a user, or a service calling without one) or transcode-ahead. */
export type Requester = { userId: string } | "background";

export interface TranscodeSchedulerConfig {
  /** ffmpeg processes running (not paused) at once. */
  maxConcurrent: number;
  /** Unfinished transcodes one user may wait for, running and queued; beyond it RATE_LIMITED. */
  maxPerUser: number;
  /** Listeners' transcodes waiting for a slot; beyond it BUSY. Background work comes from a bounded feeder. */
  maxQueued: number;
  /** A listener's interest outlives its last request by this long (the gap between piece requests). */
  listenerLeaseMs: number;
  /** CPU priority (nice) of a listener's ffmpeg: mild, so the Node process keeps answering browse and search. */
  listenerNice: number;
  /** CPU priority of background ffmpeg. */
  backgroundNice: number;
}

export const defaultSchedulerConfig = (maxConcurrent: number): TranscodeSchedulerConfig => ({
  maxConcurrent,
  maxPerUser: 4,
  maxQueued: 64,
  listenerLeaseMs: 5_000,
  listenerNice: 5,
  backgroundNice: 19,
});

/** What a job needs from its owner: how to start its ffmpeg, and how to fail its waiters when it is dropped. */
export interface JobSpec {
  spawn(): ChildProcess;
  cancel(error: AppError): void;
  /** Only worth making while a listener wants it: stopped, not demoted to background, when the last one goes. */
  disposable?: boolean;
  /** What the job makes part of (a track): a request for the same thing never takes a disposable job's slot. */
  group?: string;
}

/** A requester's claim on a transcode; released when its request ends (a listener's claim then runs out). */
export interface Hold {
  release(): void;
  /**
   * The request only waits for news (a long-poll) and may be answered early: while `answer` is registered, the
   * claim does not stop the same user's next click from taking the slot. Returns the undo.
   */
  mayAnswerEarly(answer: () => void): () => boolean;
}

export type SchedulerEvent =
  | { type: "started" | "paused" | "resumed" | "promoted" | "demoted" | "ended"; key: string; pid?: number }
  | { type: "cancelled"; key: string }
  /** Dropped while started or queued: spare work beyond the paused bound, or a disposable job nobody wants. */
  | { type: "stopped"; key: string; pid?: number }
  | { type: "refused"; reason: "perUser" | "queueFull"; userId: string };

export interface TranscodeSchedulerStats {
  /** ffmpeg processes running, and those paused (stopped) for a listener. */
  running: number;
  paused: number;
  /** Jobs waiting for a slot, by priority. */
  queuedListener: number;
  queuedBackground: number;
  started: number;
  /** Queued jobs dropped because every listener went away. */
  cancelled: number;
  refusedPerUser: number;
  refusedQueueFull: number;
}

interface Interest {
  calls: number;
  /** Calls that only wait for news, with how to answer each at once. */
  early: Set<() => void>;
  lease?: NodeJS.Timeout;
}

interface Job extends JobSpec {
  key: string;
  seq: number;
  state: "queued" | "running" | "paused";
  child?: ChildProcess;
  /** Wanted by transcode-ahead (or demoted to it): kept when every listener has gone. */
  background: boolean;
  /** Demoted from a listener nobody else (nor transcode-ahead) wants: dropped first when spare work piles up. */
  spare: boolean;
  listeners: Map<string, Interest>;
}

const noHold: Hold = { release: () => undefined, mayAnswerEarly: () => () => false };

export class TranscodeScheduler {
  private readonly jobs = new Map<string, Job>();
  /** When each user was last given a slot (a serving counter): the least recently served user goes next. */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  private seq = 0;
  private closed = false;
  private readonly counts = { started: 0, cancelled: 0, refusedPerUser: 0, refusedQueueFull: 0 };

  constructor(
    private readonly config: TranscodeSchedulerConfig,
    private readonly onEvent: (event: SchedulerEvent) => void = () => undefined,
  ) {
    if (!(config.maxConcurrent >= 1)) throw new AppError("INTERNAL", "maxConcurrent must be at least 1");
  }

  /** Claims the transcode `key`, queueing it with `spec` when it is not known yet; throws when refused. */
  submit(key: string, requester: Requester, spec: JobSpec): Hold {
    if (this.closed) throw new AppError("UNAVAILABLE", "The storage service is stopping");
    const existing = this.jobs.get(key);
    if (existing) return this.claim(existing, requester);
    if (requester !== "background") {
      this.admit(requester.userId);
      if (this.count((job) => job.state === "queued" && job.listeners.size > 0) >= this.config.maxQueued) {
        this.counts.refusedQueueFull += 1;
        this.onEvent({ type: "refused", reason: "queueFull", userId: requester.userId });
        throw new AppError(
          "BUSY",
          `${this.config.maxQueued} transcodes are already waiting; try again in a few seconds`,
        );
      }
    }
    const job: Job = {
      ...spec,
      key,
      seq: ++this.seq,
      state: "queued",
      background: requester === "background",
      spare: false,
      listeners: new Map(),
    };
    this.jobs.set(key, job);
    const hold = requester === "background" ? noHold : this.interest(job, requester.userId);
    if (requester !== "background") this.supersede(job, requester.userId);
    this.pump();
    return hold;
  }

  /** Claims a transcode already known; a rendition whose ffmpeg has finished needs no claim. */
  join(key: string, requester: Requester): Hold {
    const job = this.jobs.get(key);
    return job ? this.claim(job, requester) : noHold;
  }

  stats(): TranscodeSchedulerStats {
    return {
      running: this.count((job) => job.state === "running"),
      paused: this.count((job) => job.state === "paused"),
      queuedListener: this.count((job) => job.state === "queued" && job.listeners.size > 0),
      queuedBackground: this.count((job) => job.state === "queued" && job.listeners.size === 0),
      ...this.counts,
    };
  }

  /** Drops queued jobs and kills running and paused ffmpeg (SIGKILL ends a stopped process too). */
  close(): void {
    this.closed = true;
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) {
      for (const interest of job.listeners.values()) clearTimeout(interest.lease);
      job.cancel(new AppError("UNAVAILABLE", "The storage service is stopping"));
      job.child?.kill("SIGKILL");
    }
  }

  private claim(job: Job, requester: Requester): Hold {
    if (requester === "background") {
      job.background = true;
      job.spare = false;
      return noHold;
    }
    if (!job.listeners.has(requester.userId)) this.admit(requester.userId);
    const hold = this.interest(job, requester.userId);
    // A background job a listener now waits for goes first: promoted if running, taken in turn if queued or paused.
    if (job.state === "running" && job.listeners.size === 1) this.renice(job, "promoted");
    else if (job.state !== "running") this.supersede(job, requester.userId);
    this.pump();
    return hold;
  }

  private admit(userId: string): void {
    const mine = this.count((job) => job.listeners.has(userId));
    if (mine < this.config.maxPerUser) return;
    this.counts.refusedPerUser += 1;
    this.onEvent({ type: "refused", reason: "perUser", userId });
    throw new AppError(
      "RATE_LIMITED",
      `You are waiting for ${mine} transcodes already (at most ${this.config.maxPerUser}); try again when one is done`,
    );
  }

  private interest(job: Job, userId: string): Hold {
    let interest = job.listeners.get(userId);
    if (!interest) {
      interest = { calls: 0, early: new Set() };
      job.listeners.set(userId, interest);
    }
    clearTimeout(interest.lease);
    interest.calls += 1;
    const held = interest;
    let released = false;
    return {
      mayAnswerEarly: (answer) => {
        held.early.add(answer);
        return () => held.early.delete(answer);
      },
      release: () => {
        if (released) return;
        released = true;
        held.calls -= 1;
        if (held.calls > 0 || job.listeners.get(userId) !== held) return;
        if (this.config.listenerLeaseMs <= 0) this.leave(job, userId);
        else {
          held.lease = setTimeout(() => this.leave(job, userId), this.config.listenerLeaseMs);
          held.lease.unref();
        }
      },
    };
  }

  /**
   * The last listener went away: a queued job nobody else wants is dropped (no work is started for no one); a
   * running one is demoted to background (its work so far is kept, and it no longer counts against the user).
   */
  private leave(job: Job, userId: string, pump = true): void {
    job.listeners.delete(userId);
    if (job.listeners.size > 0 || this.jobs.get(job.key) !== job) return;
    if (job.background) {
      if (job.state === "running") this.renice(job, "demoted");
    } else if (job.disposable) {
      this.stop(job);
    } else if (job.state === "queued") {
      this.jobs.delete(job.key);
      this.counts.cancelled += 1;
      job.cancel(new AppError("UNAVAILABLE", "Nobody waits for this transcode any more"));
      this.onEvent({ type: "cancelled", key: job.key });
    } else {
      job.background = true;
      job.spare = true;
      if (job.state === "running") this.renice(job, "demoted");
    }
    if (pump) this.pump();
  }

  /**
   * The user's click on `wanted` finds every slot taken: the same user's other transcodes that only a lease (or a
   * long-poll, answered now) keeps were left behind by this click, and give up their claim at once. One nobody else
   * wants becomes spare background work (its output so far is kept, and it is paused for `wanted`); one another
   * user listens to keeps its slot. Nobody else's claim is touched.
   */
  private supersede(wanted: Job, userId: string): void {
    if (this.count((job) => job.state === "running") < this.config.maxConcurrent) return;
    for (const job of [...this.jobs.values()]) {
      const interest = job.listeners.get(userId);
      if (job === wanted || !interest || interest.calls > interest.early.size) continue;
      // Asking for a track's rendition while playing it from a seek's offset rendition is no move to another track.
      if (job.disposable && job.group !== undefined && job.group === wanted.group) continue;
      for (const answer of interest.early) answer();
      interest.early.clear();
      clearTimeout(interest.lease);
      this.leave(job, userId, false);
    }
  }

  /** Fills free slots: waiting listeners first (pausing background ffmpeg to make room), then background work. */
  private pump(): void {
    if (this.closed) return;
    for (let next = this.nextForListener(); next; next = this.nextForListener()) {
      if (this.count((job) => job.state === "running") >= this.config.maxConcurrent) {
        const victim = this.newest((job) => job.state === "running" && job.listeners.size === 0);
        if (!victim) return;
        this.pause(victim);
        this.dropSpareBeyond(this.config.maxConcurrent);
      }
      this.lastServed.set(next.userId, ++this.served);
      if (next.job.state === "paused") this.resume(next.job);
      else this.start(next.job);
    }
    // No listener waits: paused background work resumes before new background work starts.
    while (this.count((job) => job.state === "running") < this.config.maxConcurrent) {
      const paused = this.oldest((job) => job.state === "paused");
      if (paused) {
        this.resume(paused);
        continue;
      }
      const queued = this.oldest((job) => job.state === "queued");
      if (!queued) break;
      this.start(queued);
    }
  }

  /** The oldest waiting job of the least recently served user who has one (users in turn, each in order). */
  private nextForListener(): { job: Job; userId: string } | undefined {
    let best: { job: Job; userId: string; servedAt: number } | undefined;
    for (const job of this.jobs.values()) {
      if (job.state === "running") continue;
      for (const userId of job.listeners.keys()) {
        const servedAt = this.lastServed.get(userId) ?? 0;
        if (!best || servedAt < best.servedAt || (servedAt === best.servedAt && job.seq < best.job.seq))
          best = { job, userId, servedAt };
      }
    }
    return best;
  }

  /**
   * Paused spare work is bounded (a user clicking through many tracks would otherwise leave one stopped ffmpeg
   * each): beyond `limit`, the oldest is stopped and its partial output dropped (only complete renditions are
   * cached); a later request for it starts afresh.
   */
  private dropSpareBeyond(limit: number): void {
    const spare = [...this.jobs.values()].filter(
      (job) => job.state === "paused" && job.spare && job.listeners.size === 0,
    );
    for (const job of spare.slice(0, Math.max(0, spare.length - limit))) this.stop(job);
  }

  /** Drops a job nobody waits for: its ffmpeg is killed (if started) and its partial output dropped. */
  private stop(job: Job): void {
    this.jobs.delete(job.key);
    this.counts.cancelled += 1;
    job.cancel(new AppError("UNAVAILABLE", "Nobody waits for this transcode any more"));
    job.child?.kill("SIGKILL");
    this.onEvent({ type: "stopped", key: job.key, ...this.pidOf(job) });
  }

  private start(job: Job): void {
    job.state = "running";
    let child: ChildProcess;
    try {
      child = job.spawn();
    } catch (error) {
      this.jobs.delete(job.key);
      job.cancel(toAppError(error));
      return;
    }
    job.child = child;
    this.counts.started += 1;
    const end = () => this.end(job);
    child.once("exit", end);
    // A process that could not be spawned may never emit "exit".
    child.once("error", () => {
      if (child.pid === undefined) end();
    });
    this.renice(job);
    this.onEvent({ type: "started", key: job.key, ...(child.pid === undefined ? {} : { pid: child.pid }) });
  }

  private end(job: Job): void {
    if (this.jobs.get(job.key) !== job) return;
    this.jobs.delete(job.key);
    for (const interest of job.listeners.values()) clearTimeout(interest.lease);
    this.forgetIdleUsers();
    this.onEvent({ type: "ended", key: job.key, ...this.pidOf(job) });
    this.pump();
  }

  private pause(job: Job): void {
    job.state = "paused";
    job.child?.kill("SIGSTOP");
    this.onEvent({ type: "paused", key: job.key, ...this.pidOf(job) });
  }

  private resume(job: Job): void {
    job.state = "running";
    job.child?.kill("SIGCONT");
    this.renice(job);
    this.onEvent({ type: "resumed", key: job.key, ...this.pidOf(job) });
  }

  /**
   * Sets every thread of the job's ffmpeg to its priority's nice (setpriority on Linux applies to one thread).
   * Raising a priority needs privilege: without it a promoted job keeps nice 19, but is no longer paused.
   */
  private renice(job: Job, event?: "promoted" | "demoted"): void {
    const pid = job.child?.pid;
    if (pid === undefined) return;
    const nice = job.listeners.size > 0 ? this.config.listenerNice : this.config.backgroundNice;
    let threads: number[];
    try {
      threads = readdirSync(`/proc/${pid}/task`).map(Number);
    } catch {
      threads = [pid];
    }
    for (const thread of threads) {
      try {
        setPriority(thread, nice);
      } catch {
        // Gone already, or not allowed to raise the priority: the job still runs.
      }
    }
    if (event) this.onEvent({ type: event, key: job.key, pid });
  }

  /** Users with no unfinished job start afresh: their next request is served as soon as any new user's. */
  private forgetIdleUsers(): void {
    const active = new Set([...this.jobs.values()].flatMap((job) => [...job.listeners.keys()]));
    for (const userId of this.lastServed.keys()) if (!active.has(userId)) this.lastServed.delete(userId);
  }

  private pidOf(job: Job): { pid?: number } {
    return job.child?.pid === undefined ? {} : { pid: job.child.pid };
  }

  private count(test: (job: Job) => boolean): number {
    let n = 0;
    for (const job of this.jobs.values()) if (test(job)) n += 1;
    return n;
  }

  private oldest(test: (job: Job) => boolean): Job | undefined {
    for (const job of this.jobs.values()) if (test(job)) return job;
    return undefined;
  }

  private newest(test: (job: Job) => boolean): Job | undefined {
    let found: Job | undefined;
    for (const job of this.jobs.values()) if (test(job)) found = job;
    return found;
  }
}
