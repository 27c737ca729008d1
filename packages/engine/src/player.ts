// Plays a queue through a MediaSink: fetches by urgency, appends in byte order, starts when it will not stutter,
// prefetches and appends the next track gaplessly, seeks through the cluster index, applies ReplayGain. A track the
// server is still transcoding starts on its first pieces: its manifest is followed (long-poll) as it grows. A seek
// far past what that transcode has reached plays from an offset rendition (the track from there on) instead.
import type { ByteAccounting } from "./byte-accounting";
import type { PieceFetcher } from "./piece-fetcher";
import { schedulePieces } from "./piece-scheduler";
import { SourceError, isComplete, type ManifestSource } from "./sources";
import { shouldStart } from "./start-decision";
import { pieceStartTime, type Manifest } from "./timeline";
import type { MediaSink } from "./media-sink";
import { appendRange, appendReady, type QueueItem, type Segment } from "./segment";

export type { QueueItem } from "./segment";

export type PlayerEvent =
  | { type: "track"; index: number; trackId: string }
  | { type: "started"; trackId: string; latencyMs: number }
  /** The track cannot be played (undecodable, or its manifest is refused): it is skipped. `reason` is the server's. */
  | { type: "error"; trackId: string; message: string; reason?: string }
  /** A fetch failed after its retries; the player keeps asking on every tick. */
  | { type: "network"; trackId: string; message: string }
  /** Bytes arrive again after a network failure. */
  | { type: "recovered" }
  | { type: "ended" };

export type ReplayGainMode = "track" | "album" | "off";

export interface PlayerOptions {
  sink: MediaSink;
  /** Manifests; with `grow`, a track the server is still transcoding starts on its first pieces. */
  server: ManifestSource;
  fetcher: PieceFetcher;
  accounting: ByteAccounting;
  profile?: string;
  maxInFlight?: number;
  lookAheadMs?: number;
  /** Start fetching the next track when this much of the current one is left. */
  prefetchNextMs?: number;
  minimumBufferedMs?: number;
  /**
   * A seek whose target the transcode would take longer than this to reach (estimated from how fast its manifest
   * grows) is played from an offset rendition made from the target on.
   */
  offsetAfterMs?: number;
  replayGain?: ReplayGainMode;
  nowMs?: () => number;
  onEvent?: (event: PlayerEvent) => void;
}

/** A gain in decibels as the amplitude factor it multiplies by. */
const decibelsToGain = (decibels: number) => 10 ** (decibels / 20);

/** How long a growing manifest is followed before its growth is taken as the transcode's speed. */
const GROWTH_SPAN_MS = 250;

export class Player {
  private queue: QueueItem[] = [];
  private segments: Segment[] = [];
  private current = 0;
  private hasStarted = false;
  private clickedAtMs = 0;
  private volume = 1;
  private appending: Promise<void> = Promise.resolve();
  private readonly nowMs: () => number;
  private replayGain: ReplayGainMode;
  private isNetworkFailing = false;
  /**
   * Loads under way, by queue item: ticks come every 200 ms and after each piece, and a manifest may take longer
   * than that (a transcode starting); without this, each tick would load the next track again, appending it twice.
   */
  private readonly loading = new Map<QueueItem, Promise<Segment | undefined>>();

