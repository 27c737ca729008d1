// Runs the system's ffmpeg: finds it (with a clear error naming the fix) and transcodes a file to a byte stream.
import { spawn, spawnSync, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { AppError } from "@soundmesh/protocol";

export interface TranscodeProfile {
  codec: "opus";
  bitrateKbps: number;
}

const checked = new Map<string, boolean>();

export function assertFfmpeg(ffmpegPath: string): void {
  let found = checked.get(ffmpegPath);
  if (found === undefined) {
    const probe = spawnSync(ffmpegPath, ["-hide_banner", "-version"], { stdio: "ignore" });
    found = probe.status === 0;
    checked.set(ffmpegPath, found);
  }
  if (!found) {
    throw new AppError(
      "DEPENDENCY_MISSING",
      `ffmpeg was not found at "${ffmpegPath}": install it (apt-get install ffmpeg) or set the ffmpeg path in the configuration`,
    );
  }
}

export type TranscodeProcess = ChildProcessByStdio<null, Readable, Readable>;

/**
 * Opus in WebM written to a pipe: the output is append-only, so bytes already served never change. With `fromMs`,
 * the track from that time on (input seeking, so ffmpeg starts there at once), its timestamps shifted to track
 * time so its clusters say where they belong.
 */
export function startTranscode(
  ffmpegPath: string,
  sourcePath: string,
  profile: TranscodeProfile,
  fromMs?: number,
): TranscodeProcess {
  assertFfmpeg(ffmpegPath);
  const from = fromMs === undefined ? [] : [(fromMs / 1000).toFixed(3)];
  return spawn(
    ffmpegPath,
    [
      "-hide_banner",
      "-nostdin",
      "-loglevel",
      "error",
      "-stats",
      ...from.flatMap((seconds) => ["-ss", seconds]),
      "-i",
      sourcePath,
      "-map",
      "0:a:0",
      "-vn",
      "-map_metadata",
      "-1",
      "-c:a",
      "libopus",
      "-b:a",
      `${profile.bitrateKbps}k`,
      "-ar",
      "48000",
      // Bit-exact muxing: the same source makes the same bytes on every storage node (no random segment UID,
      // no version strings), so a piece from a replica matches the manifest another node announced.
      "-fflags",
      "+bitexact",
      ...from.flatMap((seconds) => ["-output_ts_offset", seconds]),
      "-f",
      "webm",
      "-cluster_time_limit",
      "2000",
      "pipe:1",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

/** The last `time=HH:MM:SS.ss` ffmpeg printed: the duration of what it wrote. */
export function durationFromStats(stderr: string): number | undefined {
  const matches = [...stderr.matchAll(/time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/g)];
  const last = matches[matches.length - 1];
  if (!last) return undefined;
  return Math.round((Number(last[1]) * 3600 + Number(last[2]) * 60 + Number(last[3])) * 1000);
}
