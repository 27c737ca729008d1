// The overlay: neighbours made as needed (a few per track), at most 60, evicted by utility; peers found by the
// tracker (same network first) and by asking neighbours, who answer for themselves and their neighbours (2 hops).
import type { AnnounceResult, PeerControlMessage, PeerInfo, RenditionId } from "@soundmesh/protocol";
import { trackKey, type PieceStore, type TrackRef } from "../sources";
import { Neighbour } from "./neighbour";
import type { PeerTransport, PeerChannel } from "./peer-transport";
import { Uploader, type UploadSettings } from "./uploader";

/** The tracker as the overlay uses it (over the access point's WebSocket). */
export interface TrackerClient {
  /** Lists holdings; those the session has not fetched from the server come back as `unfetched`. */
  announce(holdings: Array<RenditionId & { complete: boolean }>): Promise<AnnounceResult>;
  withdraw(renditions: RenditionId[]): Promise<void>;
  query(rendition: RenditionId): Promise<PeerInfo[]>;
  reportBadPeer(peerId: string, rendition: RenditionId, pieceIndex: number): Promise<void>;
}

export interface PeerOverlayOptions {
  selfId: string;
  transport: PeerTransport;
  tracker: TrackerClient;
  store: PieceStore;
  /**
   * Asks the server whether the manifest held for a rendition is still current (a conditional GET), which also
   * tells the tracker this session fetched it: how a track cached in an earlier session, or before a server
   * restart, is announced again. Without it such holdings stay unannounced.
   */
  revalidate?: (rendition: RenditionId) => Promise<boolean>;
  upload?: Partial<UploadSettings>;
  bufferedAheadMs?: () => number;
  veryLowBufferMs?: number;
  maxNeighbours?: number;
  /** New connections made per track played. */
  connectionsPerTrack?: number;
  /** How long to wait for neighbours' "who has" answers. */
  queryTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** A track is looked up again after this long while it is still wanted and no neighbour has it. */
  rediscoverMs?: number;
  nowMs?: () => number;
  onError?: (error: unknown) => void;
}

export interface OverlayStats {
  neighbours: number;
  uploadsInProgress: number;
  bytesUploaded: number;
  piecesUploaded: number;
  uploadsRefused: number;
  badPeers: number;
  isUploading: boolean;
}

interface HeldTrack {
  rendition: RenditionId;
  pieces: Set<number>;
  pieceCount: number;
  isAnnouncedComplete: boolean;
}

export class PeerOverlay {
  readonly neighbours = new Map<string, Neighbour>();
  readonly uploader: Uploader;
  private readonly connecting = new Map<string, Promise<Neighbour | undefined>>();
  private readonly banned = new Set<string>();
  private readonly held = new Map<string, HeldTrack>();
  private readonly lookedUpAtMs = new Map<string, number>();
  private readonly lookups = new Map<string, Promise<void>>();
  private readonly queries = new Map<
    number,
    (from: Neighbour, message: Extract<PeerControlMessage, { t: "holders" }>) => void
  >();
  /** Tracks we want right now: shared interest for the utility score. */
  private readonly wanted = new Set<string>();
  private readonly controller = new AbortController();
  private nextQueryId = 1;
  private readonly nowMs: () => number;

  constructor(private readonly options: PeerOverlayOptions) {
    this.nowMs = options.nowMs ?? (() => performance.now());
    this.uploader = new Uploader({
      store: options.store,
      ...(options.upload ? { settings: options.upload } : {}),
      ...(options.bufferedAheadMs ? { bufferedAheadMs: options.bufferedAheadMs } : {}),
      ...(options.veryLowBufferMs !== undefined ? { veryLowBufferMs: options.veryLowBufferMs } : {}),
      nowMs: this.nowMs,
    });
    options.transport.onIncoming((peerId, channel) => this.accept(peerId, channel));
  }

  /** Neighbours that hold (part of) the track: the fetcher's peer sources. */
  holders(track: TrackRef): Neighbour[] {
    const key = trackKey(track);
    return [...this.neighbours.values()].filter((n) => n.open && n.holdings.has(key));
  }

