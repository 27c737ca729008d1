// Serves pieces of cached tracks to neighbours: most urgent request first, a few at once, within the user's
// upload rate, and not at all while uploading is off or our own buffer is very low.
import type { PieceStore } from "../sources";
import type { Neighbour } from "./neighbour";

export interface UploadSettings {
  enabled: boolean;
  /** Uploads served at once, over all neighbours. */
  maxConcurrent: number;
  /** Upload rate cap in bytes per second; 0 means no cap. */
  bytesPerSecond: number;
}

export const defaultUploadSettings: UploadSettings = { enabled: true, maxConcurrent: 4, bytesPerSecond: 0 };

export interface UploaderOptions {
  store: PieceStore;
  settings?: Partial<UploadSettings>;
  /** Audio buffered ahead of our own playhead; Infinity when nothing is playing. */
  bufferedAheadMs?: () => number;
  /** Below this much buffered audio, uploads stop so our own playback gets the bandwidth. */
  veryLowBufferMs?: number;
  /** Requests queued per neighbour beyond which it is told "busy". */
  maxQueuedPerNeighbour?: number;
  nowMs?: () => number;
}

interface UploadRequest {
  neighbour: Neighbour;
  requestId: number;
  key: string;
  index: number;
  urgencyMs: number;
  receivedMs: number;
  /** The requester gave up while we were waiting for upload budget: nothing is sent. */
  cancelled?: boolean;
}

export class Uploader {
  settings: UploadSettings;
  private readonly queue: UploadRequest[] = [];
  private readonly serving = new Set<UploadRequest>();
  private active = 0;
  private tokens = 0;
  private tokensAtMs = 0;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private closed = false;
  bytesUploaded = 0;
  piecesUploaded = 0;
  refused = 0;
  private readonly nowMs: () => number;

  constructor(private readonly options: UploaderOptions) {
    this.settings = { ...defaultUploadSettings, ...options.settings };
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  get uploadsInProgress(): number {
    return this.active;
  }

  /** True while our own playback needs every byte. */
  isPaused(): boolean {
    return (this.options.bufferedAheadMs?.() ?? Infinity) < (this.options.veryLowBufferMs ?? 2_000);
  }

  configure(settings: Partial<UploadSettings>): void {
    this.settings = { ...this.settings, ...settings };
    if (!this.settings.enabled) this.refuseQueued();
    this.pump();
  }

  request(neighbour: Neighbour, requestId: number, key: string, index: number, urgencyMs: number): void {
    const queued = this.queue.filter((r) => r.neighbour === neighbour).length;
    if (!this.settings.enabled || this.isPaused() || queued >= (this.options.maxQueuedPerNeighbour ?? 16)) {
      this.refused += 1;
      neighbour.answer({ type: "busy", requestId });
      return;
    }
    this.queue.push({ neighbour, requestId, key, index, urgencyMs, receivedMs: this.nowMs() });
    this.pump();
  }

  cancel(neighbour: Neighbour, requestId: number): void {
    const at = this.queue.findIndex((r) => r.neighbour === neighbour && r.requestId === requestId);
    if (at >= 0) this.queue.splice(at, 1);
    for (const request of this.serving)
      if (request.neighbour === neighbour && request.requestId === requestId) request.cancelled = true;
  }

  /** Drops a neighbour's queued requests (it disconnected). */
  forget(neighbour: Neighbour): void {
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (this.queue[i]!.neighbour === neighbour) this.queue.splice(i, 1);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
  }

  private refuseQueued(): void {
    for (const request of this.queue.splice(0)) {
      this.refused += 1;
      request.neighbour.answer({ type: "busy", requestId: request.requestId });
    }
  }

  /** The most urgent request, counting the time it has waited against its urgency. */
  private takeMostUrgent(): UploadRequest | undefined {
    if (this.queue.length === 0) return undefined;
    const now = this.nowMs();
    let best = 0;
    const due = (r: UploadRequest) => r.urgencyMs - (now - r.receivedMs);
    for (let i = 1; i < this.queue.length; i++) if (due(this.queue[i]!) < due(this.queue[best]!)) best = i;
    return this.queue.splice(best, 1)[0];
  }

  private pump(): void {
    if (this.closed) return;
    if (this.isPaused() && this.queue.length > 0) this.refuseQueued();
    // Under a rate cap, parallel uploads add no throughput, only latency: one at a time, most urgent first.
    const limit = this.settings.bytesPerSecond > 0 ? 1 : this.settings.maxConcurrent;
    while (this.active < limit && this.queue.length > 0) {
      const request = this.takeMostUrgent()!;
      if (!request.neighbour.open) continue;
      this.active += 1;
      this.serving.add(request);
      void this.serve(request).finally(() => {
        this.serving.delete(request);
        this.active -= 1;
        this.pump();
      });
    }
  }

  private async serve(request: UploadRequest): Promise<void> {
    const bytes = await this.options.store.get(request.key, request.index).catch(() => undefined);
    if (!bytes) return request.neighbour.answer({ type: "missing", requestId: request.requestId });
    await this.waitForTokens(bytes.byteLength);
    if (this.closed || !request.neighbour.open || request.cancelled) return;
    if (this.isPaused() || !this.settings.enabled) {
      this.refused += 1;
      return request.neighbour.answer({ type: "busy", requestId: request.requestId });
    }
    request.neighbour.answer({ type: "piece", requestId: request.requestId, bytes });
    this.bytesUploaded += bytes.byteLength;
    this.piecesUploaded += 1;
  }

  /** Token bucket over bytes with a tenth of a second's worth of burst; a deficit is waited off. */
  private async waitForTokens(sizeBytes: number): Promise<void> {
    const rate = this.settings.bytesPerSecond;
    if (rate <= 0) return;
    const now = this.nowMs();
    this.tokens = Math.min(rate / 10, this.tokens + ((now - this.tokensAtMs) / 1000) * rate);
    this.tokensAtMs = now;
    this.tokens -= sizeBytes;
    if (this.tokens >= 0) return;
    const waitMs = Math.min(10_000, (-this.tokens / rate) * 1000);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, waitMs);
      this.timers.add(timer);
    });
  }
}
