// Runs the system's ffmpeg: finds it (with a clear error naming the fix) and transcodes a file to a byte stream.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createReadStream } from "node:fs";
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

export type TranscodeProcess = ChildProcess & { stdout: Readable; stderr: Readable };

/** What ffmpeg is told after its input: the same for a process started now and one started ahead of time. */
function outputArgs(profile: TranscodeProfile, from: string[]): string[] {
  return [
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
  ];
}

const inputArgs = ["-hide_banner", "-nostdin", "-loglevel", "error", "-stats"];

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
      ...inputArgs,
      ...from.flatMap((seconds) => ["-ss", seconds]),
      "-i",
      sourcePath,
      ...outputArgs(profile, from),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}

/**
 * An offset rendition's input for a waiting ffmpeg, which cannot be told `-ss` once started: a concat script read
 * from stdin. Its first entry yields no packet (every packet is after its outpoint) but lasts `fromMs`, so the
 * second entry, the source from `fromMs` on (the demuxer seeks the file itself), keeps its own timestamps, which
 * `-copyts` writes unchanged: clusters in track time, as `-output_ts_offset` gives a process started with `-ss`.
 * Undefined for a path the script cannot carry (a line break ends a directive).
 */
export function offsetScript(sourcePath: string, fromMs: number): string | undefined {
  if (/[\n\r\0]/.test(sourcePath)) return undefined;
  // Inside single quotes nothing is special but the quote itself, which closes, is escaped, and reopens.
  const file = `'file:${sourcePath.replaceAll("'", "'\\''")}'`;
  const seconds = (fromMs / 1000).toFixed(3);
  return `ffconcat version 1.0\nfile ${file}\noutpoint -1000000\nduration ${seconds}\nfile ${file}\ninpoint ${seconds}\n`;
}

/** The input of a waiting process: source bytes on stdin, or (offset renditions) a concat script naming the file. */
const warmInputArgs = {
  whole: ["-i", "pipe:0"],
  offset: ["-protocol_whitelist", "file,pipe", "-f", "concat", "-safe", "0", "-i", "pipe:0", "-copyts"],
} as const;

type WarmKind = keyof typeof warmInputArgs;

/**
 * ffmpeg started ahead of time, two per profile, reading their input from stdin: on this kind of machine most of a
 * cold click's wait was ffmpeg loading its ~200 shared libraries (0.1-0.2 s of CPU, 0.4-1 s under load) before it
 * read a byte. A listener's transcode takes the waiting process and streams the source file into it, and a new
 * one is started once the taken one has written its first piece. The output is the same audio as `startTranscode`
 * writes from the file (WebM's random track UID aside, which differs between any two runs). A seek's offset
 * rendition takes the other kind, which is handed a concat script (`offsetScript`) and seeks the file itself; it
 * starts at the packet holding `fromMs` (up to a page before it for Ogg) where `-ss` decodes up to `fromMs` exactly.
 */
export class WarmTranscoders {
  private readonly waiting = new Map<string, TranscodeProcess>();
  private closed = false;
  private taken = 0;

  constructor(
    private readonly ffmpegPath: string,
    private readonly profiles: Record<string, TranscodeProfile>,
    /** Bytes of output after which a taken process is far enough along for its replacement to start. */
    private readonly refillAfterBytes: number,
  ) {}

  /** Processes handed out so far (diagnostics, tests). */
  get takenCount(): number {
    return this.taken;
  }

  /** Starts one waiting process of each kind for every profile that has none. */
  fill(): void {
    for (const name of Object.keys(this.profiles)) for (const kind of kinds) this.fillOne(name, kind);
  }

  /**
   * Transcodes `sourcePath` (from `fromMs` on, when given) with a waiting process of `profile`, starting one now
   * when none waits.
   */
  start(profile: string, sourcePath: string, fromMs?: number): TranscodeProcess {
    const script = fromMs === undefined ? undefined : offsetScript(sourcePath, fromMs);
    const kind: WarmKind = fromMs === undefined ? "whole" : "offset";
    const slot = `${profile}|${kind}`;
    const waiting = this.waiting.get(slot);
    this.waiting.delete(slot);
    const child = waiting && waiting.exitCode === null && waiting.signalCode === null ? waiting : undefined;
    if (!child || (fromMs !== undefined && script === undefined)) {
      if (child) this.waiting.set(slot, child);
      else waiting?.kill("SIGKILL");
      this.fillOne(profile, kind);
      return startTranscode(this.ffmpegPath, sourcePath, this.profiles[profile]!, fromMs);
    }
    this.taken += 1;
    // ffmpeg may end (or be stopped by the scheduler) before it has read everything: that is not an error here.
    child.stdin!.on("error", () => undefined);
    if (script !== undefined) child.stdin!.end(script);
    else {
      const input = createReadStream(sourcePath);
      // An unreadable source ends the input early; ffmpeg then fails on it, and its exit says the track is unplayable.
      input.on("error", () => child.stdin!.end());
      input.pipe(child.stdin!);
      child.once("close", () => input.destroy());
    }
    let written = 0;
    let refilled = false;
    const refill = () => {
      if (refilled) return;
      refilled = true;
      child.stdout.off("data", count);
      this.fillOne(profile, kind);
    };
    const count = (chunk: Buffer) => {
      written += chunk.byteLength;
      if (written >= this.refillAfterBytes) refill();
    };
    child.stdout.on("data", count);
    child.once("close", refill);
    return child;
  }

  /** Ends the waiting processes; taken ones belong to their transcodes. */
  close(): void {
    this.closed = true;
    for (const child of this.waiting.values()) child.kill("SIGKILL");
    this.waiting.clear();
  }

  private fillOne(profile: string, kind: WarmKind): void {
    const slot = `${profile}|${kind}`;
    if (this.closed || this.waiting.has(slot) || !Object.hasOwn(this.profiles, profile)) return;
    assertFfmpeg(this.ffmpegPath);
    const child = spawn(
      this.ffmpegPath,
      [...inputArgs, ...warmInputArgs[kind], ...outputArgs(this.profiles[profile]!, [])],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    ) as TranscodeProcess;
    child.once("error", () => undefined);
    // One that dies while waiting (killed from outside) is replaced when next asked for.
    child.once("exit", () => {
      if (this.waiting.get(slot) === child) this.waiting.delete(slot);
    });
    this.waiting.set(slot, child);
  }
}

const kinds: readonly WarmKind[] = ["whole", "offset"];

/** The last `time=HH:MM:SS.ss` ffmpeg printed: the duration of what it wrote. */
export function durationFromStats(stderr: string): number | undefined {
  const matches = [...stderr.matchAll(/time=(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/g)];
  const last = matches[matches.length - 1];
  if (!last) return undefined;
  return Math.round((Number(last[1]) * 3600 + Number(last[2]) * 60 + Number(last[3])) * 1000);
}
