// A made-up rendition for engine tests: pieces of recognisable bytes (piece i is filled with i + 1) and a manifest
// with their real SHA-256 hashes, so fetching, verifying and caching run as they do on real audio.
import { createHash } from "node:crypto";
import type { Manifest } from "@soundmesh/engine";

export const pieceSize = 1000;

export function syntheticTrack(pieceCount: number, extra: Partial<Manifest> = {}) {
  const pieces = Array.from({ length: pieceCount }, (_, i) => new Uint8Array(pieceSize).fill(i + 1));
  const manifest: Manifest = {
    trackId: "t1",
    profile: "opus96",
    mimeType: 'audio/webm; codecs="opus"',
    codec: "opus",
    bitrateKbps: 80,
    durationMs: pieceCount * 1_000,
    sizeBytes: pieceSize * pieceCount,
    pieceSizeBytes: pieceSize,
    pieceCount,
    pieceHashes: pieces.map((bytes) => createHash("sha256").update(bytes).digest("hex")),
    complete: true,
    ...extra,
  };
  return { pieces, manifest };
}
