// The job runner through `soundmesh jobs`: daily-aggregates over a day of closed buckets, run by a real CLI process
// that is killed with SIGKILL halfway through writing its output; the run is listed as failed (interrupted), no
// output is left, and running it again gives a file byte-identical to a clean run's on a copy of the same data.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListeningEvent } from "@soundmesh/protocol";
import { createDb, sql } from "@soundmesh/db";
import { createFileEventLog, dailyPath } from "@soundmesh/service-events";
import { generateFixtureLibrary, waitUntil } from "@soundmesh/test-kit";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";

const DAY = "2026-11-01";
const dayStart = Date.parse(`${DAY}T00:00:00Z`);
const HOUR = 3_600_000;
const root = mkdtempSync(join(tmpdir(), "soundmesh-jobs-"));
const dataDir = join(root, "killed");
const cleanDir = join(root, "clean");
const USERS = 6;
const TRACKS = 700;

function cli(dir: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cliPath, "--data-dir", dir, ...args], {
    env: { ...process.env, ...builtCliEnv, SOUNDMESH_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    child,
    output: () => ({ stdout, stderr }),
    done: new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.once("exit", (code) => resolve({ code, stdout, stderr })),
    ),
  };
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Writes a day of plays into the bucket files under `dir` and closes all 24 buckets. */
async function writeClosedDay(
  dir: string,
  start: number,
  hourOf: (hour: number) => Array<{ event: ListeningEvent; userId: string }>,
): Promise<void> {
  const clock = { nowMs: start, now: () => clock.nowMs };
  const log = createFileEventLog({
    dir: join(dir, "events"),
    clock,
    allowedLatenessMs: 10 * 60_000,
    dedupWindowMs: 3_650 * 24 * HOUR,
    logger: pino({ level: "silent" }),
  });
  await log.open();
  for (let hour = 0; hour < 24; hour++) {
    clock.nowMs = start + hour * HOUR + 500_000;
    await log.append(hourOf(hour));
  }
  clock.nowMs = start + 25 * HOUR;
  // Appending into a later hour closed the earlier ones already; this closes the rest.
  await log.closeDue();
  expect(log.stats(100).filter((bucket) => bucket.state === "closed")).toHaveLength(24);
  await log.close();
}

/** A day of listening: every user plays tracks through the day (counted and skipped plays), all buckets closed. */
let countedPlays = 0;
beforeAll(async () => {
  let n = 0;
  await writeClosedDay(dataDir, dayStart, (hour) =>
    Array.from({ length: 400 }, (_, i) => {
      const heard = i % 4 === 0 ? 10_000 : 200_000;
      if (heard >= 120_000) countedPlays += 1;
      return {
        userId: `u${(i + hour) % USERS}`,
        event: {
          v: 1,
          id: `00000000-0000-7000-8000-${(n++).toString(16).padStart(12, "0")}`,
          at: dayStart + hour * HOUR + i * 1_000,
          trackId: `t${(i * 7 + hour) % TRACKS}`,
          type: "play.ended",
          playedMs: heard,
          durationMs: 240_000,
          reason: "finished",
        } satisfies ListeningEvent,
      };
    }),
  );
  cpSync(dataDir, cleanDir, { recursive: true });
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("soundmesh jobs", () => {
  it("a daily-aggregates run killed halfway leaves no output, and the rerun is byte-identical to a clean run", async () => {
    const output = dailyPath(join(dataDir, "events"), DAY);
    const held = cli(dataDir, ["jobs", "run", "daily-aggregates", "--param", `day=${DAY}`], {
      SOUNDMESH_TEST_JOB_HOLD: "daily-aggregates@first-chunk",
    });
    await waitUntil(
      () => held.output().stderr,
      (stderr) => stderr.includes("held at first-chunk"),
      60_000,
    );
    // Half written under the temporary name, nothing under the output's.
    expect(existsSync(`${output}.tmp`)).toBe(true);
    held.child.kill("SIGKILL");
    await held.done;
    expect(existsSync(output)).toBe(false);

    const listed = await cli(dataDir, ["jobs"]).done;
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/failed .*daily-aggregates \(day=2026-11-01\) — interrupted/);

    const rerun = await cli(dataDir, ["jobs", "run", "daily-aggregates", "--param", `day=${DAY}`]).done;
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/done\s+100%/);
    expect(rerun.stderr).toMatch(/daily-aggregates \{"day":"2026-11-01"\}: running 50%/);
    const clean = await cli(cleanDir, ["jobs", "run", "daily-aggregates", "--param", `day=${DAY}`]).done;
    expect(clean.code, clean.stderr).toBe(0);
    expect(sha256(output)).toBe(sha256(dailyPath(join(cleanDir, "events"), DAY)));

    // The aggregates themselves: every counted play once, sorted by user and track.
    const rows = readFileSync(output, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { userId: string; trackId: string; plays: number });
    expect(rows.reduce((sum, row) => sum + row.plays, 0)).toBe(countedPlays);
    const keys = rows.map((row) => `${row.userId}\t${row.trackId}`);
    expect(keys).toEqual([...keys].sort());
    expect(rows.length).toBeGreaterThan(1_000);

    // Done means its output exists: a third run does nothing.
    const again = await cli(dataDir, ["jobs", "run", "daily-aggregates", "--param", `day=${DAY}`]).done;
    expect(again.stdout).toMatch(/nothing to do/);
  }, 180_000);

  it("refuses bad parameters and unknown jobs with their codes, and a day whose buckets are not closed", async () => {
    const bad = await cli(dataDir, ["jobs", "run", "daily-aggregates", "--param", "day=yesterday"]).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/VALIDATION_FAILED|day must look like/);
    const unknown = await cli(dataDir, ["jobs", "run", "no-such-job"]).done;
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No job is called no-such-job/);
    // Today's buckets are not closed, and closing runs only in the server.
    const today = new Date().toISOString().slice(0, 10);
    const open = await cli(dataDir, ["jobs", "run", "daily-aggregates", "--param", `day=${today}`]).done;
    expect(open.code).toBe(1);
  }, 120_000);
});

