// The job runner's schedule: a check at once and then every interval, with the parameters for that moment; a check
// whose output exists runs nothing, so the job runs once per its parameters however often it is checked. And the
// day the radio index's schedule asks for: the last whose 24 buckets are all due to close.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { createJobRunner, fileOutput, lastClosedDay, migrateEventsStore } from "../src/index";
import { dbTargets, waitUntil } from "@soundmesh/test-kit";

const targets = await dbTargets({
  prepare: async (db) => {
    await migrateEventsStore(db);
  },
});

describe("lastClosedDay", () => {
  const lateness = 10 * 60_000;
  it("is the day before yesterday until yesterday's last bucket is due, then yesterday", () => {
    expect(lastClosedDay(Date.parse("2026-12-04T00:09:59.999Z"), lateness)).toBe("2026-12-02");
    expect(lastClosedDay(Date.parse("2026-12-04T00:10:00Z"), lateness)).toBe("2026-12-03");
    expect(lastClosedDay(Date.parse("2026-12-04T23:59:59Z"), lateness)).toBe("2026-12-03");
    expect(lastClosedDay(Date.parse("2026-12-04T00:00:00Z"), 0)).toBe("2026-12-03");
  });
});

describe.each(targets)("the job runner's schedule ($name)", (target) => {
  afterAll(() => target.dispose());

  it("runs a scheduled job once per its parameters, checked again and again; refuses an unknown job", async () => {
    const test = await target.open();
    const dir = mkdtempSync(join(tmpdir(), "soundmesh-schedule-"));
    const runner = createJobRunner({ db: test.db, logger: pino({ level: "silent" }), runner: "server" });
    try {
      let runs = 0;
      let checks = 0;
      runner.register({
        name: "stamp",
        description: "writes one file per day",
        params: ["day"],
        needs: () => [],
        output: (params) => fileOutput(join(dir, `${params.day}.txt`)),
        run: (ctx) => {
          runs += 1;
          writeFileSync(join(dir, `${ctx.params.day}.txt`), "done\n");
          return Promise.resolve();
        },
      });
      expect(() => runner.schedule("no-such-job", { everyMs: 10, params: () => null })).toThrow(
        /No job is called/,
      );
      runner.schedule("stamp", {
        everyMs: 20,
        params: () => {
          checks += 1;
          return { day: "2026-12-03" };
        },
      });
      await waitUntil(
        () => checks,
        (count) => count >= 5,
        20_000,
        10,
      );
      expect(existsSync(join(dir, "2026-12-03.txt"))).toBe(true);
      expect(runs).toBe(1);
      const recorded = (await runner.runs(50)).filter((run) => run.job === "stamp");
      expect(recorded).toHaveLength(1);
      expect(recorded[0]).toMatchObject({ state: "done", params: { day: "2026-12-03" }, runner: "server" });
    } finally {
      runner.close();
      await test.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