  constructor(private readonly options: PlayerOptions) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.replayGain = options.replayGain ?? "track";
  }

  get currentIndex(): number {
    return this.current;
  }

  /** Where the current track starts on the sink's timeline (seconds): its position is currentTime minus this. */
  get currentStartSec(): number {
    return this.currentSegment()?.offsetSec ?? 0;
  }

  /** False when the current track could not even be loaded (its manifest was refused): the caller moves on. */
  get hasCurrentTrack(): boolean {
    return this.currentSegment() !== undefined;
  }

  private currentSegment(): Segment | undefined {
    return this.segments.find((s) => this.queue.indexOf(s.item) === this.current);
  }

  /**
   * Replaces the queue around the playing track without interrupting it: `queue[index]` is the same track. A
   * prefetched next track is kept when it is still next; otherwise it is dropped and its media removed.
   */
  async setQueue(queue: QueueItem[], index: number): Promise<void> {
    const current = this.currentSegment();
    const next = current && this.segments.find((s) => this.queue.indexOf(s.item) === this.current + 1);
    this.queue = queue;
    this.current = index;
    const kept: Segment[] = [];
    if (current && queue[index]?.trackId === current.item.trackId) {
      current.item = queue[index];
      kept.push(current);
    }
    const newNext = queue[index + 1];
    if (next && current && kept.includes(current) && newNext?.trackId === next.item.trackId) {
      next.item = newNext;
      kept.push(next);
    }
    const dropped = this.segments.filter((s) => !kept.includes(s));
    this.segments = kept;
    this.applyGain();
    for (const segment of dropped) dispose(segment, "queue changed");
    const removeFrom = dropped
      .filter((s) => s.isOffsetApplied && (!current || s.offsetSec > current.offsetSec))
      .reduce((min, s) => Math.min(min, s.offsetSec), Number.POSITIVE_INFINITY);
    if (Number.isFinite(removeFrom)) {
      this.appending = this.appending.then(() =>
        this.options.sink.remove(removeFrom, Number.POSITIVE_INFINITY),
      );
      await this.appending;
    }
  }

  setReplayGain(mode: ReplayGainMode): void {
    this.replayGain = mode;
    this.applyGain();
  }

  /** Replaces the queue and starts at `index`; the clock for click-to-sound starts now. */
  async play(queue: QueueItem[], index = 0): Promise<void> {
    for (const segment of this.segments) dispose(segment, "track changed");
    this.queue = queue;
    this.segments = [];
    this.current = index;
    this.hasStarted = false;
    this.clickedAtMs = this.nowMs();
    const first = await this.load(index, 0);
    if (!first) return;
    await this.options.sink.open(first.track.manifest.mimeType);
    this.applyGain();
    await this.tick();
  }

  setVolume(linear: number): void {
    this.volume = Math.max(0, Math.min(1, linear));
    this.applyGain();
  }

  /** One step of the engine: call on a timer (every 100–250 ms) and after each piece; returns when its appends are queued. */
  async tick(): Promise<void> {
    let segment = this.currentSegment();
    if (segment?.hasFailed) segment = await this.skip(segment);
    if (!segment) return;
    this.advanceIfPast();
    const playheadMs = Math.max(0, (this.options.sink.currentTime() - segment.offsetSec) * 1000);
    this.scheduleFetches(segment, playheadMs);
    const manifest = segment.track.manifest;
    // A growing track is not over when its announced bytes are appended: more are coming.
    if (isComplete(manifest) && segment.cursor >= manifest.sizeBytes)
      await this.prefetchNext(segment, playheadMs);
    await this.appending;
    this.maybeStart(segment);
  }

  /**
   * Seeks within the current track; outside what is buffered, appends from the cluster holding the target. A target
   * the transcode has not reached (and would not soon) is played from an offset rendition starting at the target's
   * second; a seek back before an offset rendition's start returns to the rendition itself.
   */
  async seek(trackTimeMs: number): Promise<void> {
    let segment = this.currentSegment();
    if (!segment) return;
    const targetSec = segment.offsetSec + trackTimeMs / 1000;
    const buffered = this.options.sink
      .buffered()
      .some(([start, end]) => targetSec >= start && targetSec < end);
    if (!buffered) {
      const { fromMs } = segment.track.manifest;
      if (fromMs !== undefined && trackTimeMs < fromMs) segment = await this.replaceRendition(segment);
      if (segment && this.isFarAhead(segment, trackTimeMs))
        segment = await this.replaceRendition(segment, Math.floor(trackTimeMs / 1000) * 1000);
      if (!segment) return;
      const index = segment.track.manifest.seekIndex ?? [];
      let cluster = index[0];
      for (const point of index) if (point.timeMs <= trackTimeMs) cluster = point;
      segment.controller.abort(new Error("seek"));
      segment.controller = new AbortController();
      segment.inFlight.clear();
      await this.appending;
      await this.options.sink.abort();
      // abort() resets the append window: it is set again with the timestamp offset.
      segment.isOffsetApplied = false;
      if (cluster) {
        // The init segment (EBML header and tracks) precedes the first cluster; media continues from the target's cluster.
        await appendRange(
          this.options.sink,
          this.options.fetcher,
          segment,
          { from: 0, to: index[0]!.byteOffset },
          this.onAppendFailure,
        );
        segment.cursor = cluster.byteOffset;
        // Pieces fetched before (a region the buffer let go of) start no fetch whose arrival would append them.
        const seeked = segment;
        this.appending = this.appending.then(() =>
          appendReady(this.options.sink, seeked, this.onAppendFailure),
        );
      }
    }
    this.options.sink.seek(targetSec);
    await this.tick();
  }

  /** Whether the transcode making the segment's rendition would take longer than `offsetAfterMs` to reach `targetMs`. */
  private isFarAhead(segment: Segment, targetMs: number): boolean {
    const { manifest } = segment.track;
    if (isComplete(manifest)) return false;
    const index = manifest.seekIndex ?? [];
    const reachedMs = index[index.length - 1]?.timeMs ?? manifest.fromMs ?? 0;
    if (targetMs <= reachedMs) return false;
    // Media made per second: bytes announced per second over bytes per second of media; before it is measured, a
    // listener's transcode is taken to run at 20 times real time.
    const mediaBytesPerSecond = (manifest.bitrateKbps * 1000) / 8;
    const speed =
      segment.growthBytesPerSecond !== undefined && mediaBytesPerSecond > 0
        ? segment.growthBytesPerSecond / mediaBytesPerSecond
        : 20;
    return (targetMs - reachedMs) / Math.max(speed, 0.01) > (this.options.offsetAfterMs ?? 300);
  }

  /**
   * Puts another rendition of the segment's track in its place on the timeline: the offset rendition from `fromMs`
   * on, or without it the rendition itself. Undefined when the track changed meanwhile; the segment as it was when
   * the other rendition cannot be had (the seek then waits for the transcode, as before).
   */
  private async replaceRendition(old: Segment, fromMs?: number): Promise<Segment | undefined> {
    let manifest: Manifest;
    try {
      manifest = await this.options.server.manifest(old.item.trackId, old.track.profile, undefined, {
        growing: this.options.server.grow !== undefined,
        ...(fromMs === undefined ? {} : { fromMs }),
      });
    } catch (error) {
      this.options.onEvent?.({
        type: "network",
        trackId: old.item.trackId,
        message: (error as Error).message,
      });
      return this.currentSegment() === old ? old : undefined;
    }
    const segment = newSegment(
      old.item,
      { trackId: old.item.trackId, profile: old.track.profile, manifest },
      old.offsetSec,
    );
    const at = this.segments.indexOf(old);
    if (at < 0 || this.currentSegment() !== old) {
      dispose(segment, "track changed");
      return undefined;
    }
    dispose(old, "seek to another rendition");
    this.segments[at] = segment;
    if (!isComplete(manifest)) void this.follow(segment);
    return segment;
  }

  /** Loads the track at `index` once: a caller arriving while it loads shares that load. */
  private load(index: number, offsetSec: number): Promise<Segment | undefined> {
    const item = this.queue[index];
    if (!item) return Promise.resolve(undefined);
    const pending = this.loading.get(item);
    if (pending) return pending;
    const loaded = this.loadItem(item, offsetSec).finally(() => this.loading.delete(item));
    this.loading.set(item, loaded);
    return loaded;
  }

  private async loadItem(item: QueueItem, offsetSec: number): Promise<Segment | undefined> {
    const profile = this.options.profile ?? "opus96";
    try {
      const manifest: Manifest = await this.options.server.manifest(item.trackId, profile, undefined, {
        growing: this.options.server.grow !== undefined,
      });
      const segment = newSegment(item, { trackId: item.trackId, profile, manifest }, offsetSec);
      // The queue moved on while the manifest came (play, setQueue): the track is no longer wanted.
      if (!this.queue.includes(item)) {
        dispose(segment, "no longer queued");
        return undefined;
      }
      this.segments.push(segment);
      if (!isComplete(manifest)) void this.follow(segment);
      return segment;
    } catch (error) {
      // No answer at all, or a server error, is the network's fault; a refusal (404, 403) is the track's.
      const status = error instanceof SourceError ? error.status : undefined;
      const message = (error as Error).message;
      if (status !== undefined && status < 500) {
        const reason = (error as SourceError).reason;
        this.options.onEvent?.({
          type: "error",
          trackId: item.trackId,
          message,
          ...(reason ? { reason } : {}),
        });
      } else this.options.onEvent?.({ type: "network", trackId: item.trackId, message });
      return undefined;
    }
  }

  /**
   * Follows a growing manifest until it is complete: each answer adds pieces (with hashes) to fetch and append.
   * Its final duration (ffmpeg's) replaces the catalog's at the end, and with it the end of the append window.
   */
  private async follow(segment: Segment): Promise<void> {
    const { server } = this.options;
    const signal = segment.growth.signal;
    const from = { atMs: this.nowMs(), bytes: segment.track.manifest.sizeBytes };
    let failures = 0;
    while (server.grow && !isComplete(segment.track.manifest) && !signal.aborted) {
      const before = segment.track.manifest;
      try {
        const next = await server.grow(before, signal);
        if (signal.aborted) return;
        failures = 0;
        // Over the whole time followed, not between two answers: pieces finished together are answered back to
        // back, a few ms apart, which read as thousands of times real time (a seek then waited for the transcode).
        const elapsedMs = this.nowMs() - from.atMs;
        if (next.sizeBytes > from.bytes && elapsedMs >= GROWTH_SPAN_MS)
          segment.growthBytesPerSecond = ((next.sizeBytes - from.bytes) * 1000) / elapsedMs;
        segment.track.manifest = next;
        if (segment.isOffsetApplied && next.durationMs !== before.durationMs && next.durationMs > 0) {
          const end = segment.offsetSec + next.durationMs / 1000;
          this.appending = this.appending.then(() => this.options.sink.setAppendWindowEnd?.(end));
        }
        if (next.pieceCount > before.pieceCount || isComplete(next)) await this.tick();
      } catch (error) {
        if (signal.aborted) return;
        const status = error instanceof SourceError ? error.status : undefined;
        if (status !== undefined && status < 500) {
          // Refused, or the rendition changed under us: the track cannot be played as announced.
          segment.hasFailed = true;
          this.options.onEvent?.({
            type: "error",
            trackId: segment.item.trackId,
            message: (error as Error).message,
          });
          await this.tick();
          return;
        }
        this.options.onEvent?.({
          type: "network",
          trackId: segment.item.trackId,
          message: (error as Error).message,
        });
        failures += 1;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(4_000, 250 * 2 ** failures));
          signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
        });
      }
    }
  }

  /** Starts fetches for the pieces due next (by urgency), within the look-ahead and the in-flight bound. */
  private scheduleFetches(segment: Segment, playheadMs: number): void {
    const { manifest } = segment.track;
    const have = new Set<number>(segment.fetched.keys());
    for (let index = 0; index * manifest.pieceSizeBytes + manifest.pieceSizeBytes <= segment.cursor; index++)
      have.add(index);
    const requests = schedulePieces({
      manifest,
      playheadMs,
      have,
      inFlight: segment.inFlight,
      maxInFlight: this.options.maxInFlight ?? 4,
      lookAheadMs: this.options.lookAheadMs ?? 60_000,
    });
    // The piece at the append cursor is needed before anything else, whatever the playhead says.
    const cursorPiece = Math.floor(segment.cursor / manifest.pieceSizeBytes);
    if (
      cursorPiece < manifest.pieceCount &&
      !have.has(cursorPiece) &&
      !segment.inFlight.has(cursorPiece) &&
      !requests.some((r) => r.index === cursorPiece)
    ) {
      requests.unshift({ index: cursorPiece, urgencyMs: pieceStartTime(manifest, cursorPiece) - playheadMs });
    }
    for (const { index, urgencyMs } of requests) {
      segment.inFlight.add(index);
      const signal = segment.controller.signal;
      this.options.fetcher
        .fetch(segment.track, index, urgencyMs, signal)
        .then((bytes) => {
          if (signal.aborted) return;
          if (this.isNetworkFailing) {
            this.isNetworkFailing = false;
            this.options.onEvent?.({ type: "recovered" });
          }
          segment.fetched.set(index, bytes);
          // Start as soon as the appended bytes satisfy the start rule, not at the next timer tick.
          this.appending = this.appending
            .then(() => appendReady(this.options.sink, segment, this.onAppendFailure))
            .then(() => {
              if (this.currentSegment() === segment) this.maybeStart(segment);
            });
        })
        .catch((error: unknown) => {
          if (signal.aborted) return;
          this.isNetworkFailing = true;
          this.options.onEvent?.({
            type: "network",
            trackId: segment.item.trackId,
            message: (error as Error).message,
          });
        })
        .finally(() => segment.inFlight.delete(index));
    }
  }

  /** An undecodable track: say so; it is replaced by the next one at the next tick. */
  private readonly onAppendFailure = (segment: Segment, error: Error): void => {
    this.options.onEvent?.({ type: "error", trackId: segment.item.trackId, message: error.message });
  };

  /** Replaces an undecodable track by the next one, in the same place on the timeline. */
  private async skip(failed: Segment): Promise<Segment | undefined> {
    this.segments = this.segments.filter((s) => s !== failed);
    failed.growth.abort(new Error("skipped"));
    const nextIndex = this.queue.indexOf(failed.item) + 1;
    if (nextIndex >= this.queue.length) {
      this.options.sink.end();
      this.options.onEvent?.({ type: "ended" });
      return undefined;
    }
    this.current = nextIndex;
    const next =
      this.segments.find((s) => this.queue.indexOf(s.item) === nextIndex) ??
      (await this.load(nextIndex, failed.offsetSec));
    if (next) {
      next.offsetSec = failed.offsetSec;
      next.isOffsetApplied = false;
      this.applyGain();
      this.options.onEvent?.({ type: "track", index: nextIndex, trackId: next.item.trackId });
    }
    return next;
  }

  private async prefetchNext(segment: Segment, playheadMs: number): Promise<void> {
    const nextIndex = this.queue.indexOf(segment.item) + 1;
    if (nextIndex >= this.queue.length) {
      this.options.sink.end();
      return;
    }
    if (this.segments.some((s) => this.queue.indexOf(s.item) === nextIndex)) {
      const next = this.segments.find((s) => this.queue.indexOf(s.item) === nextIndex)!;
      this.scheduleFetches(next, 0);
      return;
    }
    const leftMs = segment.track.manifest.durationMs - playheadMs;
    if (leftMs > (this.options.prefetchNextMs ?? 20_000)) return;
    const next = await this.load(nextIndex, segment.offsetSec + segment.track.manifest.durationMs / 1000);
    if (next) this.scheduleFetches(next, 0);
  }

  private maybeStart(segment: Segment): void {
    if (this.hasStarted) return;
    const { manifest } = segment.track;
    const now = this.options.sink.currentTime();
    const range = this.options.sink.buffered().find(([start, end]) => now >= start - 0.05 && now < end);
    const bufferedAheadMs = range ? (range[1] - now) * 1000 : 0;
    // While the rendition grows, its size is estimated from the catalog's duration and the profile's bitrate, and
    // bytes come no faster than the server announces them (once that rate is measured).
    const complete = isComplete(manifest);
    const totalBytes = complete
      ? manifest.sizeBytes
      : Math.max(manifest.sizeBytes, (manifest.bitrateKbps * manifest.durationMs) / 8);
    const fetchRate = this.options.fetcher.overall.bytesPerSecond;
    const decided = shouldStart({
      bufferedAheadMs,
      remainingMs: Math.max(0, manifest.durationMs - bufferedAheadMs),
      remainingBytes: Math.max(0, totalBytes - segment.cursor),
      throughputBytesPerSecond:
        complete || segment.growthBytesPerSecond === undefined
          ? fetchRate
          : Math.min(fetchRate, segment.growthBytesPerSecond),
      minimumBufferedMs: Math.min(this.options.minimumBufferedMs ?? 300, manifest.durationMs),
      safety: 0.8,
    });
    if (!decided) return;
    this.hasStarted = true;
    void this.options.sink.play().then(() => {
      const latencyMs = this.nowMs() - this.clickedAtMs;
      this.options.accounting.recordStartLatency(latencyMs);
      this.options.onEvent?.({ type: "started", trackId: segment.item.trackId, latencyMs });
    });
  }

  /** Moves `current` on when the playhead has crossed into the next track (gapless boundary). */
  private advanceIfPast(): void {
    const now = this.options.sink.currentTime();
    for (const segment of this.segments) {
      const index = this.queue.indexOf(segment.item);
      if (index > this.current && now >= segment.offsetSec) {
        this.current = index;
        this.applyGain();
        this.options.onEvent?.({ type: "track", index, trackId: segment.item.trackId });
      }
    }
  }

  private applyGain(): void {
    const mode = this.replayGain;
    const gains = this.queue[this.current]?.replayGain;
    const gainDecibels =
      mode === "off" || !gains
        ? 0
        : ((mode === "album" ? gains.albumGainDb : gains.trackGainDb) ?? gains.trackGainDb ?? 0);
    this.options.sink.setVolume(Math.min(1, this.volume * decibelsToGain(gainDecibels)));
  }
}

function newSegment(item: QueueItem, track: Segment["track"], offsetSec: number): Segment {
  return {
    item,
    track,
    offsetSec,
    cursor: 0,
    fetched: new Map(),
    inFlight: new Set(),
    controller: new AbortController(),
    isOffsetApplied: false,
    hasFailed: false,
    growth: new AbortController(),
  };
}

/** The segment leaves the queue: its fetches and the following of its manifest stop. */
function dispose(segment: Segment, reason: string): void {
  segment.controller.abort(new Error(reason));
  segment.growth.abort(new Error(reason));
}
