// Finds WebM clusters (start time and byte offset) in a rendition, so a player can seek to the right piece.

const CLUSTER_ID = [0x1f, 0x43, 0xb6, 0x75];
const TIMECODE_ID = 0xe7;

/** Length of an EBML variable-size integer from its first byte (1–8), or 0 when invalid. */
function vintLength(first: number): number {
  for (let length = 1; length <= 8; length++) if (first & (0x80 >> (length - 1))) return length;
  return 0;
}

function readUnsigned(bytes: Uint8Array, offset: number, length: number): number {
  let value = 0;
  for (let i = 0; i < length; i++) value = value * 256 + bytes[offset + i]!;
  return value;
}

export interface ClusterPoint {
  timeMs: number;
  byteOffset: number;
}

/** Bytes after a cluster's first byte that finding it may read: ID, size, Timecode ID, its size and value. */
export const CLUSTER_HEADER_BYTES = 4 + 8 + 1 + 1 + 8;

/**
 * Scans for Cluster elements whose first child is a Timecode: a false match inside audio data would also need
 * a valid size and a Timecode element right after it, and times must rise, so stray matches are dropped.
 * ffmpeg's WebM muxer uses a 1 ms timecode scale, so timecodes are milliseconds.
 */
export function findClusters(bytes: Uint8Array): ClusterPoint[] {
  return scanClusters(bytes, 0, bytes.length, []);
}

/**
 * Scans positions [from, to) of `bytes`, adding what it finds to `points` (which holds what was found before
 * `from`). A rendition still being written is scanned in steps, each up to CLUSTER_HEADER_BYTES before its end:
 * every position is then judged on the same bytes as a scan of the finished rendition would, so the steps
 * together find exactly what one scan of the whole finds.
 */
export function scanClusters(
  bytes: Uint8Array,
  from: number,
  to: number,
  points: ClusterPoint[],
): ClusterPoint[] {
  for (let i = from; i < to && i + 8 < bytes.length; i++) {
    if (
      bytes[i] !== CLUSTER_ID[0] ||
      bytes[i + 1] !== CLUSTER_ID[1] ||
      bytes[i + 2] !== CLUSTER_ID[2] ||
      bytes[i + 3] !== CLUSTER_ID[3]
    )
      continue;
    const sizeLength = vintLength(bytes[i + 4]!);
    if (sizeLength === 0) continue;
    const child = i + 4 + sizeLength;
    if (bytes[child] !== TIMECODE_ID) continue;
    const valueLength = vintLength(bytes[child + 1]!);
    if (valueLength !== 1) continue;
    const length = bytes[child + 1]! & 0x7f;
    if (length < 1 || length > 8 || child + 2 + length > bytes.length) continue;
    const timeMs = readUnsigned(bytes, child + 2, length);
    const previous = points[points.length - 1];
    if (previous && timeMs <= previous.timeMs) continue;
    points.push({ timeMs, byteOffset: i });
  }
  return points;
}
