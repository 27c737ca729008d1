// A MediaSink without sound for the headless peer: a clock that plays appended audio at real time (or faster
// for tests), stalls when it runs out of bytes, and counts each stall as a stutter.
import { timeAtByte, type Manifest, type MediaSink } from "@soundmesh/engine";

interface SinkSegment {
  offsetSec: number;
  manifest: Manifest;
  bytes: number;
}

export class HeadlessSink implements MediaSink {
  private readonly segments: SinkSegment[] = [];
  private positionSec = 0;
  private lastMs = 0;
  private playing = false;
  private stalled = false;
  private ended = false;
  stutters = 0;
  private finish: (() => void) | undefined;
  /** Resolves when the whole queue has been played. */
  readonly finished: Promise<void>;

  /**
   * @param manifests the tracks' manifests in the order the player loads them (the sink cannot parse WebM,
   *   so it maps appended bytes to time through each manifest's cluster index)
   */
  constructor(
    private readonly manifests: Manifest[],
    private readonly speed = 1,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.finished = new Promise((resolve) => (this.finish = resolve));
  }

  open(): Promise<void> {
    return Promise.resolve();
  }

  setTimestampOffset(seconds: number): Promise<void> {
    this.advance();
    const manifest = this.manifests[this.segments.length];
    if (manifest) this.segments.push({ offsetSec: seconds, manifest, bytes: 0 });
    return Promise.resolve();
  }

  append(bytes: Uint8Array): Promise<void> {
    this.advance();
    const segment = this.segments.at(-1);
    if (segment) segment.bytes += bytes.byteLength;
    this.advance();
    return Promise.resolve();
  }

  abort(): Promise<void> {
    return Promise.resolve();
  }

  /** Drops tracks placed from `startSec` on (a prefetched track that is no longer next). */
  remove(startSec: number): Promise<void> {
    this.advance();
    while ((this.segments.at(-1)?.offsetSec ?? -1) >= startSec && this.segments.length > 0)
      this.segments.pop();
    return Promise.resolve();
  }

  buffered(): Array<[number, number]> {
    this.advance();
    const first = this.segments[0];
    return first ? [[first.offsetSec, this.bufferedEndSec()]] : [];
  }

  currentTime(): number {
    this.advance();
    return this.positionSec;
  }

  seek(seconds: number): void {
    this.advance();
    this.positionSec = seconds;
  }

  play(): Promise<void> {
    this.advance();
    this.playing = true;
    this.lastMs = this.nowMs();
    return Promise.resolve();
  }

  pause(): void {
    this.advance();
    this.playing = false;
  }

  isPaused(): boolean {
    return !this.playing;
  }

  setVolume(): void {}

  end(): void {
    this.ended = true;
    this.advance();
  }

  /** Playing, but waiting for bytes (a stutter in progress). */
  get isStalled(): boolean {
    this.advance();
    return this.playing && this.stalled;
  }

  /** Audio buffered ahead of the playhead; Infinity once everything is buffered (nothing more to fetch). */
  bufferedAheadMs(): number {
    this.advance();
    if (this.segments.length === 0) return 0;
    if (this.ended || this.isAllBuffered()) return Infinity;
    return (this.bufferedEndSec() - this.positionSec) * 1000;
  }

  private isAllBuffered(): boolean {
    return (
      this.segments.length === this.manifests.length &&
      this.segments.every((s) => s.bytes >= s.manifest.sizeBytes)
    );
  }

  /** End of the contiguous buffered audio: segments follow each other gaplessly. */
  private bufferedEndSec(): number {
    let end = this.segments[0]?.offsetSec ?? 0;
    for (const segment of this.segments) {
      const complete = segment.bytes >= segment.manifest.sizeBytes;
      const seconds = complete
        ? segment.manifest.durationMs / 1000
        : timeAtByte(segment.manifest, segment.bytes) / 1000;
      end = segment.offsetSec + seconds;
      if (!complete) break;
    }
    return end;
  }

  private totalSec(): number {
    const last = this.segments.at(-1);
    return last ? last.offsetSec + last.manifest.durationMs / 1000 : 0;
  }

  /** Moves the clock on; a playhead that catches up with the buffered end before the end of the queue stalls. */
  private advance(): void {
    const now = this.nowMs();
    const elapsedSec = this.playing ? ((now - this.lastMs) / 1000) * this.speed : 0;
    this.lastMs = now;
    if (!this.playing) return;
    const endSec = this.bufferedEndSec();
    const done = this.isAllBuffered() || this.ended;
    if (this.stalled) {
      if (endSec > this.positionSec + 0.2 || done) this.stalled = false;
      else return;
    }
    this.positionSec = Math.min(this.positionSec + elapsedSec, endSec);
    if (done && this.positionSec >= this.totalSec() - 0.001) {
      this.playing = false;
      this.finish?.();
      return;
    }
    if (!done && this.positionSec >= endSec) {
      this.stalled = true;
      this.stutters += 1;
    }
  }
}
