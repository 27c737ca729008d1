// A rendition's manifest and bytes: piece hashes, the manifests of originals and transcodes, and the files on disk
// (data first, then the manifest, each renamed into place).
import { createHash, randomUUID } from "node:crypto";
import { close, open as openFd, read as readFd } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { AppError, type StreamManifest } from "@soundmesh/protocol";
import type { TranscodeProfile } from "./ffmpeg";
import { findClusters } from "./webm-clusters";

export const ORIGINAL = "original";

const originalTypes: Record<string, { mimeType: string; codec: string }> = {
  ".mp3": { mimeType: "audio/mpeg", codec: "mp3" },
  ".flac": { mimeType: "audio/flac", codec: "flac" },
  ".ogg": { mimeType: "audio/ogg", codec: "vorbis" },
  ".oga": { mimeType: "audio/ogg", codec: "vorbis" },
  ".opus": { mimeType: 'audio/ogg; codecs="opus"', codec: "opus" },
  ".m4a": { mimeType: "audio/mp4", codec: "aac" },
  ".mp4": { mimeType: "audio/mp4", codec: "aac" },
  ".wav": { mimeType: "audio/wav", codec: "pcm" },
  ".aif": { mimeType: "audio/aiff", codec: "pcm" },
  ".aiff": { mimeType: "audio/aiff", codec: "pcm" },
  ".wma": { mimeType: "audio/x-ms-wma", codec: "wma" },
  ".webm": { mimeType: "audio/webm", codec: "opus" },
};

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export function hashPieces(
  bytes: Uint8Array,
  pieceSizeBytes: number,
): { pieceCount: number; pieceHashes: string[] } {
  const pieceHashes: string[] = [];
  for (let offset = 0; offset < bytes.byteLength; offset += pieceSizeBytes) {
    pieceHashes.push(sha256(bytes.subarray(offset, offset + pieceSizeBytes)));
  }
  return { pieceCount: pieceHashes.length, pieceHashes };
}

/** The untouched file's manifest: its type from the extension, its pieces hashed. */
export async function originalManifest(
  trackId: string,
  source: { path: string; durationMs?: number },
  pieceSizeBytes: number,
): Promise<StreamManifest> {
  const bytes = await readFile(source.path).catch((error: unknown) => {
    throw new AppError("NOT_FOUND", "The track's file cannot be read", { cause: error });
  });
  const type = originalTypes[extname(source.path).toLowerCase()] ?? {
    mimeType: "application/octet-stream",
    codec: "unknown",
  };
  const durationMs = source.durationMs ?? 0;
  return {
    trackId,
    profile: ORIGINAL,
    ...type,
    bitrateKbps: durationMs > 0 ? Math.round((bytes.byteLength * 8) / durationMs) : 0,
    durationMs,
    sizeBytes: bytes.byteLength,
    pieceSizeBytes,
    ...hashPieces(bytes, pieceSizeBytes),
    complete: true,
  };
}

/** An Opus/WebM transcode's manifest, with the cluster seek index. */
export function transcodedManifest(
  trackId: string,
  profile: string,
  settings: TranscodeProfile,
  bytes: Buffer,
  { durationMs, pieceSizeBytes }: { durationMs: number; pieceSizeBytes: number },
): StreamManifest {
  return {
    trackId,
    profile,
    mimeType: 'audio/webm; codecs="opus"',
    codec: "opus",
    bitrateKbps: durationMs > 0 ? Math.round((bytes.byteLength * 8) / durationMs) : settings.bitrateKbps,
    durationMs,
    sizeBytes: bytes.byteLength,
    pieceSizeBytes,
    ...hashPieces(bytes, pieceSizeBytes),
    complete: true,
    seekIndex: findClusters(bytes),
  };
}

/**
 * Why a rendition handed over by another node cannot be taken, or undefined when it can: it must be the complete
 * rendition asked for, cut into this node's piece size, its bytes matching every piece's SHA-256.
 */
export function handoffProblem(
  manifest: StreamManifest,
  bytes: Uint8Array,
  wanted: { trackId: string; profile: string; pieceSizeBytes: number },
): string | undefined {
  if (manifest.trackId !== wanted.trackId || manifest.profile !== wanted.profile)
    return "another rendition's manifest";
  if (!manifest.complete) return "an incomplete rendition";
  if (manifest.pieceSizeBytes !== wanted.pieceSizeBytes) return "another piece size";
  if (bytes.byteLength !== manifest.sizeBytes || bytes.byteLength === 0)
    return "a size unlike its manifest's";
  const { pieceHashes } = hashPieces(bytes, wanted.pieceSizeBytes);
  if (
    pieceHashes.length !== manifest.pieceCount ||
    pieceHashes.length !== manifest.pieceHashes.length ||
    pieceHashes.some((hash, i) => hash !== manifest.pieceHashes[i])
  )
    return "bytes unlike its piece hashes";
  return undefined;
}

