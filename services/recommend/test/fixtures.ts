// Shared by the recommend tests: bucket files written by the real events log, a silent logger, temp folders.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { createFileEventLog } from "@soundmesh/service-events";
import type { PlannedPlay } from "./synthetic-world";

export const HOUR = 3_600_000;
export const silentLogger = pino({ level: process.env.SOUNDMESH_TEST_LOG_LEVEL ?? "silent" });

export function tempDir(prefix = "soundmesh-recommend-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Writes plays into hourly buckets with the events service's own file log, each hour's plays appended while that
 * hour is current, then closes every bucket by moving the clock past `closeAtMs`.
 */
export async function writeBuckets(
  dir: string,
  plays: readonly PlannedPlay[],
  closeAtMs: number,
): Promise<void> {
  const clock = { nowMs: 0, now: () => clock.nowMs };
  const log = createFileEventLog({
    dir,
    clock,
    allowedLatenessMs: 10 * 60_000,
    dedupWindowMs: 365 * 24 * HOUR,
    logger: silentLogger,
  });
  await log.open();
  try {
    for (let start = 0; start < plays.length; start += 500) {
      const batch = plays.slice(start, start + 500);
      clock.nowMs = Math.max(clock.nowMs, batch.at(-1)!.event.at);
      await log.append(batch.map(({ userId, event }) => ({ userId, event })));
    }
    clock.nowMs = closeAtMs;
    await log.closeDue();
  } finally {
    await log.close();
  }
}
