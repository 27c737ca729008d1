// Contract of the recommend service: radio from a track, album, artist or playlist, similar tracks and a daily mix,
// answered from track embeddings (co-listening, with tags as the cold start) in a nearest-neighbour index.
import { z } from "zod";
import { defineService } from "./contract";
import { trackId } from "./stream";

const seedId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "an id");

export const radioSeed = z.object({
  kind: z.enum(["track", "album", "artist", "playlist"]),
  id: seedId,
});
export type RadioSeed = z.infer<typeof radioSeed>;

/** Where a track's place in the index came from: plays (co-listening) or tags alone (nobody played it yet). */
export const vectorBasis = z.enum(["listening", "tags"]);
export type VectorBasis = z.infer<typeof vectorBasis>;

export const recommendedTrack = z.object({
  trackId: z.string(),
  /** Cosine similarity to the seed, 1 the same. */
  score: z.number(),
  basis: vectorBasis,
});
export type RecommendedTrack = z.infer<typeof recommendedTrack>;

export const radioIndexStatus = z.object({
  /** Whether an index is loaded; methods answer INDEX_NOT_BUILT until one is. */
  loaded: z.boolean(),
  /** The build's input fingerprint (the same input always builds the same bytes). */
  fingerprint: z.string().nullable(),
  tracks: z.number().int(),
  /** Of those, tracks placed by co-listening (the rest by their tags alone). */
  listenedTracks: z.number().int(),
  sessions: z.number().int(),
  plays: z.number().int(),
  /** The closed event buckets read, and the last hour among them (epoch ms). */
  buckets: z.number().int(),
  lastHour: z.number().int().nullable(),
  dimensions: z.number().int(),
  loadedAt: z.number().int().nullable(),
  /** A build is running (a rebuild answers at once; the new index is swapped in when it is done). */
  building: z.boolean(),
});
export type RadioIndexStatus = z.infer<typeof radioIndexStatus>;

/** Bounded lists the player sends: the tracks just played or already queued, never answered again. */
const excludeIds = z.array(trackId).max(2_000).default([]);
const limit = z.number().int().min(1).max(100).default(20);

export const recommendContract = defineService("recommend", {
  /** The next tracks of a radio: near the seed, none of `exclude`, at most two from one album in a row of ten. */
  radio: {
    params: z.object({ seed: radioSeed, limit, exclude: excludeIds }),
    result: z.object({ tracks: z.array(recommendedTrack) }),
    exposed: true,
  },
  /** The tracks nearest one track (no diversity rule: same album allowed). */
  similar: {
    params: z.object({ trackId, limit }),
    result: z.object({ tracks: z.array(recommendedTrack) }),
    exposed: true,
  },
  /** Today's mix for the caller: near their most played tracks, the same all day; the server's taste for a newcomer. */
  dailyMix: {
    params: z.object({ limit: z.number().int().min(1).max(100).default(30) }),
    result: z.object({ tracks: z.array(recommendedTrack), basedOn: z.enum(["you", "server", "catalog"]) }),
    exposed: true,
  },
  status: { params: z.object({}), result: radioIndexStatus, exposed: true, adminOnly: true },
  /** Starts a build from the closed buckets and the catalog (or joins the running one); answers at once. */
  rebuild: { params: z.object({}), result: radioIndexStatus, exposed: true, adminOnly: true },
});
export type RecommendContract = typeof recommendContract;
