// Cluster mode's rendition reads: each rendition is owned by storage nodes on the consistent-hash ring, so the
// access point asks its owner, then the next replica, then the origin (any storage process: the library and a
// transcode). A node that is down or failing is skipped; its answer about the request itself (not found, busy,
// unplayable) is the answer, never retried elsewhere.
import { createOwnerReader, type OwnerMiss } from "@soundmesh/bus";
import { toAppError, type AppError } from "@soundmesh/protocol";
import type { RenditionReader } from "./rendition-reader";

/** Codes that say the node failed, not the request: the read moves on to the next owner. */
const NODE_FAILURES = new Set(["UNAVAILABLE", "TIMEOUT", "INTERNAL", "BAD_FRAME"]);

type Outcome<T> = { ok: true; value: T } | { ok: false; error: AppError };

export interface RingRead {
  /** The rendition's ring key. */
  key: string;
  /** The node that answered, or "origin". */
  source: string;
  misses: OwnerMiss[];
}

export interface RingRenditionReaderOptions {
  /** The nodes owning a key, owner first (the ring watcher's `ring().owners(key, replicas)`). */
  owners: (key: string) => readonly string[];
  /** Reads from one storage node. */
  node: (node: string) => RenditionReader;
  /** Reads from the origin: any storage process, which reads the library and transcodes. */
  origin: RenditionReader;
  /** Sees where each read was answered (metrics, tests). */
  onRead?: (read: RingRead) => void;
}

/** The ring key of a rendition: one track in one profile, from one offset. */
export const renditionKey = (trackId: string, profile: string, fromMs?: number): string =>
  fromMs === undefined ? `${trackId}/${profile}` : `${trackId}/${profile}@${fromMs}`;

/**
 * One read through the ring: `fromNode` on each owner in turn (a node that fails moves on), then `fromOrigin`. An
 * answer about the request itself (not found, busy, unplayable) from a node or the origin is the answer.
 */
export async function readThroughOwners<T>(
  options: Pick<RingRenditionReaderOptions, "owners" | "onRead">,
  key: string,
  fromNode: (node: string) => Promise<T>,
  fromOrigin: () => Promise<T>,
): Promise<T> {
  const settle = async (ask: () => Promise<T>, nodeFailuresThrow: boolean): Promise<Outcome<T>> => {
    try {
      return { ok: true, value: await ask() };
    } catch (error) {
      const appError = toAppError(error);
      if (nodeFailuresThrow && NODE_FAILURES.has(appError.code)) throw appError;
      return { ok: false, error: appError };
    }
  };
  const reader = createOwnerReader<Outcome<T>>({
    owners: options.owners,
    fromNode: (node) => settle(() => fromNode(node), true),
    fromOrigin: () => settle(fromOrigin, false),
  });
  const { value, source, misses } = await reader.read(key);
  options.onRead?.({ key, source, misses });
  if (!value.ok) throw value.error;
  return value.value;
}

export function ringRenditionReader(options: RingRenditionReaderOptions): RenditionReader {
  const read = <T>(key: string, ask: (reader: RenditionReader) => Promise<T>): Promise<T> =>
    readThroughOwners(
      options,
      key,
      (node) => ask(options.node(node)),
      () => ask(options.origin),
    );
  return {
    manifest: (trackId, profile, listener, havePieces, fromMs) =>
      read(renditionKey(trackId, profile, fromMs), (reader) =>
        reader.manifest(trackId, profile, listener, havePieces, fromMs),
      ),
    piece: (trackId, profile, index, listener, fromMs) =>
      read(renditionKey(trackId, profile, fromMs), (reader) =>
        reader.piece(trackId, profile, index, listener, fromMs),
      ),
    range: (trackId, profile, start, endInclusive, listener) =>
      read(renditionKey(trackId, profile), (reader) =>
        reader.range(trackId, profile, start, endInclusive, listener),
      ),
  };
}
