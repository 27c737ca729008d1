// Sine-tone audio files made with the system's ffmpeg, for fixtures, tests and benchmarks.
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ToneOptions {
  /** Tone frequency in Hz. */
  frequency: number;
  seconds: number;
  /** ffmpeg output options choosing the codec, e.g. `["-c:a", "flac"]`. */
  codec: string[];
  /** Tags written as `-metadata key=value`. */
  tags?: Record<string, string>;
}

/** The ffmpeg arguments that write a sine tone to `file`. */
export function toneArgs(file: string, options: ToneOptions): string[] {
  const metadata = Object.entries(options.tags ?? {}).flatMap(([key, value]) => [
    "-metadata",
    `${key}=${value}`,
  ]);
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=${options.frequency}:duration=${options.seconds}`,
    ...options.codec,
    ...metadata,
    file,
  ];
}

/** Writes a sine tone to `file` and returns the path. */
export async function writeTone(file: string, options: ToneOptions): Promise<string> {
  await run("ffmpeg", toneArgs(file, options));
  return file;
}

/** Writes a sine tone to `file`, blocking, and returns the path (for module-level benchmark set-up). */
export function writeToneSync(file: string, options: ToneOptions): string {
  execFileSync("ffmpeg", toneArgs(file, options));
  return file;
}
