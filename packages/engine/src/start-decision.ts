// When to start (or resume) playback: as soon as, at the measured throughput, the rest will arrive before it is needed.

export interface StartInput {
  /** Contiguous audio buffered ahead of the playhead. */
  bufferedAheadMs: number;
  /** Playback time still to come after the buffered part. */
  remainingMs: number;
  /** Bytes still to fetch for that remaining time. */
  remainingBytes: number;
  /** Measured download rate (bytes/s); 0 or unknown means no evidence yet. */
  throughputBytesPerSecond: number;
  /** Never start with less than this buffered (one piece's worth is the usual floor). */
  minimumBufferedMs: number;
  /** Throughput is discounted by this factor (0–1) to leave a margin for jitter. */
  safety: number;
}

/**
 * With throughput r (discounted) and a remaining download of B bytes for T ms of audio, playback that starts
 * now never stalls if the download finishes before the buffer runs dry: B / r ≤ buffered + T.
 */
export function shouldStart(input: StartInput): boolean {
  if (input.bufferedAheadMs < input.minimumBufferedMs) return false;
  if (input.remainingBytes <= 0) return true;
  const rate = input.throughputBytesPerSecond * input.safety;
  if (rate <= 0) return false;
  const downloadMs = (input.remainingBytes / rate) * 1000;
  return downloadMs <= input.bufferedAheadMs + input.remainingMs;
}
