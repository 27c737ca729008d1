// A rendition while ffmpeg writes it: its bytes in one growing buffer, each piece hashed the moment the output passes
// its end (a hash never changes once announced), clusters found as they arrive, and the manifest of what exists so far.
import { createHash } from "node:crypto";
import type { StreamManifest } from "@soundmesh/protocol";
import { CLUSTER_HEADER_BYTES, scanClusters, type ClusterPoint } from "./webm-clusters";

/** What a rendition's manifest says whatever its progress. */
export interface RenditionDescription {
  trackId: string;
  profile: string;
  mimeType: string;
  codec: string;
  /** The profile's bitrate: the figure a growing manifest gives (the real one is known at the end). */
  bitrateKbps: number;
  /** The catalog's duration of the whole track (0 when unknown), until ffmpeg's own figure is known. */
  catalogDurationMs: number;
  pieceSizeBytes: number;
  /** An offset rendition's start (track time, ms): its durations are still the whole track's. */
  fromMs?: number | undefined;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

export class GrowingRendition {
  private buffer: Buffer;
  private length = 0;
  private scannedTo = 0;
  private finished = false;
  /** ffmpeg's own duration, known at the end. */
  private finalDurationMs: number | undefined;
  private readonly hashes: string[] = [];
  private readonly clusters: ClusterPoint[] = [];
  /** The last manifest built, reused until a piece is added (many listeners poll one rendition). */
  private memo: StreamManifest | undefined;

  constructor(
    readonly description: RenditionDescription,
    /** Room to reserve at first (the expected size), so the buffer is rarely copied as it grows. */
    expectedBytes = 0,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(64 * 1024, Math.ceil(expectedBytes)));
  }

  /** Bytes ffmpeg has written so far. */
  get bytesWritten(): number {
    return this.length;
  }

  /** Pieces finished: every one whose end the output has passed (and the last one, once finished). */
  get pieceCount(): number {
    return this.hashes.length;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** Takes ffmpeg's next output; returns true when it finished at least one piece. */
  append(chunk: Uint8Array): boolean {
    if (this.finished) throw new Error("the rendition is finished");
    if (this.length + chunk.byteLength > this.buffer.byteLength) {
      // Earlier views stay valid: bytes already written never change, they are only copied to a larger buffer.
      const larger = Buffer.allocUnsafe(Math.max(this.buffer.byteLength * 2, this.length + chunk.byteLength));
      this.buffer.copy(larger, 0, 0, this.length);
      this.buffer = larger;
    }
    this.buffer.set(chunk, this.length);
    this.length += chunk.byteLength;
    this.scan(this.length - CLUSTER_HEADER_BYTES);
    return this.hashUpTo(Math.floor(this.length / this.description.pieceSizeBytes));
  }

  /**
   * ffmpeg ended well: the last, shorter piece is finished, the rest scanned, and the duration is its own (what it
   * wrote: after the start of an offset rendition).
   */
  finish(durationMs?: number): void {
    if (this.finished) return;
    this.finished = true;
    this.finalDurationMs = durationMs === undefined ? undefined : (this.description.fromMs ?? 0) + durationMs;
    this.scan(this.length);
    this.hashUpTo(Math.ceil(this.length / this.description.pieceSizeBytes));
  }

  /** Bytes [start, endExclusive) as written; a view, valid for good since written bytes never change. */
  view(start: number, endExclusive: number): Buffer {
    return this.buffer.subarray(start, Math.min(endExclusive, this.length));
  }

  /** Every byte written (a view). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  /**
   * What exists so far: the finished pieces with their hashes, the bytes they hold, and the clusters within them.
   * Once finished, `durationMs` is ffmpeg's figure and the bitrate the real one.
   */
  manifest(): StreamManifest {
    if (this.memo && this.memo.pieceCount === this.hashes.length && this.memo.complete === this.finished)
      return this.memo;
    const { description } = this;
    const sizeBytes = Math.min(this.length, this.hashes.length * description.pieceSizeBytes);
    const durationMs = this.finished
      ? (this.finalDurationMs ?? description.catalogDurationMs)
      : description.catalogDurationMs;
    const mediaMs = durationMs - (description.fromMs ?? 0);
    this.memo = {
      trackId: description.trackId,
      profile: description.profile,
      mimeType: description.mimeType,
      codec: description.codec,
      bitrateKbps:
        this.finished && mediaMs > 0 ? Math.round((sizeBytes * 8) / mediaMs) : description.bitrateKbps,
      durationMs,
      sizeBytes,
      pieceSizeBytes: description.pieceSizeBytes,
      pieceCount: this.hashes.length,
      pieceHashes: [...this.hashes],
      seekIndex: this.clusters.filter((point) => point.byteOffset < sizeBytes),
      complete: this.finished,
      ...(description.fromMs === undefined ? {} : { fromMs: description.fromMs }),
    };
    return this.memo;
  }

  private scan(to: number): void {
    if (to <= this.scannedTo) return;
    scanClusters(this.bytes(), this.scannedTo, to, this.clusters);
    this.scannedTo = to;
  }

  private hashUpTo(pieces: number): boolean {
    const size = this.description.pieceSizeBytes;
    const before = this.hashes.length;
    for (let index = before; index < pieces; index++)
      this.hashes.push(sha256(this.view(index * size, (index + 1) * size)));
    return this.hashes.length > before;
  }
}
