// What the player needs from a media pipeline; MediaSourceSink is the browser's, tests use a fake.

export interface MediaSink {
  /** Prepares for a stream of this type (a new SourceBuffer). */
  open(mimeType: string): Promise<void>;
  /** Appends bytes; resolves once the pipeline has taken them (updateend). */
  append(bytes: Uint8Array): Promise<void>;
  /**
   * Where the next appended media lands on the timeline (gapless: the previous track's end); media past
   * `windowEndSec` is dropped (the encoder's padding after the track's real end).
   */
  setTimestampOffset(seconds: number, windowEndSec?: number): Promise<void>;
  /**
   * Moves the end of the append window alone (a growing track's final duration is known only at its end): unlike
   * the timestamp offset, it may change in the middle of a cluster.
   */
  setAppendWindowEnd?(windowEndSec: number): Promise<void>;
  /** Removes buffered media in [start, end) seconds (a prefetched track that is no longer next). */
  remove(startSec: number, endSec: number): Promise<void>;
  /** Drops a half-parsed append (before appending from a new position after a far seek). */
  abort(): Promise<void>;
  /** [start, end] seconds of buffered media. */
  buffered(): Array<[number, number]>;
  currentTime(): number;
  seek(seconds: number): void;
  play(): Promise<void>;
  pause(): void;
  isPaused(): boolean;
  setVolume(linear: number): void;
  /** No more data will come (the queue has ended). */
  end(): void;
}

/** MediaSource + SourceBuffer on an audio element. */
export class MediaSourceSink implements MediaSink {
  private mediaSource: MediaSource | undefined;
  private sourceBuffer: SourceBuffer | undefined;

  constructor(private readonly audio: HTMLAudioElement) {}

  async open(mimeType: string): Promise<void> {
    // The old SourceBuffer goes with its MediaSource: reading it once detached throws, so nothing may reach it.
    this.sourceBuffer = undefined;
    const mediaSource = new MediaSource();
    this.mediaSource = mediaSource;
    const opened = new Promise<void>((resolve) =>
      mediaSource.addEventListener("sourceopen", () => resolve(), { once: true }),
    );
    this.audio.src = URL.createObjectURL(mediaSource);
    await opened;
    this.sourceBuffer = mediaSource.addSourceBuffer(mimeType);
    this.sourceBuffer.mode = "segments";
  }

  /** The SourceBuffer while its MediaSource still holds it (a track change or an ended element detaches it). */
  private attachedBuffer(): SourceBuffer | undefined {
    const buffer = this.sourceBuffer;
    const mediaSource = this.mediaSource;
    if (!buffer || !mediaSource || mediaSource.readyState === "closed") return undefined;
    return Array.prototype.includes.call(mediaSource.sourceBuffers, buffer) ? buffer : undefined;
  }

  private async settle(): Promise<SourceBuffer> {
    const buffer = this.sourceBuffer;
    if (!buffer) throw new Error("the sink is not open");
    if (buffer.updating)
      await new Promise((resolve) => buffer.addEventListener("updateend", resolve, { once: true }));
    return buffer;
  }

  async append(bytes: Uint8Array): Promise<void> {
    const buffer = await this.settle();
    await new Promise<void>((resolve, reject) => {
      buffer.addEventListener("updateend", () => resolve(), { once: true });
      buffer.addEventListener("error", () => reject(new Error("the media could not be decoded")), {
        once: true,
      });
      buffer.appendBuffer(bytes as Uint8Array<ArrayBuffer>);
    });
  }

  async setTimestampOffset(seconds: number, windowEndSec = Number.POSITIVE_INFINITY): Promise<void> {
    const buffer = await this.settle();
    buffer.timestampOffset = seconds;
    // The window's start must stay below its end while both move: widen first, then narrow.
    buffer.appendWindowEnd = Number.POSITIVE_INFINITY;
    buffer.appendWindowStart = seconds;
    buffer.appendWindowEnd = windowEndSec;
    this.extendDuration(windowEndSec);
  }

  async setAppendWindowEnd(windowEndSec: number): Promise<void> {
    const buffer = await this.settle();
    if (windowEndSec <= buffer.appendWindowStart) return;
    buffer.appendWindowEnd = windowEndSec;
    this.extendDuration(windowEndSec);
  }

  /**
   * Renditions made through a pipe carry no duration, and with an infinite duration a MediaSource is seekable only
   * up to what is buffered: a seek past it would be clamped. The known end of the queued tracks makes the whole
   * track seekable, so the player can fetch from the target's piece.
   */
  private extendDuration(endSec: number): void {
    const mediaSource = this.mediaSource;
    if (!mediaSource || mediaSource.readyState !== "open" || !Number.isFinite(endSec)) return;
    const current = mediaSource.duration;
    if (Number.isFinite(current) && current >= endSec) return;
    try {
      mediaSource.duration = endSec;
    } catch {
      // Buffered media already reaches past endSec: the duration it implies is the right one.
    }
  }

  async remove(startSec: number, endSec: number): Promise<void> {
    const buffer = await this.settle();
    if (buffer !== this.attachedBuffer()) return;
    const ranges = buffer.buffered;
    const end = Math.min(endSec, ranges.length > 0 ? ranges.end(ranges.length - 1) : 0);
    if (!(end > startSec)) return;
    await new Promise<void>((resolve) => {
      buffer.addEventListener("updateend", () => resolve(), { once: true });
      buffer.remove(startSec, end);
    });
  }

  async abort(): Promise<void> {
    const buffer = this.sourceBuffer;
    if (buffer && this.mediaSource?.readyState === "open") buffer.abort();
    await Promise.resolve();
  }

  buffered(): Array<[number, number]> {
    const ranges = this.attachedBuffer()?.buffered;
    if (!ranges) return [];
    return Array.from(
      { length: ranges.length },
      (_, i) => [ranges.start(i), ranges.end(i)] as [number, number],
    );
  }

  currentTime(): number {
    return this.audio.currentTime;
  }

  seek(seconds: number): void {
    this.audio.currentTime = seconds;
  }

  play(): Promise<void> {
    return this.audio.play();
  }

  pause(): void {
    this.audio.pause();
  }

  isPaused(): boolean {
    return this.audio.paused;
  }

  setVolume(linear: number): void {
    this.audio.volume = Math.max(0, Math.min(1, linear));
  }

  end(): void {
    if (this.mediaSource?.readyState === "open" && !this.sourceBuffer?.updating)
      this.mediaSource.endOfStream();
  }
}
