// Handoff between storage nodes when the ring changes: a node that now owns a rendition it lacks takes it whole from
// the nodes that held it before (each asked on its own subject, in 1 MiB chunks) instead of transcoding it again.
import type { Logger } from "pino";
import type { ServiceBus } from "@soundmesh/bus";
import { AppError, storageContract, toAppError, type StreamManifest } from "@soundmesh/protocol";
import type { FetchHandoff, RenditionStore } from "./rendition-store";

/** Bytes per `handoff` answer: a bus message stays well under NATS's 8 MiB payload limit. */
export const HANDOFF_CHUNK_BYTES = 1024 * 1024;
/** The first chunk's wait: a peer that does not answer in this is skipped for the next (or a transcode). */
const FIRST_CHUNK_TIMEOUT_MS = 3_000;
/** A later chunk's: the peer has the rendition and is sending it. */
const CHUNK_TIMEOUT_MS = 10_000;

/**
 * Which nodes to ask for a rendition, in order: in a cluster, the key's owners on the ring as it would be without
 * this node (those that held it before this node took its place), and none when this node does not own the key.
 */
export type HandoffPeers = (trackId: string, profile: string) => readonly string[];

/** A complete rendition whole from one node, asked by `handoff` in 1 MiB chunks (the caller checks its hashes). */
export async function fetchRenditionFrom(
  bus: ServiceBus,
  node: string,
  trackId: string,
  profile: string,
): Promise<{ manifest: StreamManifest; bytes: Uint8Array }> {
  const ask = (start: number) =>
    bus.request(
      storageContract,
      "handoff",
      { trackId, profile, start },
      { instance: node, timeoutMs: start === 0 ? FIRST_CHUNK_TIMEOUT_MS : CHUNK_TIMEOUT_MS },
    );
  const first = await ask(0);
  const { manifest } = first;
  const bytes = new Uint8Array(manifest.sizeBytes);
  let filled = 0;
  for (let chunk = first.bytes; ; chunk = (await ask(filled)).bytes) {
    if (chunk.byteLength === 0 || filled + chunk.byteLength > bytes.byteLength)
      throw new AppError("INTERNAL", `${node} sent a chunk that does not fit the rendition`);
    bytes.set(chunk, filled);
    filled += chunk.byteLength;
    if (filled === bytes.byteLength) return { manifest, bytes };
  }
}

export function fetchHandoffFrom(bus: ServiceBus, peers: HandoffPeers, logger: Logger): FetchHandoff {
  return async (trackId, profile) => {
    for (const node of peers(trackId, profile)) {
      try {
        return await fetchRenditionFrom(bus, node, trackId, profile);
      } catch (error) {
        const appError = toAppError(error);
        if (appError.code !== "NOT_FOUND")
          logger.info({ node, trackId, profile, code: appError.code }, "handoff: node skipped");
      }
    }
    return undefined;
  };
}

/** Where a rendition goes when this node leaves: the node that owns it once this one is gone, or none to skip it. */
export type HandOverTarget = (trackId: string, profile: string) => string | undefined;

/** Renditions handed over at once by a leaving node. */
const HAND_OVER_AT_ONCE = 2;

/**
 * A node leaving cleanly, while still on the ring: each rendition it owns is asked of its next owner (which takes it
 * from here by handoff), most recently used first, until `withinMs` has passed. Returns what was handed over.
 */
export async function handOver(
  bus: ServiceBus,
  store: Pick<RenditionStore, "heldRenditions">,
  target: HandOverTarget,
  withinMs: number,
  logger: Logger,
): Promise<{ renditions: number; bytes: number }> {
  const deadlineMs = performance.now() + withinMs;
  const queue = store.heldRenditions();
  const done = { renditions: 0, bytes: 0 };
  const next = async (): Promise<void> => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const node = target(item.trackId, item.profile);
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) return;
      if (node === undefined) continue;
      try {
        await bus.request(
          storageContract,
          "manifest",
          { trackId: item.trackId, profile: item.profile },
          { instance: node, timeoutMs: leftMs },
        );
        done.renditions += 1;
        done.bytes += item.sizeBytes;
      } catch (error) {
        logger.info({ node, ...item, code: toAppError(error).code }, "rendition not handed over");
      }
    }
  };
  await Promise.all(Array.from({ length: HAND_OVER_AT_ONCE }, next));
  return done;
}
