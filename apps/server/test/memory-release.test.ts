// The idle memory release (apps/server/src/memory-release.ts): a full collection once a busy spell is followed by a
// quiet window, never while the process stays quiet or stays busy. CPU time is given by the test, windows are short.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { mallocTrimUnavailable } from "@soundmesh/db";
import {
  fullCollection,
  processCpuMicros,
  startMemoryRelease,
  type MemoryRelease,
  type MemoryReleased,
} from "../src/memory-release";

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

/** A release sampling the test's CPU clock every 10 ms; `releases` has the heap's total after each collection. */
function releaseOnTestClock() {
  const clock = cpuClock();
  const releases: number[] = [];
  running = startMemoryRelease({
    intervalMs: 10,
    cpuMicros: clock.read,
    onRelease: ({ heapTotalAfter }) => releases.push(heapTotalAfter),
  });
  return { clock, releases };
}

describe("memory release", () => {
  it("collects once after a busy window followed by a quiet one, and again after the next busy spell", async () => {
    const { clock, releases } = releaseOnTestClock();
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

  it("adds up work spread over windows that are each below busy but not quiet (transcoding ahead)", async () => {
    const { clock, releases } = releaseOnTestClock();
    await clock.samples(1);
    // 1 ms per 10 ms window: over the 0.5 ms of a quiet window, under the 2.5 ms of a busy one. Two of them are not
    // yet a busy spell, and the work they did is kept through the quiet windows after them.
    for (let window = 0; window < 2; window += 1) {
      clock.add(1);
      await clock.samples(1);
    }
    await clock.samples(3);
    expect(releases).toEqual([]);
    clock.add(1);
    await clock.samples(1);
    await clock.samples(3);
    expect(releases).toHaveLength(1);
  });

  it("collects a second time once the process has stayed quiet after a release, waiting again when work comes", async () => {
    const clock = cpuClock();
    let releases = 0;
    const settled: number[] = [];
    running = startMemoryRelease({
      intervalMs: 10,
      cpuMicros: clock.read,
      settleDelayMs: 20,
      // A little work (not quiet, far from busy) in the window right after each release.
      onRelease: () => {
        releases += 1;
        queueMicrotask(() => clock.add(1));
      },
      onSettled: ({ newSpaceBytes }) => settled.push(newSpaceBytes),
    });
    await clock.samples(1);
    clock.add(10);
    await clock.samples(2);
    expect(releases).toBe(1);
    // The window with work in it, then one quiet window: not yet two quiet windows in a row.
    await clock.samples(2);
    expect(settled).toHaveLength(0);
    await clock.samples(1);
    expect(settled).toHaveLength(1);
    // Again while V8 keeps a big young generation (this test runner's may stay big), three times at most.
    await clock.samples(12);
    expect(settled.length).toBeLessThanOrEqual(3);
    if (settled[0]! <= 4 * 2 ** 20) expect(settled).toHaveLength(1);
  });

  it("lets V8's young generation grow under load and makes it small again once idle", () => {
    // A process of its own: V8's default young generation (two 16 MiB semi-spaces), grown by a burst of allocation,
    // then the release as the server runs it, on 200 ms windows (the second collection after 5 s of quiet).
    const script = `
      import { startMemoryRelease, newSpaceBytes } from ${JSON.stringify(join(import.meta.dirname, "../src/memory-release.ts"))};
      let grown = 0;
      startMemoryRelease({
        intervalMs: 200,
        // The release tries again (a few times) while V8 keeps a big young generation; the last word counts.
        onSettled: ({ newSpaceBytes: after }) => {
          console.log(JSON.stringify({ grown, after }));
          if (after <= 2 * 2 ** 20) process.exit(0);
        },
      });
      let keep = [];
      const started = performance.now();
      while (performance.now() - started < 600) {
        keep.push({ at: performance.now(), text: "x" + keep.length });
        if (keep.length > 50000) keep = [];
      }
      keep = [];
      grown = newSpaceBytes();
      setTimeout(() => { console.log("not settled"); process.exit(1); }, 40000);
    `;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
    });
    const line = child.stdout.trim().split("\n").at(-1) ?? "";
    const { grown, after } = JSON.parse(line) as { grown: number; after: number };
    expect(grown).toBeGreaterThanOrEqual(16 * 2 ** 20);
    expect(after).toBeLessThanOrEqual(2 * 2 ** 20);
  }, 90_000);

  it("runs V8's full collection without --expose-gc, as often as asked", async () => {
    const weak = (() => new WeakRef({ garbage: new Array<number>(1000).fill(0) }))();
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    fullCollection();
    fullCollection();
    expect(weak.deref()).toBeUndefined();
  });

  it("counts the CPU time of children it has waited for (ffmpeg), not only its own", () => {
    const before = processCpuMicros();
    // A child that keeps a core busy for 300 ms of its own CPU time and says how much it used.
    const child = spawnSync(
      process.execPath,
      [
        "-e",
        "const s = process.cpuUsage(); while (process.cpuUsage(s).user < 300000); const u = process.cpuUsage(); console.log(u.user + u.system)",
      ],
      { encoding: "utf8" },
    );
    const childMicros = Number(child.stdout.trim());
    expect(childMicros).toBeGreaterThanOrEqual(300_000);
    // /proc counts in ticks of 10 ms; node's own start-up before the loop adds to the child's share.
    expect(processCpuMicros() - before).toBeGreaterThanOrEqual(childMicros - 20_000);
  });

  it("lets caches go before the collection and trims glibc's arenas after it", () => {
    const calls: string[] = [];
    let released: MemoryReleased | undefined;
    running = startMemoryRelease({
      releaseCaches: () => calls.push("caches"),
      onRelease: (release) => (released = release),
    });
    running.releaseNow();
    expect(calls).toEqual(["caches"]);
    // Whether pages went back depends on the heap; that it ran, where glibc is, does not.
    if (mallocTrimUnavailable() === undefined) expect(typeof released?.mallocTrimmed).toBe("boolean");
    else expect(released?.mallocTrimmed).toBeUndefined();
  });
});
