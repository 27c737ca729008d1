// Gets one verified piece: the cache first, then the source expected to be fastest; slow, failing or lying
// sources are abandoned for the next one, and nothing unverified is ever returned, cached or counted.
import type { ByteAccounting } from "./byte-accounting";
import type { LruIndex } from "./lru-index";
import { isOffset, trackKey, type PieceSource, type PieceStore, type TrackRef } from "./sources";
import { ThroughputMeter } from "./throughput";

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export interface PieceFetcherOptions {
  sources: PieceSource[];
  store?: PieceStore;
  /** The cache's LRU bookkeeping: told of every cached byte, evicts whole tracks past the cap. */
  cacheIndex?: LruIndex;
  accounting: ByteAccounting;
  /** A source that has not answered in this long is abandoned for the next (the seeds' ~2 s). */
  attemptTimeoutMs?: number;
  /** Rounds over all sources before giving up on a piece. */
  rounds?: number;
  backoffMs?: number;
  /** Called when a source sends bytes that fail their hash (peers get reported and dropped). */
  onBadPiece?: (source: PieceSource, track: TrackRef, index: number) => void;
  /** Called after a verified piece is kept in the store (the overlay announces what we hold). */
  onStored?: (track: TrackRef, index: number) => void;
  /** Called when the cache evicts a track (the overlay withdraws it). */
  onEvicted?: (key: string) => void;
  /** Other listeners: when any holds the track, pieces come from them first. */
  peers?: PeerPool;
  /** Audio buffered ahead of the playhead (Infinity when idle): below `lowBufferMs` the server runs alongside peers. */
  bufferedAheadMs?: () => number;
  lowBufferMs?: number;
  /** While peers hold the track, the server is asked only for pieces needed within this long (the seeds' ~15 s). */
  serverWindowMs?: number;
  /** Media time per wall-clock time (1 in players; more for headless peers playing fast), for due times. */
  playbackRate?: number;
  /** How long a piece outside the server window waits for a peer lookup under way. */
  lookupWaitMs?: number;
  nowMs?: () => number;
}

/** A neighbour as the fetcher sees it: a piece source with a queue of outstanding bytes. */
export interface PeerPieceSource extends PieceSource {
  readonly outstandingBytes: number;
  /** A partial holder that said it lacks this piece. */
  lacks?(key: string, index: number): boolean;
}

export interface PeerPool {
  /** False while no lookup can find anyone (no P2P session open): the fetcher then goes to its sources at once. */
  readonly isOnline?: boolean;
  /** Neighbours holding (part of) the track. */
  holders(track: TrackRef): PeerPieceSource[];
  /** The track is wanted: look for peers (cheap to call often); resolves when a lookup under way is done. */
  want(track: TrackRef): Promise<void>;
}

/** Rate assumed for a peer never measured: optimistic, so new peers get tried. */
const UNMEASURED_PEER_BYTES_PER_SECOND = 4 * 1024 * 1024;

type Outcome = { source: PieceSource; bytes: Uint8Array } | { source: PieceSource; error: unknown };

export class PieceFetchError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
    this.name = "PieceFetchError";
  }
}

export class PieceFetcher {
  private readonly meters = new Map<string, ThroughputMeter>();
  private readonly firstPieces = new Map<
    string,
    { hasArrived: boolean; arrived: Promise<void>; arrive(): void }
  >();
  readonly overall = new ThroughputMeter();
  private readonly nowMs: () => number;