/**
 * Data first, then the manifest, each by rename: a manifest on disk always describes complete data. The temporary
 * names are unique, so two writers of one rendition (a transcode and a copy from another node) never share a file.
 */
export async function persistRendition(
  dir: string,
  bytes: Uint8Array,
  manifest: StreamManifest,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const unique = `${process.pid}-${randomUUID()}.tmp`;
  await writeFile(join(dir, `data.${unique}`), bytes);
  await rename(join(dir, `data.${unique}`), join(dir, "data"));
  await writeFile(join(dir, `manifest.${unique}`), JSON.stringify(manifest));
  await rename(join(dir, `manifest.${unique}`), join(dir, "manifest.json"));
}

/**
 * Recently served pieces of complete renditions, in memory up to a byte bound (least recently served dropped first):
 * a popular piece is answered with no read at all. A rendition's bytes never change, so an entry never goes stale;
 * an evicted rendition's pieces are dropped with it.
 */
export class PieceCache {
  private readonly pieces = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(renditionKey: string, index: number): Uint8Array | undefined {
    const id = `${renditionKey}:${index}`;
    const hit = this.pieces.get(id);
    if (hit) {
      // Most recently served last.
      this.pieces.delete(id);
      this.pieces.set(id, hit);
    }
    return hit;
  }

  set(renditionKey: string, index: number, bytes: Uint8Array): void {
    if (bytes.byteLength > this.maxBytes) return;
    const id = `${renditionKey}:${index}`;
    this.remove(id);
    this.pieces.set(id, bytes);
    this.bytes += bytes.byteLength;
    for (const oldest of this.pieces.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(oldest);
    }
  }

  forget(renditionKey: string): void {
    for (const id of [...this.pieces.keys()]) if (id.startsWith(`${renditionKey}:`)) this.remove(id);
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  private remove(id: string): void {
    const bytes = this.pieces.get(id);
    if (!bytes) return;
    this.pieces.delete(id);
    this.bytes -= bytes.byteLength;
  }
}

interface OpenFile {
  fd: Promise<number>;
  /** Reads under way: the descriptor is closed only once none is. */
  users: number;
  forgotten: boolean;
}

/**
 * Descriptors of recently read rendition files, kept open: a cached piece then costs one read, not an open, a read
 * and a close (each a trip through libuv's thread pool). The least recently read beyond `max` are closed.
 */
export class OpenFiles {
  private readonly files = new Map<string, OpenFile>();

  constructor(private readonly max = 64) {}

  /**
   * Bytes [start, endInclusive] of a file (fewer at its end). `id` names what is read (a rendition): an original
   * rewritten in place of its old file is another rendition, so it never reads through the old descriptor.
   */
  async read(id: string, path: string, start: number, endInclusive: number): Promise<Uint8Array> {
    const file = this.acquire(id, path);
    try {
      const fd = await file.fd;
      const buffer = Buffer.allocUnsafe(endInclusive - start + 1);
      const bytesRead = await new Promise<number>((resolve, reject) =>
        readFd(fd, buffer, 0, buffer.byteLength, start, (error, n) => (error ? reject(error) : resolve(n))),
      );
      return buffer.subarray(0, bytesRead);
    } catch (error) {
      this.forget(id);
      throw error;
    } finally {
      file.users -= 1;
      this.closeIfIdle(file);
    }
  }

  /** The file is going away (evicted): its descriptor is closed once no read uses it. */
  forget(id: string): void {
    const file = this.files.get(id);
    if (!file) return;
    this.files.delete(id);
    file.forgotten = true;
    this.closeIfIdle(file);
  }

  closeAll(): void {
    for (const id of [...this.files.keys()]) this.forget(id);
  }

  private acquire(id: string, path: string): OpenFile {
    let file = this.files.get(id);
    if (file) this.files.delete(id);
    else {
      const fd = new Promise<number>((resolve, reject) =>
        openFd(path, "r", (error, opened) => (error ? reject(error) : resolve(opened))),
      );
      fd.catch(() => undefined);
      file = { fd, users: 0, forgotten: false };
    }
    // Most recently used last.
    this.files.set(id, file);
    file.users += 1;
    for (const [oldId, old] of this.files) {
      if (this.files.size <= this.max) break;
      if (old.users === 0) this.forget(oldId);
    }
    return file;
  }

  private closeIfIdle(file: OpenFile): void {
    if (!file.forgotten || file.users > 0) return;
    file.fd.then(
      (fd) => close(fd, () => undefined),
      () => undefined,
    );
  }
}