/**
 * The radio index as a job: a real library scanned into a data dir, a day of listening over its tracks, and
 * rebuild-recommendation-index run by real CLI processes — killed with SIGKILL once its index file is in place but
 * before the day's record is written; the rerun's files are byte-identical to a clean run's on a copy of the data.
 */
describe("the radio index job", () => {
  const RADIO_DAY = "2026-11-02";
  const radioStart = Date.parse(`${RADIO_DAY}T00:00:00Z`);
  const radioDir = join(root, "radio");
  const radioClean = join(root, "radio-clean");

  beforeAll(async () => {
    const library = await generateFixtureLibrary();
    const scanned = await cli(radioDir, ["scan", "--library", library.root]).done;
    expect(scanned.code, scanned.stderr).toBe(0);
    const db = createDb({ kind: "sqlite", file: join(radioDir, "soundmesh.db") });
    const { rows } = await sql<{ id: string }>`SELECT id FROM catalog_tracks ORDER BY id`.execute(db.kysely);
    await db.close();
    const trackIds = rows.map((row) => row.id);
    expect(trackIds.length).toBeGreaterThan(5);
    let n = 0;
    // Three listeners, each playing runs of neighbouring tracks (sessions) through the day.
    await writeClosedDay(radioDir, radioStart, (hour) =>
      Array.from({ length: 30 }, (_, i) => {
        const userId = `listener-${i % 3}`;
        return {
          userId,
          event: {
            v: 1,
            id: `00000000-0000-7000-9000-${(n++).toString(16).padStart(12, "0")}`,
            at: radioStart + hour * HOUR + i * 60_000,
            trackId: trackIds[(hour + Math.floor(i / 3)) % trackIds.length]!,
            type: "play.ended",
            playedMs: 60_000,
            durationMs: 120_000,
            reason: "finished",
          } satisfies ListeningEvent,
        };
      }),
    );
    cpSync(radioDir, radioClean, { recursive: true });
  }, 180_000);

  const indexFiles = (dir: string) =>
    readdirSync(join(dir, "recommend"))
      .filter((name) => /^radio-[0-9a-f]+\.(hnsw|json)$/.test(name))
      .sort();

  it("is listed, runs after the day's aggregates, is killed halfway and rerun to the same bytes, then does nothing", async () => {
    const listed = await cli(radioDir, ["jobs"]).done;
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/rebuild-recommendation-index --param day=…/);

    const args = ["jobs", "run", "rebuild-recommendation-index", "--param", `day=${RADIO_DAY}`];
    const held = cli(radioDir, args, {
      SOUNDMESH_TEST_JOB_HOLD: "rebuild-recommendation-index@index-written",
    });
    await waitUntil(
      () => held.output().stderr,
      (stderr) => stderr.includes("held at index-written"),
      120_000,
    );
    // The index file is in place; its track list and the day's record (the job's output) are not.
    expect(indexFiles(radioDir).filter((name) => name.endsWith(".hnsw"))).toHaveLength(1);
    expect(existsSync(join(radioDir, "recommend", `built-${RADIO_DAY}.json`))).toBe(false);
    held.child.kill("SIGKILL");
    await held.done;

    const afterKill = await cli(radioDir, ["jobs"]).done;
    expect(afterKill.stdout).toMatch(
      /failed .*rebuild-recommendation-index \(day=2026-11-02\) — interrupted/,
    );
    // What it needed ran once and stays done.
    expect(afterKill.stdout).toMatch(/done .*daily-aggregates \(day=2026-11-02\)/);

    const rerun = await cli(radioDir, args).done;
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/done\s+100%.*rebuild-recommendation-index/);
    const clean = await cli(radioClean, args).done;
    expect(clean.code, clean.stderr).toBe(0);
    const files = indexFiles(radioDir);
    expect(files).toEqual(indexFiles(radioClean));
    expect(files).toHaveLength(2);
    for (const name of files)
      expect(sha256(join(radioDir, "recommend", name)), name).toBe(
        sha256(join(radioClean, "recommend", name)),
      );
    // The listening went in: the index's track list says which tracks were placed by plays.
    const meta = JSON.parse(
      readFileSync(
        join(
          radioDir,
          "recommend",
          files.find((name) => name.endsWith(".json"))!,
        ),
        "utf8",
      ),
    ) as { stats: { plays: number; buckets: number } };
    expect(meta.stats.plays).toBe(24 * 30);
    expect(meta.stats.buckets).toBe(24);

    // Done means its output exists: another run does nothing, and nothing ran twice.
    const again = await cli(radioDir, args).done;
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing to do/);
    const runs = (await cli(radioDir, ["jobs"]).done).stdout;
    expect(runs.match(/done .*daily-aggregates \(day=2026-11-02\)/g)).toHaveLength(1);
    expect(runs.match(/done .*rebuild-recommendation-index \(day=2026-11-02\)/g)).toHaveLength(1);
  }, 300_000);

  it("refuses a bad day with its code", async () => {
    const bad = await cli(radioDir, ["jobs", "run", "rebuild-recommendation-index", "--param", "day=2026-13"])
      .done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/VALIDATION_FAILED|day must look like/);
  }, 60_000);
});
