// Gets one verified piece: the cache first, then the source expected to be fastest; slow, failing or lying
// sources are abandoned for the next one, and nothing unverified is ever returned, cached or counted.
import type { ByteAccounting } from "./byte-accounting";
import type { LruIndex } from "./lru-index";
import { trackKey, type PieceSource, type PieceStore, type TrackRef } from "./sources";
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
  nowMs?: () => number;
}

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
  readonly overall = new ThroughputMeter();
  private readonly nowMs: () => number;

  constructor(private readonly options: PieceFetcherOptions) {
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  /** Known-fastest first; a source never measured is tried before slower measured ones. */
  private ordered(): PieceSource[] {
    const rate = (source: PieceSource) =>
      this.meters.get(source.id)?.bytesPerSecond ?? Number.POSITIVE_INFINITY;
    return [...this.options.sources].sort((a, b) => rate(b) - rate(a));
  }

  async fetch(track: TrackRef, index: number, urgencyMs: number, signal: AbortSignal): Promise<Uint8Array> {
    const key = trackKey(track);
    const expected = track.manifest.pieceHashes[index];
    if (expected === undefined) throw new PieceFetchError(`no piece ${index}`, index);
    const cached = await this.options.store?.get(key, index);
    if (cached && (await sha256Hex(cached)) === expected) {
      this.options.accounting.add("cache", key, cached.byteLength);
      this.options.cacheIndex?.touch(key);
      return cached;
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
          await this.keep(key, index, bytes);
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

  private async keep(key: string, index: number, bytes: Uint8Array): Promise<void> {
    const { store, cacheIndex } = this.options;
    if (!store) return;
    await store.put(key, index, bytes);
    if (!cacheIndex) return;
    for (const evicted of cacheIndex.touch(key, await store.size(key))) await store.delete(evicted);
  }
}
