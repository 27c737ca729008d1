// The transcode scheduler with the real ffmpeg: at most N at once (counted in /proc), a cap per user, users in turn,
// background work paused while a listener waits, listeners that go away, and nothing left running after stop.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  copyFileSync,
  createWriteStream,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { AppError, storageContract } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  TranscodeScheduler,
  createStorageService,
  defaultSchedulerConfig,
  storageManifest,
  type SchedulerEvent,
  type SourceInfo,
  type StorageService,
  type TranscodeSchedulerConfig,
} from "@soundmesh/service-storage";
import { writeToneSync } from "@soundmesh/test-kit";

const logger = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "soundmesh-scheduler-"));
/** trackId → source file (several ids may share one file: the rendition key includes the id). */
const sources = new Map<string, string>();
let tone: string;
let cacheDirs = 0;
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => {
  tone = writeToneSync(join(work, "tone.flac"), { frequency: 440, seconds: 3, codec: ["-c:a", "flac"] });
});

const resolveSource = (trackId: string): Promise<SourceInfo> => {
  const path = sources.get(trackId);
  if (!path) return Promise.reject(new AppError("NOT_FOUND", "No such track"));
  const { size, mtimeMs } = statSync(path);
  return Promise.resolve({ path, sizeBytes: size, mtimeMs, durationMs: 3_000 });
};

/** A track with a source file of its own (its name shows in the ffmpeg command line). */
function track(trackId: string): string {
  const path = join(work, `${trackId}.flac`);
  copyFileSync(tone, path);
  sources.set(trackId, path);
  return trackId;
}

/**
 * A track whose source arrives through a FIFO: its ffmpeg blocks reading until `release()` writes the file,
 * so a test decides when that transcode can finish.
 */
function gatedTrack(trackId: string): { trackId: string; release(): void } {
  const fifo = join(work, `${trackId}.fifo`);
  execFileSync("mkfifo", [fifo]);
  sources.set(trackId, fifo);
  return {
    trackId,
    // Opening a FIFO for writing waits for its reader: only call this once the track's ffmpeg runs.
    release: () => createWriteStream(fifo).end(readFileSync(tone)),
  };
}

interface Proc {
  pid: number;
  state: string;
  nice: number;
  cmdline: string;
}

/** This process's ffmpeg children, from /proc (zombies excluded: they have exited). */
function ffmpegChildren(): Proc[] {
  const found: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (comm !== "ffmpeg" || Number(fields[1]) !== process.pid || fields[0] === "Z") continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue;
    }
    found.push({ pid: Number(name), state: fields[0]!, nice: Number(fields[16]), cmdline });
  }
  return found;
}

const procOf = (pid: number) => ffmpegChildren().find((proc) => proc.pid === pid);
/** Which track a started ffmpeg transcodes, from its command line. */
const trackOfPid = (pid: number) => /\/([^/ ]+)\.(?:flac|fifo) /.exec(procOf(pid)?.cmdline ?? "")?.[1];

const services: StorageService[] = [];
afterEach(async () => {
  for (const service of services.splice(0)) await service.stop();
  await vi.waitFor(() => expect(ffmpegChildren()).toEqual([]), { timeout: 10_000 });
});

async function startStorage(
  scheduler: Partial<TranscodeSchedulerConfig>,
  options: { waitTimeoutMs?: number; onEvent?: (event: SchedulerEvent) => void } = {},
) {
  const bus = createInProcessBus();
  const events: SchedulerEvent[] = [];
  const starts: Array<{ pid: number; trackId: string | undefined }> = [];
  const service = createStorageService({
    config: {
      cacheDir: join(work, `cache-${++cacheDirs}`),
      capBytes: 1e9,
      pieceSizeBytes: 16 * 1024,
      waitTimeoutMs: options.waitTimeoutMs ?? 60_000,
      scheduler,
      // Each ffmpeg is told apart by the source path on its command line; one started ahead of time reads stdin
      // (warm-ffmpeg.test.ts covers that path).
      warmFfmpeg: false,
    },
    logger,
    bus: bus.connect(storageManifest),
    resolveSource,
    onSchedulerEvent: (event) => {
      events.push(event);
      // Read the command line now: the process may be gone by the time the test looks.
      if (event.type === "started" && event.pid)
        starts.push({ pid: event.pid, trackId: trackOfPid(event.pid) });
      options.onEvent?.(event);
    },
  });
  await service.start();
  services.push(service);
  const client = bus.connect({ service: "access-point", calls: ["storage"] });
  const manifest = (trackId: string, userId: string) =>
    client.request(
      storageContract,
      "manifest",
      { trackId, profile: "opus96" },
      { userId, timeoutMs: 60_000 },
    );
  const stats = () => client.request(storageContract, "stats", {});
  const started = () => starts.map((start) => start.pid);
  const startedTracks = () => starts.map((start) => start.trackId);
  return { service, client, manifest, stats, events, started, startedTracks };
}

