// Shared by the events tests: a settable clock, UUIDv7-style ids and event builders.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { ListeningEvent } from "@soundmesh/protocol";
import { createFileEventLog, type EventLog } from "../src/index";

export const HOUR = 3_600_000;
export const LATENESS = 10 * 60_000;
export const WINDOW = 48 * HOUR;
/** 2030-01-01T00:00Z: every test hour is an exact multiple of an hour from here. */
export const T0 = Date.UTC(2030, 0, 1);

export class ManualClock {
  constructor(public nowMs = T0) {}
  now(): number {
    return this.nowMs;
  }
  set(ms: number): void {
    this.nowMs = ms;
  }
}

/** A version 7 UUID: 48 bits of milliseconds, then random bits, with the version and variant set. */
export function uuidV7(ms = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function playEnded(
  at: number,
  trackId = "t-1",
  playedMs = 200_000,
  durationMs = 240_000,
): ListeningEvent {
  return { v: 1, id: uuidV7(at), at, trackId, type: "play.ended", playedMs, durationMs, reason: "finished" };
}

export function stutter(at: number, trackId = "t-1"): ListeningEvent {
  return { v: 1, id: uuidV7(at), at, trackId, type: "stutter", positionMs: 1_000, stalledMs: 250 };
}

export const silentLogger = pino({ level: process.env.SOUNDMESH_TEST_LOG_LEVEL ?? "silent" });

export function tempDir(prefix = "soundmesh-events-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function fileLog(dir: string, clock: { now(): number }, dedupWindowMs = WINDOW): EventLog {
  return createFileEventLog({
    dir,
    clock,
    allowedLatenessMs: LATENESS,
    dedupWindowMs,
    logger: silentLogger,
  });
}
