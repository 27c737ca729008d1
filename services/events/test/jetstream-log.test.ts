// The cluster event log on a real nats-server with JetStream: several events processes share one stream, an event
// is stored once whichever process gets it and however often, exactly one close counts, every node writes the
// same closed files, and a 3-node cluster loses no acknowledged event when the node a process uses is killed.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Kvm } from "@nats-io/kv";
import { connectNats, type NatsConnection } from "@soundmesh/bus/nats";
import { shouldRunNatsTests, startNatsCluster, startNatsServer, waitUntil } from "@soundmesh/test-kit";
import type { EventLog } from "../src/index";
import { closedBucketsKv, createJetStreamEventLog } from "../src/jetstream-log";
import {
  HOUR,
  LATENESS,
  T0,
  WINDOW,
  ManualClock,
  playEnded,
  silentLogger,
  stutter,
  tempDir,
} from "./fixtures";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function natsWithJetStream(): Promise<string> {
  const store = tempDir("soundmesh-js-");
  const server = await startNatsServer(["-js", "-sd", store]);
  cleanups.push(async () => {
    await server.stop();
    rmSync(store, { recursive: true, force: true });
  });
  return server.url;
}

async function connect(servers: string | string[]): Promise<NatsConnection> {
  const connection = await connectNats({ servers, name: "events-test" });
  cleanups.push(() => connection.close());
  return connection;
}

async function openLog(
  servers: string | string[],
  clock: ManualClock,
  extra: { replicas?: number; dir?: string } = {},
): Promise<{ log: EventLog; dir: string }> {
  const dir = extra.dir ?? tempDir();
  const log = createJetStreamEventLog({
    connection: await connect(servers),
    dir,
    clock,
    allowedLatenessMs: LATENESS,
    dedupWindowMs: WINDOW,
    logger: silentLogger,
    refreshIntervalMs: 200,
    ...(extra.replicas === undefined ? {} : { replicas: extra.replicas }),
  });
  await log.open();
  cleanups.push(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, dir };
}

const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const filesOf = (dir: string, stem: string) =>
  [".jsonl", ".parquet", ".closed.json"].map((ext) => join(dir, stem + ext));

