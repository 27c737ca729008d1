// How the stream routes read renditions. The access point owns the interface; storage's own rendition store has its
// shape, so a process that runs storage passes the store itself (a piece then skips the bus: contracts checked on
// both ends and two turns of the event loop cost the piece route 30% of its rate). Elsewhere the reads go to the
// storage service over the bus.
import { storageContract, type StreamManifest } from "@soundmesh/protocol";
import type { ServiceBus } from "@soundmesh/bus";

/** Who a read is for: storage bounds transcodes per user, so every read names the signed-in user. */
export interface Listener {
  userId: string;
  /** The request's id, carried to storage when the read crosses the bus. */
  traceId?: string;
}

export interface RenditionReader {
  /**
   * The complete manifest, or with `havePieces` a long-poll on a growing one (see `manifestQuery`); with `fromMs`,
   * the offset rendition's.
   */
  manifest(
    trackId: string,
    profile: string,
    listener: Listener,
    havePieces?: number,
    fromMs?: number,
  ): Promise<StreamManifest>;
  piece(
    trackId: string,
    profile: string,
    index: number,
    listener: Listener,
    fromMs?: number,
  ): Promise<{ bytes: Uint8Array }>;
  /** Bytes [start, endInclusive] of the whole rendition; the routes ask at most `maxRangeChunkBytes` at once. */
  range(
    trackId: string,
    profile: string,
    start: number,
    endInclusive: number,
    listener: Listener,
  ): Promise<Uint8Array>;
}

/** A manifest long-poll waits up to storage's bound (10 s) before answering: the bus must wait longer. */
const MANIFEST_TIMEOUT_MS = 30_000;

/**
 * Reads through the storage service's contract, for an access point that runs without storage beside it: any
 * storage process (its queue group), or with `instance` one storage node on the ring.
 */
export function busRenditionReader(bus: ServiceBus, target: { instance?: string } = {}): RenditionReader {
  const contextOf = ({ userId, traceId }: Listener) => ({
    userId,
    ...(traceId ? { traceId } : {}),
    ...(target.instance === undefined ? {} : { instance: target.instance }),
  });
  return {
    manifest: (trackId, profile, listener, havePieces, fromMs) =>
      bus.request(
        storageContract,
        "manifest",
        { trackId, profile, havePieces, fromMs },
        { ...contextOf(listener), timeoutMs: MANIFEST_TIMEOUT_MS },
      ),
    piece: (trackId, profile, index, listener, fromMs) =>
      bus.request(storageContract, "piece", { trackId, profile, index, fromMs }, contextOf(listener)),
    range: async (trackId, profile, start, endInclusive, listener) =>
      (
        await bus.request(
          storageContract,
          "range",
          { trackId, profile, start, endInclusive },
          contextOf(listener),
        )
      ).bytes,
  };
}
