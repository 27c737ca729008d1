// The idle memory release (apps/server/src/memory-release.ts): a full collection once a busy spell is followed by a
// quiet window, never while the process stays quiet or stays busy. CPU time is given by the test, windows are short.
import { afterEach, describe, expect, it } from "vitest";
import { fullCollection, startMemoryRelease, type MemoryRelease } from "../src/memory-release";

/** A CPU clock the test moves; `samples` resolves once the release has read it `count` times. */
function cpuClock() {
  let micros = 0;
  let reads = 0;
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  return {
    read: () => {
      reads += 1;
      for (const waiter of waiters.filter((w) => reads >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      return micros;
    },
    add(ms: number) {
      micros += ms * 1000;
    },
    samples(more: number) {
      const count = reads + more;
      return new Promise<void>((resolve) => waiters.push({ count, resolve }));
    },
  };
}

let running: MemoryRelease | undefined;
afterEach(() => running?.stop());

describe("memory release", () => {
  it("collects once after a busy window followed by a quiet one, and again after the next busy spell", async () => {
    const clock = cpuClock();
    const releases: number[] = [];
    running = startMemoryRelease({
      intervalMs: 10,
      cpuMicros: clock.read,
      onRelease: ({ heapTotalAfter }) => releases.push(heapTotalAfter),
    });
    // Quiet from the start: nothing to hand back.
    await clock.samples(4);
    expect(releases).toEqual([]);
    // Busy: a whole window of CPU; no collection while the work goes on.
    clock.add(10);
    await clock.samples(1);
    clock.add(10);
    await clock.samples(1);
    expect(releases).toEqual([]);
    // Quiet again: one collection, and no more while it stays quiet.
    await clock.samples(5);
    expect(releases).toHaveLength(1);
    expect(releases[0]).toBeGreaterThan(0);
    clock.add(10);
    await clock.samples(4);
    expect(releases).toHaveLength(2);
  });

  it("runs V8's full collection without --expose-gc, as often as asked", async () => {
    const weak = (() => new WeakRef({ garbage: new Array<number>(1000).fill(0) }))();
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    fullCollection();
    fullCollection();
    expect(weak.deref()).toBeUndefined();
  });
});
