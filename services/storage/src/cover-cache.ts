// Resized album covers on a storage node's disk (cluster mode): the catalog is the origin (it reads the art, refuses
// images over the pixel cap and resizes a few at a time); this node keeps what it answered, one file per album and
// size, written under a unique temporary name and renamed into place. Concurrent first requests share one fetch.
// A catalog change makes every cover kept before it stale, and a kept cover is trusted for a day at most (the
// browser caches album art for as long).
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { CoverImage } from "@soundmesh/protocol";

export interface CoverCacheOptions {
  dir: string;
  /** Where a cover this node does not hold comes from: the catalog. */
  origin: (albumId: string, size: number, traceId?: string) => Promise<CoverImage>;
  logger: Logger;
  /** A kept cover older than this is fetched again (default a day). */
  maxAgeMs?: number;
  nowMs?: () => number;
}

const JPEG = "image/jpeg";

export class CoverCache {
  private readonly inFlight = new Map<string, Promise<CoverImage>>();
  private readonly nowMs: () => number;
  private readonly maxAgeMs: number;
  /** Covers kept before this time are stale (the catalog changed since). */
  private changedAtMs = 0;
  /** Answers from this node's disk, and fetches from the origin. */
  hits = 0;
  fetches = 0;

  constructor(private readonly options: CoverCacheOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3_600_000;
  }

  /** The file an album's cover at `size` is kept in. */
  fileOf(albumId: string, size: number): string {
    return join(this.options.dir, `${albumId}-${size}.jpg`);
  }

  /** The library changed: every cover kept so far is fetched again when next asked. */
  forget(): void {
    this.changedAtMs = this.nowMs();
  }

  async cover(albumId: string, size: number, traceId?: string): Promise<CoverImage> {
    const file = this.fileOf(albumId, size);
    const kept = await this.read(file);
    if (kept) {
      this.hits += 1;
      return { bytes: kept, mimeType: JPEG };
    }
    let pending = this.inFlight.get(file);
    if (!pending) {
      pending = this.fetch(file, albumId, size, traceId).finally(() => this.inFlight.delete(file));
      this.inFlight.set(file, pending);
    }
    return pending;
  }

  private async read(file: string): Promise<Uint8Array | undefined> {
    try {
      const info = await stat(file);
      // mtime is kept to the file system's precision: 1 ms of slack.
      if (info.mtimeMs + 1 < this.changedAtMs || this.nowMs() - info.mtimeMs > this.maxAgeMs)
        return undefined;
      return await readFile(file);
    } catch {
      return undefined;
    }
  }

  private async fetch(file: string, albumId: string, size: number, traceId?: string): Promise<CoverImage> {
    const askedAtMs = this.nowMs();
    this.fetches += 1;
    const image = await this.options.origin(albumId, size, traceId);
    // Kept only when it is what the file name says and the library has not changed while it was made.
    if (image.mimeType === JPEG && this.changedAtMs <= askedAtMs)
      await this.store(file, image.bytes, askedAtMs);
    return image;
  }

  /** Kept with the time it was asked of the origin as its mtime: what `read` compares with changes and age. */
  private async store(file: string, bytes: Uint8Array, askedAtMs: number): Promise<void> {
    const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await mkdir(this.options.dir, { recursive: true });
      await writeFile(temporary, bytes);
      await utimes(temporary, askedAtMs / 1000, askedAtMs / 1000);
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      // The answer stands even when this node cannot keep it.
      this.options.logger.warn({ err: error, file }, "cover not kept on this node");
    }
  }
}
