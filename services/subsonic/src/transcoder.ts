// Live transcodes for apps that cannot play our WebM: ffmpeg's MP3 or Ogg/Opus, streamed to the client as ffmpeg
// writes it (the first bytes leave within a fraction of a second of a never-transcoded track), and kept whole in a
// small cache once finished, so a replay or a Range request is served from disk. Bounded per user and in total.
import { spawn } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from "node:fs";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type { Logger } from "pino";
import { SubsonicError } from "./errors";

export type TranscodeFormat = "mp3" | "opus";

export const formatInfo: Record<
  TranscodeFormat,
  { codec: string[]; container: string; mimeType: string; suffix: string }
> = {
  mp3: { codec: ["-c:a", "libmp3lame"], container: "mp3", mimeType: "audio/mpeg", suffix: "mp3" },
  opus: { codec: ["-c:a", "libopus"], container: "ogg", mimeType: "audio/ogg", suffix: "opus" },
};

export interface TranscodeRequest {
  trackId: string;
  path: string;
  format: TranscodeFormat;
  bitrateKbps: number;
  /** Seconds into the track to start at (transcodeOffset); such a transcode is never cached. */
  offsetSeconds: number;
  userId: string;
}

export interface TranscoderOptions {
  cacheDir: string;
  cacheMaxBytes: number;
  maxRunning: number;
  maxPerUser: number;
  logger: Logger;
}

export class Transcoder {
  private running = 0;
  private readonly perUser = new Map<string, number>();
  private sequence = 0;

  constructor(private readonly options: TranscoderOptions) {
    mkdirSync(options.cacheDir, { recursive: true });
  }

  /** Where the finished transcode of this track, format and bitrate is kept. */
  cachedPath(trackId: string, format: TranscodeFormat, bitrateKbps: number): string {
    return join(this.options.cacheDir, `${trackId}.${bitrateKbps}.${formatInfo[format].suffix}`);
  }

  /** The finished transcode's path when the cache holds it (its use is recorded for the eviction order). */
  cached(trackId: string, format: TranscodeFormat, bitrateKbps: number): string | undefined {
    const path = this.cachedPath(trackId, format, bitrateKbps);
    if (!existsSync(path)) return undefined;
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      return undefined;
    }
    return path;
  }

  /**
   * Starts ffmpeg and answers its output as it comes. `signal` ends it (the client went away). Refused with a
   * Subsonic error when the user or the server runs as many transcodes as allowed.
   */
  start(request: TranscodeRequest, signal: AbortSignal): Readable {
    const userCount = this.perUser.get(request.userId) ?? 0;
    if (userCount >= this.options.maxPerUser)
      throw new SubsonicError(0, "You are already transcoding as many streams as allowed; try again shortly");
    if (this.running >= this.options.maxRunning)
      throw new SubsonicError(0, "The server is transcoding as many streams as it may; try again shortly");
    this.running += 1;
    this.perUser.set(request.userId, userCount + 1);
    const info = formatInfo[request.format];
    const args = [
      ...["-hide_banner", "-loglevel", "error", "-nostdin"],
      ...(request.offsetSeconds > 0 ? ["-ss", String(request.offsetSeconds)] : []),
      ...["-i", request.path, "-map", "0:a:0", "-vn", "-map_metadata", "-1"],
      ...info.codec,
      ...["-b:a", `${request.bitrateKbps}k`, "-f", info.container, "pipe:1"],
    ];
    const ffmpeg = spawn("ffmpeg", args, { stdio: ["ignore", "pipe", "pipe"], signal });
    const output = new PassThrough();
    const isCacheable = request.offsetSeconds === 0;
    const finalPath = this.cachedPath(request.trackId, request.format, request.bitrateKbps);
    const partPath = `${finalPath}.${process.pid}.${(this.sequence += 1)}.part`;
    const part = isCacheable ? createWriteStream(partPath) : undefined;
    let stderr = "";
    ffmpeg.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 2_000) stderr += chunk.toString();
    });
    ffmpeg.stdout.on("data", (chunk: Buffer) => {
      part?.write(chunk);
      output.write(chunk);
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.running -= 1;
      const left = (this.perUser.get(request.userId) ?? 1) - 1;
      if (left <= 0) this.perUser.delete(request.userId);
      else this.perUser.set(request.userId, left);
    };
    ffmpeg.on("error", (error) => {
      release();
      part?.destroy();
      if (part) rmSync(partPath, { force: true });
      if (!signal.aborted) this.options.logger.warn({ err: error }, "ffmpeg failed to run");
      output.destroy(error);
    });
    ffmpeg.on("close", (code) => {
      release();
      if (code === 0 && !signal.aborted) {
        output.end();
        part?.end(() => {
          try {
            renameSync(partPath, finalPath);
            this.evict();
          } catch (error) {
            this.options.logger.warn({ err: error }, "could not keep a finished transcode");
          }
        });
        return;
      }
      part?.destroy();
      if (part) rmSync(partPath, { force: true });
      if (!signal.aborted) this.options.logger.warn({ code, stderr }, "ffmpeg ended with an error");
      output.destroy(new Error(`ffmpeg ended with ${String(code)}`));
    });
    return output;
  }

  /** Drops the least recently used finished transcodes while the cache holds more than its cap. */
  private evict(): void {
    const files = readdirSync(this.options.cacheDir)
      .filter((name) => !name.endsWith(".part"))
      .map((name) => {
        const path = join(this.options.cacheDir, name);
        const stat = statSync(path);
        return { path, sizeBytes: stat.size, usedMs: stat.mtimeMs };
      })
      .sort((a, b) => a.usedMs - b.usedMs);
    let total = files.reduce((sum, file) => sum + file.sizeBytes, 0);
    for (const file of files) {
      if (total <= this.options.cacheMaxBytes) break;
      rmSync(file.path, { force: true });
      total -= file.sizeBytes;
    }
  }
}
