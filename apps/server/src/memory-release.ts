// Hands memory back to the system once a burst of work is over. A scan and the search rebuild after it grow V8's
// young generation to its largest (two 16 MiB semi-spaces) and leave old-space pages half empty; when the process then
// goes quiet, no allocation ever triggers the collection that would shrink them, so an idle server kept ~30 MiB it
// no longer used. A full collection once the process has gone quiet after being busy lets V8 shrink the young
// generation (it does when the allocation rate is low) and release emptied pages.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface MemoryReleaseOptions {
  /** How often the process's CPU time is sampled; a window is one interval. */
  intervalMs?: number;
  /** A window with at least this share of one core in use counts as busy. */
  busyShare?: number;
  /** A window with at most this share counts as quiet. */
  quietShare?: number;
  /** Told after each collection, with what it took (tests, logs). */
  onRelease?: (release: { heapTotalBefore: number; heapTotalAfter: number; durationMs: number }) => void;
  /** The process's CPU time in microseconds; `process.cpuUsage` by default (tests give their own). */
  cpuMicros?: () => number;
}

export interface MemoryRelease {
  /** Runs the collection now (also what the timer runs after busy then quiet). */
  releaseNow(): void;
  stop(): void;
}

let collect: (() => void) | undefined;

/** V8's full collection, callable without starting node with --expose-gc: the flag applies to contexts made after it. */
export function fullCollection(): void {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
}

/**
 * Samples CPU time every `intervalMs` (an unref'd timer: it never keeps the process alive) and collects once each
 * time a busy window is followed by a quiet one.
 */
export function startMemoryRelease(options: MemoryReleaseOptions = {}): MemoryRelease {
  const intervalMs = options.intervalMs ?? 5_000;
  const busyMicros = intervalMs * 1000 * (options.busyShare ?? 0.25);
  const quietMicros = intervalMs * 1000 * (options.quietShare ?? 0.05);
  const cpuMicros =
    options.cpuMicros ??
    (() => {
      const { user, system } = process.cpuUsage();
      return user + system;
    });
  let last = cpuMicros();
  let busySinceRelease = false;
  const releaseNow = () => {
    const heapTotalBefore = process.memoryUsage().heapTotal;
    const started = performance.now();
    fullCollection();
    const durationMs = performance.now() - started;
    options.onRelease?.({ heapTotalBefore, heapTotalAfter: process.memoryUsage().heapTotal, durationMs });
    // The collection's own CPU time does not count as work.
    last = cpuMicros();
  };
  const timer = setInterval(() => {
    const now = cpuMicros();
    const used = now - last;
    last = now;
    if (used >= busyMicros) busySinceRelease = true;
    else if (used <= quietMicros && busySinceRelease) {
      busySinceRelease = false;
      releaseNow();
    }
  }, intervalMs);
  timer.unref();
  return { releaseNow, stop: () => clearInterval(timer) };
}