  /**
   * The track is being played: find peers for it unless neighbours already have it or we looked just now.
   * Resolves when the lookup under way (if any) has finished.
   */
  want(track: TrackRef): Promise<void> {
    const key = trackKey(track);
    this.wanted.delete(key);
    this.wanted.add(key);
    // The track playing and the one prefetched after it.
    if (this.wanted.size > 2) this.wanted.delete(this.wanted.values().next().value as string);
    const running = this.lookups.get(key);
    if (running) return running;
    if (this.holders(track).length >= (this.options.connectionsPerTrack ?? 4)) return Promise.resolve();
    const last = this.lookedUpAtMs.get(key);
    if (last !== undefined && this.nowMs() - last < (this.options.rediscoverMs ?? 5_000))
      return Promise.resolve();
    this.lookedUpAtMs.set(key, this.nowMs());
    const lookup = this.discover(track)
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => this.lookups.delete(key));
    this.lookups.set(key, lookup);
    return lookup;
  }

  /** A verified piece was kept: tell the tracker and neighbours we hold the track (and when we hold all of it). */
  stored(track: TrackRef, index: number): void {
    const key = trackKey(track);
    const rendition = { trackId: track.trackId, profile: track.profile };
    let held = this.held.get(key);
    const isNew = !held;
    if (!held) {
      held = {
        rendition,
        pieces: new Set(),
        pieceCount: track.manifest.pieceCount,
        isAnnouncedComplete: false,
      };
      this.held.set(key, held);
    }
    held.pieces.add(index);
    const complete = held.pieces.size >= held.pieceCount;
    if (isNew || (complete && !held.isAnnouncedComplete)) {
      held.isAnnouncedComplete = complete;
      this.broadcast({ t: "have", keys: [key] });
      void this.announce([{ ...rendition, complete }]).catch((error: unknown) =>
        this.options.onError?.(error),
      );
    }
  }

  /** The cache dropped a track: neighbours and the tracker stop sending askers our way. */
  evicted(key: string): void {
    const held = this.held.get(key);
    if (!held) return;
    this.held.delete(key);
    this.broadcast({ t: "lost", keys: [key] });
    void this.options.tracker
      .withdraw([held.rendition])
      .catch((error: unknown) => this.options.onError?.(error));
  }

  /** Tracks held from earlier sessions (a persistent cache), announced at start. */
  async announceHeld(tracks: Array<{ track: TrackRef; complete: boolean }>): Promise<void> {
    if (tracks.length === 0) return;
    for (const { track, complete } of tracks) {
      const pieces = new Set<number>(
        complete ? Array.from({ length: track.manifest.pieceCount }, (_, i) => i) : [],
      );
      this.held.set(trackKey(track), {
        rendition: { trackId: track.trackId, profile: track.profile },
        pieces,
        pieceCount: track.manifest.pieceCount,
        isAnnouncedComplete: complete,
      });
    }
    await this.announce(
      tracks
        .slice(0, 500)
        .map(({ track, complete }) => ({ trackId: track.trackId, profile: track.profile, complete })),
    );
  }

  /**
   * Announces holdings; those the tracker says this session never fetched (held from an earlier session, or
   * announced to a tracker that restarted) are revalidated with the server, a few at a time, and announced once more
   * if still current. Resolves with how many the tracker listed.
   */
  private async announce(holdings: Array<RenditionId & { complete: boolean }>): Promise<number> {
    const first = await this.options.tracker.announce(holdings);
    const revalidate = this.options.revalidate;
    if (first.unfetched.length === 0 || !revalidate) return first.accepted;
    const unfetched = new Set(first.unfetched.map((rendition) => trackKey(rendition)));
    const queue = holdings.filter((holding) => unfetched.has(trackKey(holding)));
    const current: typeof holdings = [];
    const worker = async () => {
      for (let holding = queue.shift(); holding; holding = queue.shift()) {
        if (this.controller.signal.aborted) return;
        const isCurrent = await revalidate(holding).catch((error: unknown) => {
          this.options.onError?.(error);
          return false;
        });
        if (isCurrent) current.push(holding);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    if (current.length === 0 || this.controller.signal.aborted) return first.accepted;
    return first.accepted + (await this.options.tracker.announce(current)).accepted;
  }

  /** A neighbour sent bytes that fail their hash: report it, drop it and never take it back this session. */
  reportBadPiece(peerId: string, track: TrackRef, index: number): void {
    this.banned.add(peerId);
    this.neighbours.get(peerId)?.close();
    void this.options.tracker
      .reportBadPeer(peerId, { trackId: track.trackId, profile: track.profile }, index)
      .catch((error: unknown) => this.options.onError?.(error));
  }

  configureUploads(settings: Partial<UploadSettings>): void {
    this.uploader.configure(settings);
  }

  stats(): OverlayStats {
    return {
      neighbours: [...this.neighbours.values()].filter((n) => n.open).length,
      uploadsInProgress: this.uploader.uploadsInProgress,
      bytesUploaded: this.uploader.bytesUploaded,
      piecesUploaded: this.uploader.piecesUploaded,
      uploadsRefused: this.uploader.refused,
      badPeers: this.banned.size,
      isUploading: this.uploader.settings.enabled && !this.uploader.isPaused(),
    };
  }

  /** Measures latency to every neighbour (call every few seconds). */
  ping(): void {
    this.broadcast({ t: "ping", sentMs: this.nowMs() });
  }

  close(): void {
    this.controller.abort(new Error("overlay closed"));
    this.uploader.close();
    for (const neighbour of this.neighbours.values()) neighbour.close();
    this.neighbours.clear();
    this.options.transport.close();
  }

  /** Higher is worth keeping: recent bytes both ways, tracks we both care about, low latency. */
  utility(neighbour: Neighbour): number {
    let shared = 0;
    for (const key of this.wanted) if (neighbour.holdings.has(key)) shared += 1;
    for (const key of this.held.keys()) if (neighbour.holdings.has(key)) shared += 0.25;
    const latencyPenalty = (neighbour.rttMs ?? 100) / 100;
    return neighbour.recentBytes() / 65_536 + 4 * shared - latencyPenalty;
  }

  private async discover(track: TrackRef): Promise<void> {
    const key = trackKey(track);
    const rendition = { trackId: track.trackId, profile: track.profile };
    const [fromTracker, fromNeighbours] = await Promise.all([
      this.options.tracker.query(rendition).catch((error: unknown) => {
        this.options.onError?.(error);
        return [] as PeerInfo[];
      }),
      this.askNeighbours(key),
    ]);
    // Same network first (the tracker already orders by it), then what neighbours know.
    const candidates = [
      ...fromTracker.filter((p) => p.sameNetwork).map((p) => p.peerId),
      ...fromTracker.filter((p) => !p.sameNetwork).map((p) => p.peerId),
      ...fromNeighbours,
    ];
    const budget = (this.options.connectionsPerTrack ?? 4) - this.holders(track).length;
    const fresh = [...new Set(candidates)].filter(
      (peerId) => peerId !== this.options.selfId && !this.neighbours.has(peerId) && !this.banned.has(peerId),
    );
    const made = await Promise.all(fresh.slice(0, Math.max(0, budget)).map((peerId) => this.connect(peerId)));
    // Holders were named but no connection came up (WebRTC set-up fails now and then): try again in a second.
    if (fresh.length > 0 && made.every((neighbour) => !neighbour))
      this.lookedUpAtMs.set(key, this.nowMs() - (this.options.rediscoverMs ?? 5_000) + 1_000);
    // The tracker said these hold the track: believe it until they answer otherwise.
    for (const neighbour of made) neighbour?.holdings.add(key);
    for (const info of fromTracker) this.neighbours.get(info.peerId)?.holdings.add(key);
  }

  /** Asks every neighbour who holds the track; they answer for themselves and their neighbours. */
  private askNeighbours(key: string): Promise<string[]> {
    const asked = [...this.neighbours.values()].filter((n) => n.open);
    if (asked.length === 0) return Promise.resolve([]);
    const queryId = this.nextQueryId++;
    const found = new Set<string>();
    return new Promise((resolve) => {
      let answers = 0;
      const finish = () => {
        clearTimeout(timer);
        this.queries.delete(queryId);
        resolve([...found]);
      };
      const timer = setTimeout(finish, this.options.queryTimeoutMs ?? 1_000);
      this.queries.set(queryId, (from, message) => {
        if (message.key !== key) return;
        if (message.self) from.holdings.add(key);
        for (const peerId of message.peers) found.add(peerId);
        answers += 1;
        if (answers >= asked.length) finish();
      });
      for (const neighbour of asked) neighbour.control({ t: "whoHas", queryId, key });
    });
  }

  private async connect(peerId: string): Promise<Neighbour | undefined> {
    const existing = this.neighbours.get(peerId) ?? this.connecting.get(peerId);
    if (existing) return existing;
    if (!this.makeRoom()) return undefined;
    const attempt = (async () => {
      const signal = AbortSignal.any([
        this.controller.signal,
        AbortSignal.timeout(this.options.connectTimeoutMs ?? 10_000),
      ]);
      try {
        // WebRTC set-up fails now and then (ICE checks lost on a busy machine): one fresh attempt more.
        for (let attempt = 1; ; attempt++) {
          try {
            const channel = await this.options.transport.connect(peerId, signal);
            return this.neighbours.get(peerId) ?? this.adopt(peerId, channel);
          } catch (error) {
            this.options.onError?.(error);
            if (attempt >= 2 || signal.aborted || this.banned.has(peerId)) return undefined;
          }
        }
      } finally {
        this.connecting.delete(peerId);
      }
    })();
    this.connecting.set(peerId, attempt);
    return attempt;
  }

  private accept(peerId: string, channel: PeerChannel): void {
    if (this.banned.has(peerId) || this.neighbours.has(peerId) || !this.makeRoom()) {
      channel.close();
      return;
    }
    this.adopt(peerId, channel);
  }

  /** Keeps the degree under the cap: evicts the least useful idle neighbour. False when none can go. */
  private makeRoom(): boolean {
    const cap = this.options.maxNeighbours ?? 60;
    if (this.neighbours.size + this.connecting.size < cap) return true;
    const idle = [...this.neighbours.values()].filter((n) => n.outstandingRequests === 0);
    if (idle.length === 0) return false;
    const worst = idle.reduce((a, b) => (this.utility(b) < this.utility(a) ? b : a));
    worst.close();
    return true;
  }

  private adopt(peerId: string, channel: PeerChannel): Neighbour {
    const neighbour = new Neighbour(
      peerId,
      channel,
      {
        onRequest: (from, frame) =>
          this.uploader.request(from, frame.requestId, frame.key, frame.index, frame.urgencyMs),
        onCancel: (from, requestId) => this.uploader.cancel(from, requestId),
        onControl: (from, message) => this.onControl(from, message),
        onClose: (closed) => {
          this.uploader.forget(closed);
          if (this.neighbours.get(peerId) === closed) this.neighbours.delete(peerId);
        },
      },
      this.nowMs,
    );
    this.neighbours.set(peerId, neighbour);
    const keys = [...this.held.keys()].slice(-500);
    if (keys.length > 0) neighbour.control({ t: "have", keys });
    neighbour.control({ t: "ping", sentMs: this.nowMs() });
    return neighbour;
  }

  private onControl(from: Neighbour, message: PeerControlMessage): void {
    switch (message.t) {
      case "whoHas": {
        const peers = [...this.neighbours.values()]
          .filter((n) => n !== from && n.open && n.holdings.has(message.key))
          .slice(0, 20)
          .map((n) => n.id);
        return from.control({
          t: "holders",
          queryId: message.queryId,
          key: message.key,
          self: this.held.has(message.key),
          peers,
        });
      }
      case "holders":
        return this.queries.get(message.queryId)?.(from, message);
      case "have":
      case "lost":
      case "ping":
      case "pong":
        return;
    }
  }

  private broadcast(message: PeerControlMessage): void {
    for (const neighbour of this.neighbours.values()) neighbour.control(message);
  }
}