  constructor(private readonly options: Readonly<PieceFetcherOptions>) {
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  /** Known-fastest first; a source never measured is tried before slower measured ones. */
  private ordered(): PieceSource[] {
    const rate = (source: PieceSource) =>
      this.meters.get(source.id)?.bytesPerSecond ?? Number.POSITIVE_INFINITY;
    return [...this.options.sources].sort((a, b) => rate(b) - rate(a));
  }

  async fetch(track: TrackRef, index: number, urgencyMs: number, signal: AbortSignal): Promise<Uint8Array> {
    const bytes = await this.fetchPiece(track, index, urgencyMs, signal);
    this.firstPiece(trackKey(track)).arrive();
    return bytes;
  }

  /**
   * A track's first piece, whichever it is: peer lookups wait for it, so WebRTC handshakes never compete with the
   * start of playback for the CPU and the network (the seeds: "request first piece from servers; meanwhile search
   * P2P for the remainder").
   */
  private firstPiece(key: string): { hasArrived: boolean; arrived: Promise<void>; arrive(): void } {
    let entry = this.firstPieces.get(key);
    if (!entry) {
      let resolve: () => void = () => undefined;
      const arrived = new Promise<void>((done) => (resolve = done));
      const created = {
        hasArrived: false,
        arrived,
        arrive() {
          created.hasArrived = true;
          resolve();
        },
      };
      entry = created;
      this.firstPieces.set(key, entry);
    }
    return entry;
  }

  private async fetchPiece(
    track: TrackRef,
    index: number,
    urgencyMs: number,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const key = trackKey(track);
    const expected = track.manifest.pieceHashes[index];
    if (expected === undefined) throw new PieceFetchError(`no piece ${index}`, index);
    // An offset rendition's pieces are its own: never looked up in (or kept in) the cache, nor asked of peers.
    const offset = isOffset(track.manifest);
    const cached = offset ? undefined : await this.options.store?.get(key, index);
    if (cached && (await sha256Hex(cached)) === expected) {
      this.options.accounting.add("cache", key, cached.byteLength);
      this.options.cacheIndex?.touch(key);
      return cached;
    }
    const peers = offset || this.options.peers?.isOnline === false ? undefined : this.options.peers;
    if (peers) {
      await this.awaitLookup(peers, track, urgencyMs, signal);
      if (peers.holders(track).length > 0) return this.fetchWithPeers(peers, track, index, urgencyMs, signal);
    }
    const rounds = this.options.rounds ?? 3;
    let lastError: unknown;
    for (let round = 0; round < rounds; round++) {
      for (const source of this.ordered()) {
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
        try {
          const bytes = await this.attempt(source, track, index, urgencyMs, signal);
          if ((await sha256Hex(bytes)) !== expected) {
            this.options.accounting.reject();
            this.options.onBadPiece?.(source, track, index);
            lastError = new PieceFetchError(`piece ${index} from ${source.id} failed its hash`, index);
            continue;
          }
          this.options.accounting.add(source.kind, key, bytes.byteLength);
          if (!offset) await this.keep(track, index, bytes);
          return bytes;
        } catch (error) {
          if (signal.aborted) throw error;
          lastError = error;
        }
      }
      if (round < rounds - 1)
        await new Promise((resolve) => setTimeout(resolve, (this.options.backoffMs ?? 250) * 2 ** round));
    }
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    throw new PieceFetchError(`piece ${index} could not be fetched: ${reason}`, index);
  }

  /**
   * While a peer lookup is under way, only pieces needed before the buffer would run low go to the server at
   * once. A piece due within the server window waits up to `lookupWaitMs` for the lookup; one due later waits
   * until it would enter the window (at most 10 s), since the server would not be asked for it before anyway.
   */
  private async awaitLookup(
    pool: PeerPool,
    track: TrackRef,
    urgencyMs: number,
    signal: AbortSignal,
  ): Promise<void> {
    const lowMs = this.options.lowBufferMs ?? 5_000;
    const windowMs = this.options.serverWindowMs ?? 15_000;
    const lookupWaitMs = this.options.lookupWaitMs ?? 3_000;
    const first = this.firstPiece(trackKey(track));
    if (!first.hasArrived) {
      if (urgencyMs <= lowMs || pool.holders(track).length > 0) return;
      await Promise.race([first.arrived, this.sleep(lookupWaitMs, signal)]);
      if (signal.aborted) return;
    }
    const lookup = pool.want(track);
    if (urgencyMs <= lowMs || pool.holders(track).length > 0) return;
    const waitMs =
      urgencyMs > windowMs
        ? Math.min(10_000, Math.max(lookupWaitMs, (urgencyMs - windowMs) / (this.options.playbackRate ?? 1)))
        : Math.min(lookupWaitMs, urgencyMs - lowMs);
    await Promise.race([lookup, this.sleep(waitMs, signal)]);
  }

  /**
   * Peers first, the fastest by expected download time (outstanding bytes / measured rate); on a slow, silent,
   * refusing or lying peer the next one; the server only for pieces due within the server window, and alongside
   * peers when the buffer is low. The first verified answer wins and the others are cancelled.
   */
  private async fetchWithPeers(
    pool: PeerPool,
    track: TrackRef,
    index: number,
    urgencyMs: number,
    signal: AbortSignal,
  ): Promise<Uint8Array> {
    const key = trackKey(track);
    const expected = track.manifest.pieceHashes[index]!;
    const startedMs = this.nowMs();
    const rate = this.options.playbackRate ?? 1;
    const dueInMs = () => urgencyMs - (this.nowMs() - startedMs) * rate;
    const windowMs = this.options.serverWindowMs ?? 15_000;
    const isBufferLow = () =>
      (this.options.bufferedAheadMs?.() ?? Infinity) < (this.options.lowBufferMs ?? 5_000);
    const race = new AbortController();
    const abortRace = () => race.abort(signal.reason);
    signal.addEventListener("abort", abortRace, { once: true });
    const tried = new Set<string>();
    const running = new Map<PieceSource, Promise<Outcome>>();
    const serverSources = this.options.sources;
    let serverAttempts = 0;
    const maxServerAttempts = (this.options.rounds ?? 3) * Math.max(1, serverSources.length);
    let lastError: unknown = new PieceFetchError(`piece ${index}: no source answered`, index);

    const launch = (source: PieceSource) => {
      const attempt = this.attempt(source, track, index, dueInMs(), race.signal).then(
        (bytes): Outcome => ({ source, bytes }),
        (error: unknown): Outcome => ({ source, error }),
      );
      running.set(source, attempt);
    };
    const nextPeer = (): PieceSource | undefined => {
      const candidates = pool
        .holders(track)
        .filter((p) => !tried.has(p.id) && !running.has(p) && !p.lacks?.(key, index));
      const expectedMs = (p: PeerPieceSource) =>
        (p.outstandingBytes + track.manifest.pieceSizeBytes) /
        (this.meters.get(p.id)?.bytesPerSecond || UNMEASURED_PEER_BYTES_PER_SECOND);
      return candidates.sort((a, b) => expectedMs(a) - expectedMs(b))[0];
    };
    const serverIsRunning = () => serverSources.some((source) => running.has(source));
    const launchServer = () => {
      if (serverIsRunning() || serverAttempts >= maxServerAttempts) return;
      const source = serverSources[serverAttempts % serverSources.length];
      if (!source) return;
      serverAttempts += 1;
      launch(source);
    };

    try {
      for (;;) {
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error("aborted");
        const peersRunning = [...running.keys()].some((source) => source.kind === "peer");
        if (!peersRunning) {
          const peer = nextPeer();
          if (peer) {
            tried.add(peer.id);
            launch(peer);
          }
        }
        const inWindow = dueInMs() <= windowMs;
        const noPeerLeft = ![...running.keys()].some((source) => source.kind === "peer");
        // No neighbour holds it any more (they left), or those left said they lack this piece: the server,
        // whatever the window. A neighbour that was merely slow still holds it: the window applies.
        const peersGone = noPeerLeft && !pool.holders(track).some((p) => !p.lacks?.(key, index));
        if (peersGone || (inWindow && (isBufferLow() || noPeerLeft))) launchServer();
        if (running.size === 0) {
          if (serverAttempts >= maxServerAttempts || (inWindow && serverSources.length === 0))
            throw lastError;
          // Nobody left to ask, and the piece is not due yet: wait until it enters the server window.
          await this.sleep(Math.min(1_000, Math.max(0, (dueInMs() - windowMs) / rate)), signal);
          continue;
        }
        // Re-check the buffer and the window now and then while answers are awaited.
        const outcome = await Promise.race([
          ...running.values(),
          this.sleep(250, signal).then(() => undefined),
        ]);
        if (!outcome) continue;
        running.delete(outcome.source);
        if ("error" in outcome) {
          if (signal.aborted) throw outcome.error;
          lastError = outcome.error;
          if (outcome.source.kind !== "peer" && running.size === 0 && serverAttempts < maxServerAttempts)
            await this.sleep((this.options.backoffMs ?? 250) * 2 ** (serverAttempts - 1), signal);
          continue;
        }
        if ((await sha256Hex(outcome.bytes)) !== expected) {
          this.options.accounting.reject();
          this.options.onBadPiece?.(outcome.source, track, index);
          lastError = new PieceFetchError(`piece ${index} from ${outcome.source.id} failed its hash`, index);
          continue;
        }
        race.abort(new Error("answered by another source"));
        this.options.accounting.add(outcome.source.kind, key, outcome.bytes.byteLength);
        await this.keep(track, index, outcome.bytes);
        return outcome.bytes;
      }
    } finally {
      signal.removeEventListener("abort", abortRace);
      if (!race.signal.aborted) race.abort(new Error("done"));
    }
  }

  /** Resolves after `ms`, or at once (without rejecting) when the signal aborts. */
  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private async attempt(
    source: PieceSource,
    track: TrackRef,
    index: number,
    urgencyMs: number,
    outer: AbortSignal,
  ): Promise<Uint8Array> {
    const controller = new AbortController();
    const abort = () => controller.abort(outer.reason);
    outer.addEventListener("abort", abort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new Error(`${source.id} too slow`)),
      this.options.attemptTimeoutMs ?? 2_000,
    );
    const started = this.nowMs();
    try {
      const bytes = await source.fetch(track, index, { urgencyMs, signal: controller.signal });
      const elapsedMs = Math.max(1, this.nowMs() - started);
      const meter = this.meters.get(source.id) ?? new ThroughputMeter();
      meter.record(bytes.byteLength, elapsedMs);
      this.meters.set(source.id, meter);
      this.overall.record(bytes.byteLength, elapsedMs);
      return bytes;
    } finally {
      clearTimeout(timer);
      outer.removeEventListener("abort", abort);
    }
  }

  private async keep(track: TrackRef, index: number, bytes: Uint8Array): Promise<void> {
    const { store, cacheIndex } = this.options;
    if (!store) return;
    const key = trackKey(track);
    await store.put(key, index, bytes);
    this.options.onStored?.(track, index);
    if (!cacheIndex) return;
    for (const evicted of cacheIndex.touch(key, await store.size(key))) {
      await store.delete(evicted);
      this.options.onEvicted?.(evicted);
    }
  }
}
