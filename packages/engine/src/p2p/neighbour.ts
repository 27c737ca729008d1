// One open connection to another listener: a piece source (requests with urgency, answers, cancels) and the
// bookkeeping the overlay scores it by (bytes exchanged recently, tracks held, latency).
import type { PeerControlMessage } from "@soundmesh/protocol";
import { SourceError, trackKey, type FetchOptions, type PieceSource, type TrackRef } from "../sources";
import { decodeFrame, encodeFrame, PeerWireError, type PeerFrame } from "./peer-wire";
import type { PeerChannel } from "./peer-transport";

export interface NeighbourHandlers {
  /** A request from the neighbour for one of our pieces. */
  onRequest(neighbour: Neighbour, frame: Extract<PeerFrame, { type: "request" }>): void;
  onCancel(neighbour: Neighbour, requestId: number): void;
  onControl(neighbour: Neighbour, message: PeerControlMessage): void;
  onClose(neighbour: Neighbour): void;
}

interface Pending {
  resolve: (bytes: Uint8Array) => void;
  reject: (error: Error) => void;
  sizeBytes: number;
}

/** Bytes exchanged, decaying by half every `halfLifeMs`: "recently" for the utility score. */
class DecayingCounter {
  private value = 0;
  private atMs = 0;
  constructor(private readonly halfLifeMs: number) {}
  add(amount: number, nowMs: number): void {
    this.value = this.read(nowMs) + amount;
    this.atMs = nowMs;
  }
  read(nowMs: number): number {
    return this.value * 0.5 ** (Math.max(0, nowMs - this.atMs) / this.halfLifeMs);
  }
}

export class Neighbour implements PieceSource {
  readonly kind = "peer" as const;
  /** Track keys the neighbour said it holds. */
  readonly holdings = new Set<string>();
  /** Pieces it answered "missing" for, by track key: not asked again until it announces the track anew. */
  private readonly lacking = new Map<string, Set<number>>();
  rttMs: number | undefined;
  bytesReceived = 0;
  bytesSent = 0;
  readonly connectedAtMs: number;
  private readonly recent = new DecayingCounter(60_000);
  private readonly pending = new Map<number, Pending>();
  private nextRequestId = 1;
  private isOpen = true;

  constructor(
    readonly id: string,
    private readonly channel: PeerChannel,
    private readonly handlers: NeighbourHandlers,
    private readonly nowMs: () => number,
  ) {
    this.connectedAtMs = nowMs();
    channel.listen(
      (bytes) => this.receive(bytes),
      () => this.closed(),
    );
  }

  get open(): boolean {
    return this.isOpen;
  }

  /** Bytes asked for and not yet received: the queue in front of a new request. */
  get outstandingBytes(): number {
    let total = 0;
    for (const request of this.pending.values()) total += request.sizeBytes;
    return total;
  }

  /** Whether it said it does not have this piece (a partial holder) since it last announced the track. */
  lacks(key: string, index: number): boolean {
    return this.lacking.get(key)?.has(index) ?? false;
  }

  get outstandingRequests(): number {
    return this.pending.size;
  }

  recentBytes(): number {
    return this.recent.read(this.nowMs());
  }

  fetch(track: TrackRef, index: number, options: FetchOptions): Promise<Uint8Array> {
    if (!this.isOpen) return Promise.reject(new SourceError(`${this.id} is gone`));
    const requestId = this.nextRequestId++;
    const key = trackKey(track);
    const sizeBytes = track.manifest.pieceSizeBytes;
    return new Promise<Uint8Array>((resolve, reject) => {
      const abort = () => {
        this.pending.delete(requestId);
        this.send({ type: "cancel", requestId });
        reject(options.signal.reason instanceof Error ? options.signal.reason : new Error("aborted"));
      };
      if (options.signal.aborted) return abort();
      options.signal.addEventListener("abort", abort, { once: true });
      const settle = () => options.signal.removeEventListener("abort", abort);
      this.pending.set(requestId, {
        sizeBytes,
        resolve: (bytes) => {
          settle();
          resolve(bytes);
        },
        reject: (error) => {
          settle();
          if (error instanceof SourceError && error.status === 404) {
            const pieces = this.lacking.get(key) ?? new Set<number>();
            pieces.add(index);
            this.lacking.set(key, pieces);
          }
          reject(error);
        },
      });
      this.send({ type: "request", requestId, key, index, urgencyMs: options.urgencyMs });
    });
  }

  /** Answers a request of the neighbour's. */
  answer(frame: PeerFrame): void {
    if (frame.type === "piece") {
      this.bytesSent += frame.bytes.byteLength;
      this.recent.add(frame.bytes.byteLength, this.nowMs());
    }
    this.send(frame);
  }

  control(message: PeerControlMessage): void {
    this.send({ type: "control", message });
  }

  /** Bytes waiting in the channel's send buffer. */
  get bufferedAmount(): number {
    return this.channel.bufferedAmount;
  }

  close(): void {
    if (!this.isOpen) return;
    this.channel.close();
    this.closed();
  }

  private send(frame: PeerFrame): void {
    if (!this.isOpen) return;
    try {
      this.channel.send(encodeFrame(frame));
    } catch {
      this.close();
    }
  }

  private receive(bytes: Uint8Array): void {
    let frame: PeerFrame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      // A neighbour that breaks the protocol is not worth keeping.
      if (error instanceof PeerWireError) this.close();
      return;
    }
    switch (frame.type) {
      case "request":
        return this.handlers.onRequest(this, frame);
      case "cancel":
        return this.handlers.onCancel(this, frame.requestId);
      case "control":
        if (frame.message.t === "have")
          for (const key of frame.message.keys) {
            this.holdings.add(key);
            this.lacking.delete(key);
          }
        if (frame.message.t === "lost") for (const key of frame.message.keys) this.holdings.delete(key);
        if (frame.message.t === "ping") return this.control({ t: "pong", sentMs: frame.message.sentMs });
        if (frame.message.t === "pong") this.rttMs = Math.max(0, this.nowMs() - frame.message.sentMs);
        return this.handlers.onControl(this, frame.message);
      case "piece": {
        const request = this.pending.get(frame.requestId);
        if (!request) return; // cancelled, or answered after we gave up
        this.pending.delete(frame.requestId);
        this.bytesReceived += frame.bytes.byteLength;
        this.recent.add(frame.bytes.byteLength, this.nowMs());
        return request.resolve(frame.bytes);
      }
      case "missing":
      case "busy": {
        const request = this.pending.get(frame.requestId);
        if (!request) return;
        this.pending.delete(frame.requestId);
        return request.reject(
          new SourceError(
            `${this.id} ${frame.type === "missing" ? "lacks" : "is busy for"} the piece`,
            frame.type === "missing" ? 404 : 503,
          ),
        );
      }
    }
  }

  private closed(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    for (const request of this.pending.values()) request.reject(new SourceError(`${this.id} disconnected`));
    this.pending.clear();
    this.handlers.onClose(this);
  }
}
