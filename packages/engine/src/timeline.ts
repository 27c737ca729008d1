// Maps between playback time and pieces of a rendition: through the WebM cluster index when present, else by bytes.
import type { StreamManifest } from "@soundmesh/protocol";

export type Manifest = StreamManifest;

/** Playback time (ms) at which a byte offset is needed. */
export function timeAtByte(manifest: Manifest, byteOffset: number): number {
  const index = manifest.seekIndex;
  if (index && index.length > 1) {
    let previous = index[0]!;
    for (const point of index) {
      if (point.byteOffset > byteOffset) {
        const span = point.byteOffset - previous.byteOffset;
        const fraction = span > 0 ? (byteOffset - previous.byteOffset) / span : 0;
        return previous.timeMs + fraction * (point.timeMs - previous.timeMs);
      }
      previous = point;
    }
    const span = manifest.sizeBytes - previous.byteOffset;
    const fraction = span > 0 ? (byteOffset - previous.byteOffset) / span : 0;
    return previous.timeMs + fraction * (manifest.durationMs - previous.timeMs);
  }
  return manifest.sizeBytes > 0 ? (byteOffset / manifest.sizeBytes) * manifest.durationMs : 0;
}

/** The piece that holds playback time `timeMs`: for WebM, the piece where the cluster containing it starts. */
export function pieceAtTime(manifest: Manifest, timeMs: number): number {
  if (manifest.pieceCount === 0) return 0;
  const clamped = Math.max(0, Math.min(timeMs, manifest.durationMs));
  let byteOffset: number;
  const index = manifest.seekIndex;
  if (index && index.length > 0) {
    let cluster = index[0]!;
    for (const point of index) {
      if (point.timeMs > clamped) break;
      cluster = point;
    }
    byteOffset = cluster.byteOffset;
  } else {
    byteOffset = manifest.durationMs > 0 ? (clamped / manifest.durationMs) * manifest.sizeBytes : 0;
  }
  return Math.min(manifest.pieceCount - 1, Math.floor(byteOffset / manifest.pieceSizeBytes));
}

/** When piece `index` is first needed, in ms of playback. */
export function pieceStartTime(manifest: Manifest, index: number): number {
  return timeAtByte(manifest, index * manifest.pieceSizeBytes);
}
