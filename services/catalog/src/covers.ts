// Album art: the embedded picture first, then a folder image; its size read from the header before any decoding, then
// resized with sharp (a few at a time, once per cover and size however many ask at once) and cached on disk.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseFile } from "./lazy-music-metadata";
import type { Logger } from "pino";
import type sharpModule from "sharp";
import { AppError } from "@soundmesh/protocol";
import type { TrackRow } from "./sql-store";

export interface CoverLimits {
  /** Images with more pixels than this (by their header) are never decoded. */
  maxPixels: number;
  /** Images decoded at once. */
  maxConcurrentDecodes: number;
}

export const defaultCoverLimits: CoverLimits = { maxPixels: 40_000_000, maxConcurrentDecodes: 2 };

/** Images decoding or waiting to: beyond it a cover request is told the server is busy. */
const maxWaitingDecodes = 1_000;

type Sharp = typeof sharpModule;
let sharpLoading: Promise<Sharp> | undefined;
/**
 * sharp (a native addon, with libvips and some forty files of JavaScript) loads with the first image looked at, so a
 * rescan that finds nothing new (`soundmesh scan` most days) never loads it. libvips's operation cache is off: resized
 * covers are cached on disk, and it would keep up to 50 MiB of decoded images in a server that sits idle.
 */
const loadSharp = (): Promise<Sharp> =>
  (sharpLoading ??= import("sharp").then(({ default: sharp }) => {
    sharp.cache(false);
    return sharp;
  }));

/** Why an image is too large to decode (its header's width × height over the cap), or undefined when it is not. */
export async function oversizeReason(
  input: Uint8Array | string,
  maxPixels: number,
): Promise<string | undefined> {
  // metadata() reads the header only; an unreadable header is left for the decoder to refuse.
  const sharp = await loadSharp();
  const { width, height } = await sharp(input)
    .metadata()
    .catch(() => ({ width: undefined, height: undefined }));
  if (width === undefined || height === undefined || width * height <= maxPixels) return undefined;
  const megapixels = (pixels: number) => Math.round(pixels / 100_000) / 10;
  return `${width}×${height} pixels (${megapixels(width * height)} megapixels) is over the ${megapixels(maxPixels)}-megapixel limit`;
}

/** A small counting semaphore: at most `limit` tasks at once, at most `maxWaiting` queued behind them. */
export class DecodeGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** The most tasks seen running at once (for tests and diagnostics). */
  peak = 0;
  /** Tasks started. */
  decodes = 0;

  constructor(
    private readonly limit: number,
    private readonly maxWaiting = maxWaitingDecodes,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) {
      if (this.waiting.length >= this.maxWaiting)
        throw new AppError("BUSY", "Too many images are waiting to be decoded; try again in a few seconds");
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running += 1;
    this.peak = Math.max(this.peak, this.running);
    this.decodes += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

type Candidate = { kind: "embedded"; path: string; mtimeMs: number } | { kind: "folder"; path: string };

/** Where an album's art may come from, in order of preference. */
function candidatesOf(tracks: TrackRow[]): Candidate[] {
  const embedded = tracks
    .filter((track) => track.has_picture)
    .map((track): Candidate => ({ kind: "embedded", path: track.path, mtimeMs: Number(track.mtime_ms) }));
  const folders = [...new Set(tracks.flatMap((track) => (track.folder_cover ? [track.folder_cover] : [])))];
  return [...embedded, ...folders.map((path): Candidate => ({ kind: "folder", path }))];
}

async function bytesOf(candidate: Candidate): Promise<Uint8Array | undefined> {
  try {
    if (candidate.kind === "folder") return await readFile(candidate.path);
    const { common } = await parseFile(candidate.path, { duration: false, skipCovers: false });
    const picture = common.picture?.find((p) => /front/i.test(p.type ?? "")) ?? common.picture?.[0];
    return picture?.data;
  } catch {
    // An unreadable picture is not an error for the album: the next candidate may do.
    return undefined;
  }
}

export class AlbumCovers {
  /** Resizes under way, by cache file: concurrent first requests for one cover and size share one. */
  private readonly inFlight = new Map<string, Promise<Uint8Array>>();
  readonly gate: DecodeGate;

  constructor(
    /** Where resized covers are kept; undefined: nowhere (each request resizes, concurrent ones once). */
    private readonly cacheDir: string | undefined,
    private readonly limits: CoverLimits,
    private readonly logger: Logger,
  ) {
    this.gate = new DecodeGate(limits.maxConcurrentDecodes);
  }

  async cover(
    albumId: string,
    tracks: TrackRow[],
    size: number,
  ): Promise<{ bytes: Uint8Array; mimeType: string }> {
    const candidates = candidatesOf(tracks);
    if (candidates.length === 0) throw new AppError("NOT_FOUND", "This album has no cover art");
    // The cache file names every source with its mtime: a changed picture makes a new file, with no parsing to know.
    const versions = await Promise.all(
      candidates.map(async (candidate) =>
        candidate.kind === "embedded"
          ? `${candidate.path}|${candidate.mtimeMs}`
          : `${candidate.path}|${await stat(candidate.path).then(
              (info) => info.mtimeMs,
              () => "missing",
            )}`,
      ),
    );
    const sourceKey = createHash("sha256").update(versions.join("\n")).digest("hex").slice(0, 24);
    const file = join(this.cacheDir ?? "", `${albumId}-${size}-${sourceKey}.jpg`);
    if (this.cacheDir !== undefined) {
      try {
        return { bytes: await readFile(file), mimeType: "image/jpeg" };
      } catch {
        // Not cached yet.
      }
    }
    let pending = this.inFlight.get(file);
    if (!pending) {
      pending = this.make(file, candidates, size).finally(() => this.inFlight.delete(file));
      this.inFlight.set(file, pending);
    }
    return { bytes: await pending, mimeType: "image/jpeg" };
  }

  private async make(file: string, candidates: Candidate[], size: number): Promise<Uint8Array> {
    const refused: string[] = [];
    for (const candidate of candidates) {
      const original = await bytesOf(candidate);
      if (!original) continue;
      const tooLarge = await oversizeReason(original, this.limits.maxPixels);
      if (tooLarge) {
        refused.push(tooLarge);
        this.logger.warn({ path: candidate.path, reason: tooLarge }, "cover art not decoded: too large");
        continue;
      }
      const sharp = await loadSharp();
      const bytes = await this.gate
        .run(() =>
          sharp(original, { limitInputPixels: this.limits.maxPixels })
            .resize(size, size, { fit: "cover" })
            .jpeg({ quality: 85, mozjpeg: true })
            .toBuffer(),
        )
        .catch((error: unknown) => {
          if (error instanceof AppError) throw error;
          this.logger.debug({ err: error, path: candidate.path }, "cover art cannot be decoded");
          return undefined;
        });
      if (!bytes) continue;
      await this.store(file, bytes);
      return bytes;
    }
    throw new AppError(
      "NOT_FOUND",
      refused.length > 0
        ? `The album's cover art is too large to show: ${refused[0]}`
        : "The album's cover art cannot be decoded",
    );
  }

  /** A temporary file of this writer's own, renamed into place: readers see the whole file or none. */
  private async store(file: string, bytes: Uint8Array): Promise<void> {
    if (this.cacheDir === undefined) return;
    await mkdir(this.cacheDir, { recursive: true });
    const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(temporary, bytes);
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      // The resize stands even when the cache cannot keep it.
      this.logger.warn({ err: error, file }, "resized cover not cached");
    }
  }
}
