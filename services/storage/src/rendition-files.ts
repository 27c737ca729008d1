// A rendition's manifest and bytes: piece hashes, the manifests of originals and transcodes, and the files on disk
// (data first, then the manifest, each renamed into place).
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename, writeFile } from "node:fs/promises";
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

/** Data first, then the manifest, each by rename: a manifest on disk always describes complete data. */
export async function persistRendition(dir: string, bytes: Buffer, manifest: StreamManifest): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "data.tmp"), bytes);
  await rename(join(dir, "data.tmp"), join(dir, "data"));
  await writeFile(join(dir, "manifest.tmp"), JSON.stringify(manifest));
  await rename(join(dir, "manifest.tmp"), join(dir, "manifest.json"));
}

/** Bytes [start, endInclusive] of a file (fewer at its end). */
export async function readRange(path: string, start: number, endInclusive: number): Promise<Uint8Array> {
  const length = endInclusive - start + 1;
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
