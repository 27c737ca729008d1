// Decides which pieces to ask for next: from the playhead onwards, most urgent first, within a look-ahead window.
import { pieceAtTime, pieceStartTime, type Manifest } from "./timeline";

export interface PieceRequest {
  index: number;
  /** How long until playback needs this piece (negative: it is already late). */
  urgencyMs: number;
}

export interface ScheduleInput {
  manifest: Manifest;
  playheadMs: number;
  /** Pieces already verified and held. */
  have: ReadonlySet<number>;
  inFlight: ReadonlySet<number>;
  maxInFlight: number;
  /** How far past the playhead to fetch; Infinity fetches the whole track. */
  lookAheadMs: number;
}

export function schedulePieces(input: ScheduleInput): PieceRequest[] {
  const { manifest, playheadMs, have, inFlight } = input;
  const slots = input.maxInFlight - inFlight.size;
  if (slots <= 0 || manifest.pieceCount === 0) return [];
  const requests: PieceRequest[] = [];
  // The piece holding the playhead first, then onwards in order: for a linear read, order is urgency order.
  for (
    let index = pieceAtTime(manifest, playheadMs);
    index < manifest.pieceCount && requests.length < slots;
    index++
  ) {
    if (have.has(index) || inFlight.has(index)) continue;
    const urgencyMs = pieceStartTime(manifest, index) - playheadMs;
    if (urgencyMs > input.lookAheadMs) break;
    requests.push({ index, urgencyMs });
  }
  return requests;
}