describe.skipIf(!shouldRunNatsTests())("the JetStream event log", () => {
  it("stores an event once across processes, in one batch, across batches and concurrently", async () => {
    const url = await natsWithJetStream();
    const clock = new ManualClock(T0 + 5 * 60_000);
    const { log: a } = await openLog(url, clock);
    const { log: b } = await openLog(url, clock);
    const play = playEnded(T0 + 60_000);
    const blip = stutter(T0 + 120_000);
    const first = await a.append([
      { event: play, userId: "u1" },
      { event: play, userId: "u1" },
    ]);
    expect([first.accepted.length, first.duplicates]).toEqual([1, 1]);
    const [x, y, z] = await Promise.all([
      a.append([
        { event: play, userId: "u1" },
        { event: blip, userId: "u1" },
      ]),
      b.append([{ event: blip, userId: "u1" }]),
      b.append([{ event: play, userId: "u1" }]),
    ]);
    expect(x.accepted.length + y.accepted.length + z.accepted.length).toBe(1);
    expect(x.duplicates + y.duplicates + z.duplicates).toBe(3);
    // Both processes see the same counts once they re-read the stream.
    for (const log of [a, b])
      await waitUntil(
        () => log.stats(1)[0],
        (row) => row?.count === 2 && row.duplicatesDropped === 4,
      );
    expect(b.stats(1)[0]).toMatchObject({
      hourStart: T0,
      state: "open",
      count: 2,
      duplicatesDropped: 4,
      late: 0,
    });
  });

  it("closes an hour once whoever closes it, and every node writes byte-identical files", async () => {
    const url = await natsWithJetStream();
    const clock = new ManualClock(T0 + 10 * 60_000);
    const { log: a, dir: dirA } = await openLog(url, clock);
    const { log: b, dir: dirB } = await openLog(url, clock);
    const events = Array.from({ length: 40 }, (_, i) => playEnded(T0 + i * 60_000, `t-${i % 5}`));
    await a.append(events.slice(0, 20).map((event) => ({ event, userId: "u1" })));
    await b.append(events.slice(20).map((event) => ({ event, userId: "u2" })));
    await b.append([{ event: events[0]!, userId: "u1" }]);
    clock.set(T0 + HOUR + LATENESS - 1);
    await waitUntil(
      () => a.stats(1)[0]?.count,
      (count) => count === 40,
    );
    expect(await a.closeDue()).toEqual([]);
    expect(await a.isSettled(T0)).toBe(false);
    clock.set(T0 + HOUR + LATENESS);
    const [closedA, closedB] = await Promise.all([a.closeDue(), b.closeDue()]);
    expect(closedA).toEqual([T0]);
    expect(closedB).toEqual([T0]);
    const stem = "2030-01-01T00";
    expect(filesOf(dirB, stem).map(digest)).toEqual(filesOf(dirA, stem).map(digest));
    const summary = JSON.parse(readFileSync(join(dirA, `${stem}.closed.json`), "utf8")) as Record<
      string,
      unknown
    >;
    expect(summary).toMatchObject({ hourStart: T0, count: 40, duplicatesDropped: 1, late: 0 });
    expect(await a.isSettled(T0)).toBe(true);
    // One record in the KV bucket: the close that won.
    const kv = await new Kvm(await connect(url)).open(closedBucketsKv);
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    expect(keys).toEqual([stem]);

    // An event of the closed hour arriving now is late, in the first open hour, and the closed files never change.
    const before = filesOf(dirA, stem).map(digest);
    const straggler = playEnded(T0 + 30 * 60_000, "t-late");
    const late = await b.append([{ event: straggler, userId: "u3" }]);
    expect(late).toMatchObject({ late: 1, duplicates: 0 });
    expect(late.accepted[0]).toMatchObject({ late: true });
    await waitUntil(
      () => a.stats(5),
      (rows) => rows.some((row) => row.hourStart === T0 + HOUR && row.late === 1),
    );
    const closedRow = a.stats(5).find((row) => row.hourStart === T0)!;
    expect(closedRow.state).toBe("closed");
    expect(closedRow.completeness).toBeCloseTo(40 / 41, 5);
    expect(filesOf(dirA, stem).map(digest)).toEqual(before);
  });

  it("a node started later writes the closed buckets from the stream and replays the open ones", async () => {
    const url = await natsWithJetStream();
    const clock = new ManualClock(T0 + 10 * 60_000);
    const { log: a, dir: dirA } = await openLog(url, clock);
    await a.append([{ event: playEnded(T0 + 60_000), userId: "u1" }]);
    clock.set(T0 + HOUR + LATENESS + 60_000);
    expect(await a.closeDue()).toEqual([T0]);
    const open = playEnded(T0 + HOUR + 5 * 60_000);
    await a.append([{ event: open, userId: "u1" }]);

    const dir = tempDir();
    const log = createJetStreamEventLog({
      connection: await connect(url),
      dir,
      clock,
      allowedLatenessMs: LATENESS,
      dedupWindowMs: WINDOW,
      logger: silentLogger,
    });
    cleanups.push(async () => {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const replay = await log.open();
    expect(replay.map((stored) => stored.event.id)).toContain(open.id);
    const stem = "2030-01-01T00";
    expect(filesOf(dir, stem).map(digest)).toEqual(filesOf(dirA, stem).map(digest));
    // Its dedup is the stream's: an event stored through the other node is a duplicate here.
    expect(await log.append([{ event: open, userId: "u1" }])).toMatchObject({ accepted: [], duplicates: 1 });
    expect(existsSync(join(dir, "2030-01-01T01.closed.json"))).toBe(false);
  });

  it("on a 3-node JetStream cluster, loses no acknowledged event when the node in use is killed", async () => {
    const cluster = await startNatsCluster(3);
    cleanups.push(() => cluster.stop());
    const clock = new ManualClock(T0 + 10 * 60_000);
    // The cluster is formed once a replicated stream can be made: retried until then.
    let opened: { log: EventLog; dir: string } | null = null;
    await waitUntil(
      async () => {
        opened = await openLog([cluster.urls[0]!], clock, { replicas: 3 }).catch(() => null);
        return opened !== null;
      },
      (isOpen) => isOpen,
      30_000,
    );
    const { log: first } = opened!;
    const events = Array.from({ length: 50 }, (_, i) => playEnded(T0 + i * 1_000, `t-${i}`));
    const acknowledged = await first.append(events.map((event) => ({ event, userId: "u1" })));
    expect(acknowledged.accepted).toHaveLength(50);
    cluster.servers[0]!.process.kill("SIGKILL");
    // The stream elects a new leader among the two left: opening is retried until it answers.
    let reopened: { log: EventLog; dir: string } | null = null;
    await waitUntil(
      async () => {
        reopened = await openLog(cluster.urls.slice(1), clock, { replicas: 3 }).catch(() => null);
        return reopened !== null;
      },
      (isOpen) => isOpen,
      60_000,
    );
    const { log: second } = reopened!;
    await waitUntil(
      () => second.stats(1)[0]?.count,
      (count) => count === 50,
      30_000,
    );
    const again = await second.append(events.map((event) => ({ event, userId: "u1" })));
    expect(again).toMatchObject({ accepted: [], duplicates: 50 });
  }, 120_000);

  it("refuses a retention shorter than the dedup window", () => {
    expect(() =>
      createJetStreamEventLog({
        connection: {} as NatsConnection,
        dir: tempDir(),
        clock: new ManualClock(),
        allowedLatenessMs: LATENESS,
        dedupWindowMs: WINDOW,
        logger: silentLogger,
        retentionMs: WINDOW,
      }),
    ).toThrow(/longer than the dedup window/);
  });
});