/** Resolves with the pid of the ffmpeg started for `trackId`. */
async function pidOfTrack(
  storage: { started(): number[]; startedTracks(): Array<string | undefined> },
  trackId: string,
): Promise<number> {
  let pid: number | undefined;
  await vi.waitFor(
    () => {
      pid = storage.started()[storage.startedTracks().indexOf(trackId)];
      expect(pid, `ffmpeg for ${trackId}`).toBeDefined();
    },
    { timeout: 10_000 },
  );
  return pid!;
}

describe("the transcode scheduler", () => {
  it("runs at most N ffmpeg at once for 30 requests of one user, yet uses all N", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `flood${i}`);
    for (const id of ids) sources.set(id, tone);
    // Every ffmpeg start is seen here, so the highest count of live processes is seen too.
    const samples: Array<{ live: number; gauge: number }> = [];
    let gauge = () => 0;
    const storage = await startStorage(
      { maxConcurrent: 2, maxPerUser: 30 },
      {
        onEvent: (event) => {
          if (event.type === "started") samples.push({ live: ffmpegChildren().length, gauge: gauge() });
        },
      },
    );
    gauge = () => storage.service.store.stats().scheduler.running;
    const manifests = await Promise.all(ids.map((id) => storage.manifest(id, "alice")));
    expect(manifests.map((m) => m.trackId)).toEqual(ids);
    expect(manifests.every((m) => m.pieceCount > 0)).toBe(true);
    expect(samples).toHaveLength(30);
    for (const sample of samples) {
      // The scheduler's gauge agrees with /proc (it may still count an ffmpeg that exited a moment ago).
      expect(sample.live).toBeLessThanOrEqual(sample.gauge);
      expect(sample.gauge).toBeLessThanOrEqual(2);
    }
    // Not a trivial pass: the scheduler did run two at once.
    expect(Math.max(...samples.map((sample) => sample.live))).toBe(2);
    expect((await storage.stats()).scheduler).toMatchObject({
      started: 30,
      running: 0,
      queuedListener: 0,
      refusedPerUser: 0,
    });
  });

  it("refuses a user's requests beyond the cap and a full queue, and serves another user before the first's queue", async () => {
    const gate = gatedTrack("gateA");
    for (const id of ["a1", "a2", "a3", "a4", "b1", "c1"]) track(id);
    const storage = await startStorage({ maxConcurrent: 1, maxPerUser: 4, maxQueued: 4 });
    const ask = (id: string, userId: string) => storage.manifest(id, userId);
    const alice = [ask(gate.trackId, "alice")];
    const gatePid = await pidOfTrack(storage, gate.trackId);
    alice.push(ask("a1", "alice"), ask("a2", "alice"), ask("a3", "alice"));
    await vi.waitFor(async () => expect((await storage.stats()).scheduler.queuedListener).toBe(3));

    // A fifth unfinished transcode for alice is refused with a typed error; a repeat of one she waits for is not.
    const refused = await storage.manifest("a4", "alice").catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "RATE_LIMITED", message: expect.stringContaining("at most 4") });
    alice.push(ask("a1", "alice"));

    const bob = ask("b1", "bob");
    await vi.waitFor(async () => expect((await storage.stats()).scheduler.queuedListener).toBe(4));
    // The queue is full: a third user is told the server is busy, not queued without bound.
    await expect(storage.manifest("c1", "carol")).rejects.toMatchObject({ code: "BUSY" });
    expect((await storage.stats()).scheduler).toMatchObject({ refusedPerUser: 1, refusedQueueFull: 1 });

    gate.release();
    await Promise.all([...alice, bob]);
    // After alice's first transcode, bob's one request went before her queued ones.
    const order = storage.startedTracks();
    expect(storage.started()[0]).toBe(gatePid);
    expect(order).toEqual(["gateA", "b1", "a1", "a2", "a3"]);
    // With alice's transcodes done, she and carol are served again.
    await expect(storage.manifest("a4", "alice")).resolves.toMatchObject({ trackId: "a4" });
    await expect(storage.manifest("c1", "carol")).resolves.toMatchObject({ trackId: "c1" });
  });

  it("runs background work at nice 19, pauses it while a listener waits, and resumes it after", async () => {
    const background = gatedTrack("gateBg");
    track("listen1");
    const storage = await startStorage({ maxConcurrent: 1 });
    await storage.client.request(storageContract, "prepare", { trackIds: [background.trackId] });
    const bgPid = await pidOfTrack(storage, background.trackId);
    await vi.waitFor(() => expect(procOf(bgPid)?.nice).toBe(19));

    const listened = storage.manifest("listen1", "alice");
    const listenerPid = await pidOfTrack(storage, "listen1");
    // The listener did not wait for the slot: background ffmpeg was stopped to make room for it.
    const paused = storage.events.findIndex((event) => event.type === "paused" && event.pid === bgPid);
    const started = storage.events.findIndex(
      (event) => event.type === "started" && event.pid === listenerPid,
    );
    expect(paused).toBeGreaterThanOrEqual(0);
    expect(paused).toBeLessThan(started);
    // SIGSTOP takes effect when the process next runs: wait for it to show.
    await vi.waitFor(() => expect(procOf(bgPid)?.state).toBe("T"));
    expect(procOf(listenerPid)?.nice).toBe(5);
    expect((await storage.stats()).scheduler).toMatchObject({ running: 1, paused: 1 });

    await listened;
    await vi.waitFor(() => expect(["R", "S", "D"]).toContain(procOf(bgPid)?.state));
    expect(storage.events.some((event) => event.type === "resumed" && event.pid === bgPid)).toBe(true);
    background.release();
    await storage.service.idle();
    expect((await storage.client.request(storageContract, "transcodeStatus", {})).done).toBe(1);
    // Made in the background, served at once to a listener.
    await storage.manifest(background.trackId, "bob");
    expect(storage.started()).toEqual([bgPid, listenerPid]);
  });

  it("cancels a queued transcode every listener left, and demotes a running one to background", async () => {
    // The scheduler alone, so the test decides when each listener goes away.
    const events: SchedulerEvent[] = [];
    const scheduler = new TranscodeScheduler(
      { ...defaultSchedulerConfig(1), maxPerUser: 2, listenerLeaseMs: 0 },
      (event) => events.push(event),
    );
    const gate = gatedTrack("gateLeft");
    const children: ChildProcess[] = [];
    const job = (path: string) => {
      const cancelled: AppError[] = [];
      const spec = {
        spawned: 0,
        cancelled,
        spawn: () => {
          spec.spawned += 1;
          const child = spawn("ffmpeg", ["-nostdin", "-loglevel", "error", "-i", path, "-f", "null", "-"], {
            stdio: "ignore",
          });
          children.push(child);
          return child;
        },
        cancel: (error: AppError) => void cancelled.push(error),
      };
      return spec;
    };
    try {
      const running = job(sources.get(gate.trackId)!);
      const holdRunning = scheduler.submit("running", { userId: "alice" }, running);
      const gatePid = children[0]!.pid!;
      await vi.waitFor(() => expect(procOf(gatePid)?.nice).toBe(5));
      const queued = job(tone);
      const holdQueued = scheduler.submit("queued", { userId: "alice" }, queued);
      expect(scheduler.stats()).toMatchObject({ running: 1, queuedListener: 1 });
      expect(() => scheduler.submit("third", { userId: "alice" }, job(tone))).toThrow(/at most 2/);

      // alice leaves the queued one: it is dropped, never started, and no longer counts against her.
      holdQueued.release();
      expect(queued.spawned).toBe(0);
      expect(queued.cancelled).toEqual([expect.objectContaining({ code: "UNAVAILABLE" })]);
      expect(scheduler.stats()).toMatchObject({ cancelled: 1, queuedListener: 0, queuedBackground: 0 });

      // alice leaves the running one: it keeps its work, at background priority, pausable.
      holdRunning.release();
      expect(events).toContainEqual({ type: "demoted", key: "running", pid: gatePid });
      expect(procOf(gatePid)?.nice).toBe(19);
      // The next listener's ffmpeg waits on a gate too: the running one stays paused until the test lets it end
      // (a short track could end, and resume the paused one, between two looks at /proc on a busy machine).
      const nextGate = gatedTrack("gateNext");
      const next = job(sources.get(nextGate.trackId)!);
      const holdNext = scheduler.submit("next", { userId: "alice" }, next);
      expect(events).toContainEqual({ type: "paused", key: "running", pid: gatePid });
      await vi.waitFor(() => expect(procOf(gatePid)?.state).toBe("T"), { timeout: 10_000 });
      await vi.waitFor(() => expect(children).toHaveLength(2), { timeout: 10_000 });
      nextGate.release();
      await vi.waitFor(
        () => expect(events).toContainEqual(expect.objectContaining({ type: "ended", key: "next" })),
        { timeout: 10_000 },
      );
      holdNext.release();
      await vi.waitFor(() =>
        expect(events).toContainEqual({ type: "resumed", key: "running", pid: gatePid }),
      );
      gate.release();
      await vi.waitFor(() => expect(events).toContainEqual({ type: "ended", key: "running", pid: gatePid }));
      expect(running.cancelled).toEqual([]);
    } finally {
      scheduler.close();
    }
  });

  it("gives a user's new click the slot of that user's earlier click at once, never another user's", async () => {
    const first = gatedTrack("gateClick1");
    const second = gatedTrack("gateClick2");
    const bobs = gatedTrack("gateBob");
    for (const id of ["click3", "click4", "afterBob"]) track(id);
    // A lease far longer than the wait bound: only taking the slot can serve the next click in time.
    const storage = await startStorage(
      { maxConcurrent: 1, maxPerUser: 2, listenerLeaseMs: 120_000 },
      { waitTimeoutMs: 30_000 },
    );
    const longPoll = (trackId: string, userId: string) =>
      storage.client.request(
        storageContract,
        "manifest",
        { trackId, profile: "opus96", havePieces: 0 },
        { userId, timeoutMs: 60_000 },
      );
    // alice follows her first click's growing manifest (a long-poll: no piece exists yet).
    const following = longPoll(first.trackId, "alice");
    const firstPid = await pidOfTrack(storage, first.trackId);
    // Her second click: the long-poll is answered now, unchanged, and the first transcode is paused for it.
    const secondClick = longPoll(second.trackId, "alice");
    await expect(following).resolves.toMatchObject({
      trackId: first.trackId,
      pieceCount: 0,
      complete: false,
    });
    const secondPid = await pidOfTrack(storage, second.trackId);
    await vi.waitFor(() => expect(procOf(firstPid)?.state).toBe("T"), { timeout: 10_000 });
    expect(procOf(firstPid)?.nice).toBe(19);
    const keys = new Map(
      storage.events.flatMap((e) => (e.type === "started" && e.pid ? [[e.pid, e.key] as const] : [])),
    );
    expect(storage.events).toContainEqual({ type: "demoted", key: keys.get(firstPid), pid: firstPid });

    // Her third click, with both earlier ones unfinished (over her cap of 2 had they still counted): it takes the
    // slot from the second; only one spare transcode stays paused, so the oldest is stopped, its output dropped.
    await expect(storage.manifest("click3", "alice")).resolves.toMatchObject({ trackId: "click3" });
    await expect(secondClick).resolves.toMatchObject({ trackId: second.trackId, complete: false });
    expect(storage.events).toContainEqual({ type: "stopped", key: keys.get(firstPid), pid: firstPid });
    await vi.waitFor(() => expect(procOf(firstPid)).toBeUndefined(), { timeout: 10_000 });
    await expect(storage.manifest("click4", "alice")).resolves.toMatchObject({ trackId: "click4" });
    expect(storage.events.some((e) => e.type === "refused")).toBe(false);
    // The spare second transcode resumes once no listener waits, and completes the rendition for the cache.
    second.release();
    await vi.waitFor(
      () => expect(storage.events).toContainEqual(expect.objectContaining({ type: "ended", pid: secondPid })),
      { timeout: 30_000 },
    );
    await expect(storage.manifest(second.trackId, "carol")).resolves.toMatchObject({ complete: true });
    expect(storage.startedTracks().filter((id) => id === second.trackId)).toHaveLength(1);

    // bob follows his own growing manifest: alice's next click waits for a slot, and bob's is neither answered
    // early nor paused.
    let bobAnswered = false;
    const bobFollows = longPoll(bobs.trackId, "bob").finally(() => (bobAnswered = true));
    const bobPid = await pidOfTrack(storage, bobs.trackId);
    const aliceWaits = storage.manifest("afterBob", "alice");
    await vi.waitFor(async () => expect((await storage.stats()).scheduler.queuedListener).toBe(1), {
      timeout: 10_000,
    });
    expect(bobAnswered).toBe(false);
    expect(storage.events.some((e) => e.type === "paused" && e.pid === bobPid)).toBe(false);
    expect(storage.startedTracks()).not.toContain("afterBob");
    bobs.release();
    await expect(bobFollows).resolves.toMatchObject({ trackId: bobs.trackId });
    await expect(aliceWaits).resolves.toMatchObject({ trackId: "afterBob" });
  }, 120_000);

  it("keeps the work of a transcode whose listener gave up, and serves it from the cache", async () => {
    const gate = gatedTrack("gateGaveUp");
    const storage = await startStorage({ maxConcurrent: 1, listenerLeaseMs: 0 }, { waitTimeoutMs: 500 });
    const gaveUp = storage.manifest(gate.trackId, "alice").catch((error: unknown) => error);
    const gatePid = await pidOfTrack(storage, gate.trackId);
    expect(await gaveUp).toMatchObject({ code: "TIMEOUT" });
    await vi.waitFor(() => expect(procOf(gatePid)?.nice).toBe(19));
    gate.release();
    await vi.waitFor(() =>
      expect(storage.events).toContainEqual({ type: "ended", key: expect.any(String), pid: gatePid }),
    );
    await expect(storage.manifest(gate.trackId, "bob")).resolves.toMatchObject({ trackId: gate.trackId });
    expect(storage.started()).toEqual([gatePid]);
  });

  it("kills running and paused ffmpeg when the service stops, failing their waiters", async () => {
    const background = gatedTrack("gateStopBg");
    const listened = gatedTrack("gateStopListener");
    const storage = await startStorage({ maxConcurrent: 1 });
    await storage.client.request(storageContract, "prepare", { trackIds: [background.trackId] });
    const bgPid = await pidOfTrack(storage, background.trackId);
    const waiting = storage.manifest(listened.trackId, "alice").catch((error: unknown) => error);
    await pidOfTrack(storage, listened.trackId);
    await vi.waitFor(() => expect(procOf(bgPid)?.state).toBe("T"));
    await storage.service.stop();
    expect(await waiting).toMatchObject({ code: "UNAVAILABLE" });
    await vi.waitFor(() => expect(ffmpegChildren()).toEqual([]), { timeout: 10_000 });
  });

  it("names the user from the caller when there is none, and refuses bad scheduler settings", async () => {
    track("svc1");
    track("svc2");
    const storage = await startStorage({ maxConcurrent: 1, maxPerUser: 1, maxQueued: 8 });
    const gate = gatedTrack("gateSvc");
    const first = storage.client
      .request(storageContract, "manifest", { trackId: gate.trackId, profile: "opus96" })
      .catch((error: unknown) => error);
    await pidOfTrack(storage, gate.trackId);
    // The same caller without a user is one listener: its second transcode is over its cap of 1.
    await expect(
      storage.client.request(storageContract, "manifest", { trackId: "svc1", profile: "opus96" }),
    ).rejects.toMatchObject({ code: "RATE_LIMITED" });
    // A signed-in user is someone else.
    const alice = storage.manifest("svc2", "alice");
    gate.release();
    await expect(first).resolves.toMatchObject({ trackId: gate.trackId });
    await expect(alice).resolves.toMatchObject({ trackId: "svc2" });
    expect(() =>
      createStorageService({
        config: { cacheDir: join(work, "never"), capBytes: 1, scheduler: { maxConcurrent: 0 } },
        logger,
        bus: createInProcessBus().connect(storageManifest),
        resolveSource,
      }),
    ).toThrow(/maxConcurrent/);
  });
});
