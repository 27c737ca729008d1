// Hands memory back to the system once a burst of work is over. A scan and the search rebuild after it grow V8's
// young generation to its largest (two 16 MiB semi-spaces) and leave old-space pages half empty; when the process then
// goes quiet, no allocation ever triggers the collection that would shrink them, so an idle server kept ~30 MiB it
// no longer used. A full collection once the process has gone quiet after being busy lets V8 shrink the young
// generation (it does when the allocation rate is low) and release emptied pages. Before it, caches hand back what
// they keep (SQLite's page caches); after it, glibc hands back the free pages of its arenas (malloc_trim).
import { readFileSync } from "node:fs";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { trimMallocArenas } from "@soundmesh/db";

export interface MemoryReleaseOptions {
  /** How often the process's CPU time is sampled; a window is one interval. */
  intervalMs?: number;
  /**
   * A busy spell is at least this share of one core over one window, or as much CPU time over several windows that
   * are not quiet (transcoding ahead after a scan uses a few percent for a minute: it frees as much as a scan).
   */
  busyShare?: number;
  /** A window with at most this share counts as quiet. */
  quietShare?: number;

  /** Run before each collection: caches hand back what they hold (the database's page caches). */
  releaseCaches?: () => void;
  /** Told after each collection, with what it took (tests, logs). */
  onRelease?: (release: MemoryReleased) => void;
  /**
   * How long the process must stay quiet after a release for the second collection (V8's 5 s of allocation rate),
   * rounded up to whole windows, at least one.
   */
  settleDelayMs?: number;
  /** Told after the second collection, with the young generation's size after it. */
  onSettled?: (settled: { newSpaceBytes: number }) => void;
  /** The process's CPU time in microseconds, its children's included; processCpuMicros by default (tests give their own). */
  cpuMicros?: () => number;
}

export interface MemoryReleased {
  heapTotalBefore: number;
  heapTotalAfter: number;
  /** Whether glibc gave pages back; undefined where malloc_trim is not available. */
  mallocTrimmed: boolean | undefined;
  durationMs: number;
}

export interface MemoryRelease {
  /** Runs the collection now (also what the timer runs after busy then quiet). */
  releaseNow(): void;
  stop(): void;
}

let collect: (() => void) | undefined;

/** A young generation this small after the second collection is settled (V8 shrinks it to 1 MiB when idle). */
const SMALL_YOUNG_GENERATION_BYTES = 4 * 2 ** 20;
/** Second collections after one release, each after the quiet spell, while V8 keeps a bigger young generation. */
const MAX_SETTLE_ATTEMPTS = 3;

/** Linux's clock ticks per second in /proc (USER_HZ, 100 on every architecture node runs on). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time of this process and of the children it has waited for (ffmpeg: transcoding ahead after a scan costs this
 * process little CPU of its own, but fragments its heap as much as a scan), in microseconds. Children's time comes from
 * /proc/self/stat (cutime, cstime); where there is none, this process's own.
 */
export function processCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  let childrenTicks = 0;
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after the command name (which may hold spaces), from the 3rd on: cutime and cstime are the 16th and 17th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    childrenTicks = Number(fields[13]) + Number(fields[14]);
  } catch {
    // Not Linux: children's time is not known.
  }
  return (
    user + system + (Number.isFinite(childrenTicks) ? (childrenTicks * 1_000_000) / TICKS_PER_SECOND : 0)
  );
}

/** What V8's young generation holds of memory now (both semi-spaces). */
export function newSpaceBytes(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === "new_space")?.physical_space_size ?? 0;
}

/** V8's full collection, callable without starting node with --expose-gc: the flag applies to contexts made after it. */
export function fullCollection(): void {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
}

/** A full collection that also compacts every fragmented page of the old generation, so emptied pages go back. */
export function compactingCollection(): void {
  setFlagsFromString("--compact-on-every-full-gc");
  try {
    fullCollection();
  } finally {
    setFlagsFromString("--no-compact-on-every-full-gc");
  }
}

/**
 * Samples CPU time every `intervalMs` (an unref'd timer: it never keeps the process alive) and collects once each
 * time a busy spell is followed by a quiet window.
 */
export function startMemoryRelease(options: MemoryReleaseOptions = {}): MemoryRelease {
  const intervalMs = options.intervalMs ?? 5_000;
  const busyMicros = intervalMs * 1000 * (options.busyShare ?? 0.25);
  const quietMicros = intervalMs * 1000 * (options.quietShare ?? 0.05);
  const cpuMicros = options.cpuMicros ?? processCpuMicros;
  let last = cpuMicros();
  /** CPU time of the windows that were not quiet since the last collection. */
  let workMicros = 0;
  /** V8 frees some of what a collection leaves behind later, on its own threads: trimmed again one window on. */
  let trimAgain = false;
  /**
   * V8 shrinks its young generation (grown to two 16 MiB semi-spaces under load) only in a full collection made while
   * it sees little allocation over its last few seconds, which the release, right after a busy spell, is not: a
   * second collection once the process has stayed quiet that long since the release (a window with work in it starts
   * the wait again), repeated while the young generation stays big, a few times at most.
   */
  let quietWindowsToSettle: number | undefined;
  let settleAttempts = 0;
  /** Whole windows, counted from the one after the release (a deadline in ms missed the 5 s tick by the release's own time). */
  const settleWindows = Math.max(1, Math.ceil((options.settleDelayMs ?? 5_000) / intervalMs));
  const releaseNow = () => {
    const heapTotalBefore = process.memoryUsage().heapTotal;
    const started = performance.now();
    options.releaseCaches?.();
    compactingCollection();
    // After the collection: the ArrayBuffers it freed went back to glibc, and now to the system.
    const mallocTrimmed = trimMallocArenas();
    const durationMs = performance.now() - started;
    options.onRelease?.({
      heapTotalBefore,
      heapTotalAfter: process.memoryUsage().heapTotal,
      mallocTrimmed,
      durationMs,
    });
    // The collection's own CPU time does not count as work.
    last = cpuMicros();
    trimAgain = true;
    quietWindowsToSettle = settleWindows;
    settleAttempts = 0;
  };
  const timer = setInterval(() => {
    const now = cpuMicros();
    const used = now - last;
    last = now;
    if (trimAgain) {
      trimAgain = false;
      trimMallocArenas();
    }
    if (quietWindowsToSettle !== undefined && used > quietMicros) quietWindowsToSettle = settleWindows;
    else if (quietWindowsToSettle !== undefined && --quietWindowsToSettle === 0) {
      quietWindowsToSettle = undefined;
      fullCollection();
      trimMallocArenas();
      const young = newSpaceBytes();
      options.onSettled?.({ newSpaceBytes: young });
      // V8 saw too much allocation still (a late piece of work): again after as long, a few times at most.
      settleAttempts += 1;
      if (young > SMALL_YOUNG_GENERATION_BYTES && settleAttempts < MAX_SETTLE_ATTEMPTS)
        quietWindowsToSettle = settleWindows;
      last = cpuMicros();
    }
    if (used > quietMicros) workMicros += used;
    else if (workMicros >= busyMicros) {
      workMicros = 0;
      releaseNow();
    }
  }, intervalMs);
  timer.unref();
  return { releaseNow, stop: () => clearInterval(timer) };
}
