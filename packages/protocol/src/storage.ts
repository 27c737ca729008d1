// Contract of the storage service: renditions (original, Opus/WebM) cut into verified pieces.
import { z } from "zod";
import { defineEvent, defineService } from "./contract";
import { offsetMs, profileName, streamManifest, trackId } from "./stream";

/** Raw bytes (a Buffer or Uint8Array); the bus carries them as bytes beside the JSON envelope, never as text. */
export const binary = z.custom<Uint8Array>((value) => value instanceof Uint8Array, "bytes");

const rendition = z.object({ trackId, profile: profileName });

/** Transcoding ahead of time: the batch since the queue was last idle. */
export const transcodeStatus = z.object({
  /** True while jobs wait or run. */
  working: z.boolean(),
  /** Renditions made (or found made) in this batch, and those that failed. */
  done: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Jobs in this batch: done + failed + waiting + running. */
  total: z.number().int().nonnegative(),
});
export type TranscodeStatus = z.infer<typeof transcodeStatus>;
export const transcodeProgressEvent = defineEvent("storage.transcodeProgress", transcodeStatus);

/** An album's cover resized to a square of `size` pixels (the catalog makes it; storage nodes keep it in a cluster). */
export const albumCoverParams = z.object({
  albumId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "an id"),
  size: z.union([z.literal(64), z.literal(300), z.literal(600)]).default(300),
});
export const coverImage = z.object({ bytes: binary, mimeType: z.string() });
export type CoverImage = z.infer<typeof coverImage>;

export const storageContract = defineService("storage", {
  /**
   * Without `havePieces`, the complete manifest (waits, bounded, for a transcode in progress to finish). With it,
   * the manifest as soon as it has more than `havePieces` pieces or is complete, or after the long-poll bound as
   * it is: a growing manifest announces each piece with its hash as ffmpeg finishes it.
   */
  manifest: {
    params: rendition.extend({
      havePieces: z.number().int().min(0).max(1_000_000).optional(),
      /** The offset rendition from this time on (a seek past what the transcode has reached). */
      fromMs: offsetMs.optional(),
    }),
    result: streamManifest,
  },
  /** One piece; servable as soon as its bytes exist, before the rest of the transcode is done. */
  piece: {
    params: rendition.extend({ index: z.number().int().min(0).max(1_000_000), fromMs: offsetMs.optional() }),
    result: z.object({ bytes: binary, complete: z.boolean() }),
  },
  /** Bytes [start, endInclusive] of a complete rendition, at most 1 MiB per call. */
  range: {
    params: rendition.extend({ start: z.number().int().min(0), endInclusive: z.number().int().min(0) }),
    result: z.object({ bytes: binary }),
  },
  /**
   * Handoff between storage nodes when the ring changes: a complete rendition this node holds, as its manifest and up
   * to 1 MiB of its bytes from `start`. Never transcodes: `NOT_FOUND` when the node does not hold it complete.
   */
  handoff: {
    params: rendition.extend({ start: z.number().int().min(0) }),
    result: z.object({ manifest: streamManifest, bytes: binary }),
  },
  /**
   * Internal (storage to storage, cluster mode): the node `from` made or took a rendition it owns and asks this node,
   * its replica on the ring, to take a copy of it (by `handoff` from `from`, in 1 MiB chunks, every piece's hash checked
   * here). Never transcodes: `have` when this node holds it already (nothing is sent), else `taken` with the bytes.
   */
  replicate: {
    params: rendition.extend({
      from: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "a storage node's id"),
    }),
    result: z.object({ status: z.enum(["have", "taken"]), bytes: z.number().int().nonnegative() }),
  },
  /** Transcodes ahead of time in the background (recently added, popular). */
  prepare: {
    params: z.object({
      trackIds: z.array(trackId).max(1_000),
      profiles: z.array(profileName).max(8).optional(),
    }),
    result: z.object({ queued: z.number().int() }),
  },
  /** Queues the `tracks` most recently added tracks (each in every profile made ahead), for administrators. */
  transcodeAhead: {
    params: z.object({
      tracks: z.number().int().min(1).max(1_000_000).default(500),
      profiles: z.array(profileName).min(1).max(8).optional(),
    }),
    result: transcodeStatus,
    exposed: true,
    adminOnly: true,
  },
  transcodeStatus: { params: z.object({}), result: transcodeStatus, exposed: true, adminOnly: true },
  /**
   * Internal (access point, cluster mode): an album's resized cover from this node's disk; a node without it asks
   * the catalog (which reads the art, enforces the pixel cap and resizes) and keeps the answer.
   */
  cover: { params: albumCoverParams, result: coverImage },
  stats: {
    params: z.object({}),
    result: z.object({
      renditions: z.number().int(),
      cachedBytes: z.number().int(),
      capBytes: z.number().int(),
      transcodesStarted: z.number().int(),
      /** Of those, transcodes that took an ffmpeg started ahead of time (a listener's cold click or seek). */
      transcodesWarm: z.number().int(),
      transcodesRunning: z.number().int(),
      /** Complete renditions taken from another node (a ring change: this node now owns them), and their bytes. */
      handoffs: z.number().int(),
      handoffBytes: z.number().int(),
      /** Copies taken as a replica (`replicate`), and their bytes; copies pushed to replicas that took them. */
      replicasTaken: z.number().int(),
      replicaBytes: z.number().int(),
      replicasPushed: z.number().int(),
      evictions: z.number().int(),
      queued: z.number().int(),
      /** The transcode scheduler: ffmpeg running and paused, jobs waiting by priority, refusals. */
      scheduler: z.object({
        running: z.number().int(),
        paused: z.number().int(),
        queuedListener: z.number().int(),
        queuedBackground: z.number().int(),
        started: z.number().int(),
        cancelled: z.number().int(),
        refusedPerUser: z.number().int(),
        refusedQueueFull: z.number().int(),
      }),
    }),
  },
});
export type StorageContract = typeof storageContract;
