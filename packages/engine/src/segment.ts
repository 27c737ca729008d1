// One queued track inside the player: where it sits on the sink's timeline, its fetched pieces, and how far its
// bytes are appended; appends go strictly in byte order, inside the track's append window.
import type { MediaSink } from "./media-sink";
import type { PieceFetcher } from "./piece-fetcher";
import type { TrackRef } from "./sources";

export interface QueueItem {
  trackId: string;
  replayGain?: { trackGainDb: number | null; albumGainDb: number | null };
}

export interface Segment {
  item: QueueItem;
  track: TrackRef;
  /** Where this track starts on the sink's timeline (seconds). */
  offsetSec: number;
  /** Next byte of the rendition to append. */
  cursor: number;
  fetched: Map<number, Uint8Array>;
  inFlight: Set<number>;
  controller: AbortController;
  isOffsetApplied: boolean;
  /** The pipeline refused its bytes: the track is skipped. */
  hasFailed: boolean;
  /** Stops following a growing manifest (the segment left the queue). */
  growth: AbortController;
  /** How fast the server announces bytes while the rendition grows (undefined until measured). */
  growthBytesPerSecond?: number | undefined;
}

/**
 * The segment whose timestamp offset and append window the sink holds now. They belong to the sink's one buffer, not
 * to a segment: when another segment appended since (a seek back into the current track while the next one was
 * still arriving), this segment's must be set again before its next bytes, or they land at the other's place.
 */
const offsetOwners = new WeakMap<MediaSink, Segment>();

/** Called when the media pipeline refuses a segment's bytes (an undecodable track). */
export type AppendFailure = (segment: Segment, error: Error) => void;

/** Appends every contiguous fetched byte from the cursor on. */
export async function appendReady(
  sink: MediaSink,
  segment: Segment,
  onFailure: AppendFailure,
): Promise<void> {
  const { manifest } = segment.track;
  for (;;) {
    if (segment.cursor >= manifest.sizeBytes) return;
    const index = Math.floor(segment.cursor / manifest.pieceSizeBytes);
    const piece = segment.fetched.get(index);
    if (!piece) return;
    const start = segment.cursor - index * manifest.pieceSizeBytes;
    await appendBytes(sink, segment, piece.subarray(start), onFailure);
    if (segment.hasFailed) return;
    segment.cursor = index * manifest.pieceSizeBytes + piece.byteLength;
  }
}

/** Appends bytes [from, to) of the rendition, fetching pieces not held yet (the init segment before a far seek). */
export async function appendRange(
  sink: MediaSink,
  fetcher: Pick<PieceFetcher, "fetch">,
  segment: Segment,
  range: { from: number; to: number },
  onFailure: AppendFailure,
): Promise<void> {
  const { manifest } = segment.track;
  for (let offset = range.from; offset < range.to;) {
    const index = Math.floor(offset / manifest.pieceSizeBytes);
    const piece =
      segment.fetched.get(index) ?? (await fetcher.fetch(segment.track, index, 0, segment.controller.signal));
    segment.fetched.set(index, piece);
    const start = offset - index * manifest.pieceSizeBytes;
    const end = Math.min(piece.byteLength, range.to - index * manifest.pieceSizeBytes);
    await appendBytes(sink, segment, piece.subarray(start, end), onFailure);
    if (segment.hasFailed) return;
    offset = index * manifest.pieceSizeBytes + end;
  }
}

async function appendBytes(
  sink: MediaSink,
  segment: Segment,
  bytes: Uint8Array,
  onFailure: AppendFailure,
): Promise<void> {
  try {
    if (!segment.isOffsetApplied || offsetOwners.get(sink) !== segment) {
      // The append window ends at the track's duration: the encoder's trailing padding is cut, so the next
      // track, appended at exactly that time, follows with no gap and no overlap.
      const { durationMs } = segment.track.manifest;
      const windowEndSec = durationMs > 0 ? segment.offsetSec + durationMs / 1000 : Number.POSITIVE_INFINITY;
      await sink.setTimestampOffset(segment.offsetSec, windowEndSec);
      offsetOwners.set(sink, segment);
      segment.isOffsetApplied = true;
    }
    await sink.append(bytes);
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    segment.controller.abort(failure);
    segment.cursor = segment.track.manifest.sizeBytes;
    segment.hasFailed = true;
    onFailure(segment, failure);
  }
}
