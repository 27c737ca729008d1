// Resized album covers on a storage node's disk (cluster mode): the catalog is the origin (it reads the art, refuses
// images over the pixel cap and resizes a few at a time); this node keeps what it answered, one file per album and
// size, written under a unique temporary name and renamed into place. Concurrent first requests share one fetch.
// A catalog change makes every cover kept before it stale, and a kept cover is trusted for a day at most (the
// browser caches album art for as long). The folder is capped: over `maxBytes`, the least recently answered covers
// go; the folder is measured (and temporary files left by a crash removed) before the first cover is answered.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
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
  /** The most the folder holds; the least recently answered covers go first (default 256 MiB). */
  maxBytes?: number;
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
  /** Files kept and their sizes, least recently answered first. */
  private readonly kept = new Map<string, number>();
  private keptBytes = 0;
  private readonly maxBytes: number;
  private loaded: Promise<void> | undefined;

  constructor(private readonly options: CoverCacheOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.maxAgeMs = options.maxAgeMs ?? 24 * 3_600_000;
    this.maxBytes = options.maxBytes ?? 256 * 1024 ** 2;
  }

  /** What the folder holds now, by this cache's count. */
  get bytes(): number {
    return this.keptBytes;
  }

  /** The folder as a previous run left it: its covers counted, oldest first, its temporary files removed. */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      let names: string[];
      try {
        names = await readdir(this.options.dir);
      } catch {
        return;
      }
      const found: Array<{ file: string; size: number; mtimeMs: number }> = [];
      for (const name of names) {
        const file = join(this.options.dir, name);
        if (name.endsWith(".tmp")) await rm(file, { force: true });
        else if (name.endsWith(".jpg"))
          try {
            const info = await stat(file);
            found.push({ file, size: info.size, mtimeMs: info.mtimeMs });
          } catch {
            // Gone meanwhile.
          }
      }
      for (const { file, size } of found.sort((a, b) => a.mtimeMs - b.mtimeMs)) this.remember(file, size);
      await this.evict();
    })();
    return this.loaded;
  }

  /** Counts a kept file as the most recently answered. */
  private remember(file: string, size: number): void {
    const before = this.kept.get(file);
    if (before !== undefined) {
      this.keptBytes -= before;
      this.kept.delete(file);
    }
    this.kept.set(file, size);
    this.keptBytes += size;
  }

  /** Removes the least recently answered covers while the folder is over its cap (the one just kept stays). */
  private async evict(): Promise<void> {
    while (this.keptBytes > this.maxBytes && this.kept.size > 1) {
      const [oldest, size] = this.kept.entries().next().value!;
      this.kept.delete(oldest);
      this.keptBytes -= size;
      // A reader of this file at this moment finds it gone: a miss, fetched again, never an error.
      await rm(oldest, { force: true });
    }
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
    await this.load();
    const file = this.fileOf(albumId, size);
    const kept = await this.read(file);
    if (kept) {
      this.hits += 1;
      this.remember(file, kept.byteLength);
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
      this.remember(file, bytes.byteLength);
      await this.evict();
    } catch (error) {
      await rm(temporary, { force: true });
      // The answer stands even when this node cannot keep it.
      this.options.logger.warn({ err: error, file }, "cover not kept on this node");
    }
  }
}
