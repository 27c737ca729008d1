import { createHash } from "node:crypto";
import { readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parquetReadObjects } from "hyparquet";
import type { EventLog } from "../src/index";
import { screenEvents } from "../src/index";
import { HOUR, LATENESS, T0, WINDOW, ManualClock, fileLog, playEnded, stutter, tempDir } from "./fixtures";

const dirs: string[] = [];
const logs: EventLog[] = [];
afterEach(async () => {
  for (const log of logs.splice(0)) await log.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function openLog(clock: ManualClock, dir = tempDir()): Promise<{ log: EventLog; dir: string }> {
  if (!dirs.includes(dir)) dirs.push(dir);
  const log = fileLog(dir, clock);
  logs.push(log);
  await log.open();
  return { log, dir };
}

const linesOf = (dir: string, stem: string) =>
  readFileSync(join(dir, `${stem}.jsonl`), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { k: string; late?: boolean; event?: { id: string } });
const digest = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("the file event log", () => {
  it("stores an event once however often it is retried: in one batch, across batches, concurrently", async () => {
    const clock = new ManualClock(T0 + 5 * 60_000);
    const { log, dir } = await openLog(clock);
    const a = playEnded(T0 + 60_000);
    const b = stutter(T0 + 120_000);
    const first = await log.append([
      { event: a, userId: "u1" },
      { event: a, userId: "u1" },
    ]);
    expect([first.accepted.length, first.duplicates]).toEqual([1, 1]);
    const [x, y] = await Promise.all([
      log.append([
        { event: a, userId: "u1" },
        { event: b, userId: "u1" },
      ]),
      log.append([{ event: b, userId: "u1" }]),
    ]);
    expect(x.accepted.length + y.accepted.length).toBe(1);
    expect(x.duplicates + y.duplicates).toBe(2);
    const stored = linesOf(dir, "2030-01-01T00").filter((line) => line.k === "e");
    expect(stored.map((line) => line.event!.id).sort()).toEqual([a.id, b.id].sort());
    expect(log.stats(1)[0]).toMatchObject({ count: 2, duplicatesDropped: 3, late: 0, state: "open" });
  });

  it("remembers ids across a restart, for open buckets and closed ones inside the window", async () => {
    const clock = new ManualClock(T0 + 5 * 60_000);
    const { log, dir } = await openLog(clock);
    const early = playEnded(T0 + 60_000);
    await log.append([{ event: early, userId: "u1" }]);
    clock.set(T0 + 2 * HOUR + 30 * 60_000);
    expect(await log.closeDue()).toEqual([T0]);
    const recent = playEnded(T0 + 2 * HOUR + 60_000);
    await log.append([{ event: recent, userId: "u1" }]);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    const { log: reopened } = await openLog(clock, dir);
    const again = await reopened.append([
      { event: early, userId: "u1" },
      { event: recent, userId: "u1" },
    ]);
    expect(again).toMatchObject({ accepted: [], duplicates: 2, late: 0 });
  });

  it("closes a bucket exactly when the watermark reaches its end plus the allowed lateness", async () => {
    const clock = new ManualClock(T0 + HOUR + LATENESS - 1);
    const { log, dir } = await openLog(clock);
    const onTime = await log.append([{ event: playEnded(T0 + 59 * 60_000), userId: "u1" }]);
    expect(onTime.late).toBe(0);
    expect(await log.closeDue()).toEqual([]);
    clock.set(T0 + HOUR + LATENESS);
    expect(await log.closeDue()).toEqual([T0]);
    expect(readdirSync(dir).sort()).toEqual([
      "2030-01-01T00.closed.json",
      "2030-01-01T00.jsonl",
      "2030-01-01T00.parquet",
    ]);
    expect(log.stats(5)).toEqual([
      {
        hourStart: T0,
        state: "closed",
        count: 1,
        duplicatesDropped: 0,
        late: 0,
        completeness: 1,
        closedAt: T0 + HOUR + LATENESS,
      },
    ]);
  });

  it("stores an event of a closed hour as late in the first open bucket, and the closed one never changes", async () => {
    const clock = new ManualClock(T0 + 30 * 60_000);
    const { log, dir } = await openLog(clock);
    const kept = [playEnded(T0 + 60_000), stutter(T0 + 61_000)];
    await log.append(kept.map((event) => ({ event, userId: "u1" })));
    clock.set(T0 + 3 * HOUR + 5 * 60_000);
    await log.closeDue();
    const before = ["jsonl", "parquet", "closed.json"].map((ext) =>
      digest(join(dir, `2030-01-01T00.${ext}`)),
    );
    const straggler = playEnded(T0 + 2 * 60_000);
    const result = await log.append([
      { event: straggler, userId: "u1" },
      { event: kept[0]!, userId: "u1" },
    ]);
    expect(result).toMatchObject({ duplicates: 1, late: 1 });
    // now − lateness is 02:55: hour 02 is the first still open.
    const lateLines = linesOf(dir, "2030-01-01T02");
    expect(lateLines).toEqual([
      expect.objectContaining({ k: "e", late: true, event: expect.objectContaining({ id: straggler.id }) }),
      expect.objectContaining({ k: "d" }),
    ]);
    expect(
      ["jsonl", "parquet", "closed.json"].map((ext) => digest(join(dir, `2030-01-01T00.${ext}`))),
    ).toEqual(before);
    const rows = await parquetReadObjects({
      file: new Uint8Array(readFileSync(join(dir, "2030-01-01T00.parquet"))).buffer,
    });
    expect(rows.map((row: Record<string, unknown>) => row.id)).toEqual(kept.map((event) => event.id));
    expect(rows[0]).toMatchObject({
      type: "play.ended",
      user_id: "u1",
      late: false,
      at: BigInt(T0 + 60_000),
    });
    const stats = log.stats(10);
    expect(stats.find((row) => row.hourStart === T0 + 2 * HOUR)).toMatchObject({ count: 1, late: 1 });
    expect(stats.find((row) => row.hourStart === T0)!.completeness).toBeCloseTo(2 / 3);
  });

  it("cuts a torn last line at start and keeps every whole one", async () => {
    const clock = new ManualClock(T0 + 5 * 60_000);
    const { log, dir } = await openLog(clock);
    const event = playEnded(T0 + 60_000);
    await log.append([{ event, userId: "u1" }]);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    const path = join(dir, "2030-01-01T00.jsonl");
    appendFileSync(path, '{"k":"e","userId":"u1","rece');
    const { log: reopened } = await openLog(clock, dir);
    expect(readFileSync(path, "utf8").endsWith("}\n")).toBe(true);
    expect(reopened.stats(1)[0]).toMatchObject({ count: 1 });
    expect((await reopened.append([{ event, userId: "u1" }])).duplicates).toBe(1);
  });

  it("closes at start the buckets that came due while it was down", async () => {
    const clock = new ManualClock(T0 + 5 * 60_000);
    const { log, dir } = await openLog(clock);
    await log.append([{ event: playEnded(T0 + 60_000), userId: "u1" }]);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    writeFileSync(join(dir, "unrelated.txt"), "left alone");
    clock.set(T0 + 5 * HOUR);
    const { log: reopened } = await openLog(clock, dir);
    expect(reopened.stats(1)[0]).toMatchObject({ hourStart: T0, state: "closed", count: 1 });
  });
});

describe("screening submitted events", () => {
  const now = T0 + 30 * 60_000;
  it("refuses malformed events and events timed outside the window with typed codes, keeping the rest", () => {
    const good = playEnded(now - 60_000);
    const { events, refused } = screenEvents(
      [
        good,
        { ...good, id: "not-a-uuid" },
        { ...good, type: "play.teleported" },
        { ...good, v: 2 },
        { ...playEnded(now), playedMs: -5 },
        "a string",
        null,
        playEnded(now + 6 * 60_000),
        playEnded(now - WINDOW),
      ],
      now,
      WINDOW,
    );
    expect(events).toEqual([good]);
    expect(refused.map((r) => [r.index, r.code])).toEqual([
      [1, "BAD_EVENT"],
      [2, "BAD_EVENT"],
      [3, "BAD_EVENT"],
      [4, "BAD_EVENT"],
      [5, "BAD_EVENT"],
      [6, "BAD_EVENT"],
      [7, "EVENT_TIME_OUT_OF_RANGE"],
      [8, "EVENT_TIME_OUT_OF_RANGE"],
    ]);
    expect(refused[0]!.message).toMatch(/^id: /);
  });
});
