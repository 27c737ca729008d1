// The job runner through `soundmesh jobs`: daily-aggregates over a day of closed buckets, run by a real CLI process
// that is killed with SIGKILL halfway through writing its output; the run is listed as failed (interrupted), no
// output is left, and running it again gives a file byte-identical to a clean run's on a copy of the same data.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListeningEvent } from "@soundmesh/protocol";
import { createFileEventLog, dailyPath } from "@soundmesh/service-events";
import { waitUntil } from "@soundmesh/test-kit";
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

/** A day of listening: every user plays tracks through the day (counted and skipped plays), all buckets closed. */
let countedPlays = 0;
beforeAll(async () => {
  const clock = { nowMs: dayStart, now: () => clock.nowMs };
  const log = createFileEventLog({
    dir: join(dataDir, "events"),
    clock,
    allowedLatenessMs: 10 * 60_000,
    dedupWindowMs: 3_650 * 24 * HOUR,
    logger: pino({ level: "silent" }),
  });
  await log.open();
  let n = 0;
  for (let hour = 0; hour < 24; hour++) {
    const items: Array<{ event: ListeningEvent; userId: string }> = [];
    for (let i = 0; i < 400; i++) {
      const at = dayStart + hour * HOUR + i * 1_000;
      const heard = i % 4 === 0 ? 10_000 : 200_000;
      if (heard >= 120_000) countedPlays += 1;
      const id = `00000000-0000-7000-8000-${(n++).toString(16).padStart(12, "0")}`;
      items.push({
        userId: `u${(i + hour) % USERS}`,
        event: {
          v: 1,
          id,
          at,
          trackId: `t${(i * 7 + hour) % TRACKS}`,
          type: "play.ended",
          playedMs: heard,
          durationMs: 240_000,
          reason: "finished",
        },
      });
    }
    clock.nowMs = dayStart + hour * HOUR + 500_000;
    await log.append(items);
  }
  clock.nowMs = dayStart + 25 * HOUR;
  // Appending into a later hour closed the earlier ones already; this closes the rest.
  await log.closeDue();
  expect(log.stats(100).filter((bucket) => bucket.state === "closed")).toHaveLength(24);
  await log.close();
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
