// Replicas of renditions in a cluster: a storage node that has just made a rendition it owns (its transcode ended, or a
// handoff brought it) asks the key's other owners on the ring to take a copy, in the background and a few at a time.
// Each replica pulls the copy from this node by `handoff` (1 MiB chunks, every piece's hash checked there) or answers
// `have`. A copy that fails is retried later with a growing delay; it never stops the node. So a node killed for good
// leaves its renditions ready at their replicas, which the access point's reads fall back to.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import { AppError, storageContract, toAppError } from "@soundmesh/protocol";

/**
 * The nodes that should hold a copy of a rendition this node made: the key's other owners on the ring when this node
 * is one of them, none otherwise; undefined while this node does not know the ring yet (asked again later).
 */
export type ReplicaTargets = (trackId: string, profile: string) => readonly string[] | undefined;

/** Copies pushed at once by a node, and taken at once by a replica (past it a replica answers `UNAVAILABLE`). */
export const REPLICATE_AT_ONCE = 2;
/** How long a replica may take to pull one copy (a few 1 MiB chunks on a cluster's network). */
const REPLICATE_TIMEOUT_MS = 60_000;

export interface ReplicationOptions {
  /** The first retry's delay, doubled each time up to `retryMaxMs` (defaults 2 s and 60 s). */
  retryFirstMs?: number;
  retryMaxMs?: number;
  /** Tries per rendition before it is given up (logged); default 10. */
  attempts?: number;
}

export interface Replication {
  /** Queues a copy of this rendition to its replicas (once, while one is queued or running). */
  push(trackId: string, profile: string): void;
  stats(): { pushed: number; pushedBytes: number; failures: number; pending: number };
  /** Resolves once nothing is queued, running or waiting to be retried. */
  idle(): Promise<void>;
  /** Drops what is queued and the retries to come; copies under way finish on their own. */
  stop(): void;
}

interface Job {
  trackId: string;
  profile: string;
  attempt: number;
}

export function startReplication(
  bus: ServiceBus,
  nodeId: string,
  targets: ReplicaTargets,
  logger: Logger,
  options: ReplicationOptions = {},
): Replication {
  const retryFirstMs = options.retryFirstMs ?? 2_000;
  const retryMaxMs = options.retryMaxMs ?? 60_000;
  const attempts = options.attempts ?? 10;
  const queue: Job[] = [];
  /** Renditions queued, running or waiting for a retry, by "trackId|profile". */
  const pending = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  let running = 0;
  let stopped = false;
  let idleWaiters: Array<() => void> = [];
  const counts = { pushed: 0, pushedBytes: 0, failures: 0 };
  const keyOf = (job: { trackId: string; profile: string }) => `${job.trackId}|${job.profile}`;

  /** One try: every target asked; true when each has the copy (or none is due), false to try again later. */
  const attempt = async ({ trackId, profile }: Job): Promise<boolean> => {
    const nodes = targets(trackId, profile);
    if (nodes === undefined) return false;
    let done = true;
    for (const node of nodes) {
      try {
        const answer = await bus.request(
          storageContract,
          "replicate",
          { trackId, profile, from: nodeId },
          { instance: node, timeoutMs: REPLICATE_TIMEOUT_MS },
        );
        if (answer.status === "taken") {
          counts.pushed += 1;
          counts.pushedBytes += answer.bytes;
          logger.info({ node, trackId, profile, bytes: answer.bytes }, "rendition copied to a replica");
        }
      } catch (error) {
        const appError = toAppError(error);
        // This node no longer holds it (evicted) or the track is gone: nothing left to copy.
        if (appError.code === "NOT_FOUND") {
          logger.info({ node, trackId, profile, reason: appError.message }, "rendition copy dropped");
          continue;
        }
        counts.failures += 1;
        done = false;
        logger.info({ node, trackId, profile, code: appError.code }, "rendition copy failed: retried later");
      }
    }
    return done;
  };

  const settle = (job: Job, done: boolean) => {
    if (done || stopped || job.attempt + 1 >= attempts) {
      if (!done && !stopped)
        logger.warn({ trackId: job.trackId, profile: job.profile, attempts }, "rendition copy given up");
      pending.delete(keyOf(job));
      return;
    }
    const delayMs = Math.min(retryMaxMs, retryFirstMs * 2 ** job.attempt);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      queue.push({ ...job, attempt: job.attempt + 1 });
      pump();
    }, delayMs);
    timer.unref();
    timers.add(timer);
  };

  const pump = () => {
    while (!stopped && running < REPLICATE_AT_ONCE && queue.length > 0) {
      const job = queue.shift()!;
      running += 1;
      void attempt(job)
        .catch((error: unknown) => {
          logger.warn({ err: error, ...job }, "rendition copy failed: retried later");
          return false;
        })
        .then((done) => settle(job, done))
        .finally(() => {
          running -= 1;
          pump();
        });
    }
    if (pending.size === 0) {
      for (const wake of idleWaiters) wake();
      idleWaiters = [];
    }
  };

  return {
    push(trackId, profile) {
      const job = { trackId, profile, attempt: 0 };
      if (stopped || pending.has(keyOf(job))) return;
      pending.add(keyOf(job));
      queue.push(job);
      pump();
    },
    stats: () => ({ ...counts, pending: pending.size }),
    idle: () =>
      pending.size === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve)),
    stop() {
      stopped = true;
      queue.length = 0;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      pending.clear();
      for (const wake of idleWaiters) wake();
      idleWaiters = [];
    },
  };
}

/**
 * A replica's side: pulls at most `REPLICATE_AT_ONCE` copies at once (each is held whole in memory until its hashes
 * are checked); one more is refused with `UNAVAILABLE` and its owner tries again later.
 */
export function replicaIntake() {
  let taking = 0;
  return async <T>(take: () => Promise<T>): Promise<T> => {
    if (taking >= REPLICATE_AT_ONCE)
      throw new AppError("UNAVAILABLE", "This node is taking other copies: try again later");
    taking += 1;
    try {
      return await take();
    } finally {
      taking -= 1;
    }
  };
}
