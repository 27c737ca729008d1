// Contract of the search service: as-you-type, typo-tolerant search over tracks, albums, artists (and playlists).
import { z } from "zod";
import { defineService } from "./contract";

export const searchKind = z.enum(["track", "album", "artist", "playlist"]);

export const searchHit = z.object({
  id: z.string(),
  kind: searchKind,
  title: z.string(),
  subtitle: z.string(),
  score: z.number(),
  match: z.enum(["exact", "prefix", "fuzzy"]),
});
export type SearchHit = z.infer<typeof searchHit>;

/** The best few hits of one kind, ranked among that kind only, and how many of the kind matched. */
export const searchGroup = z.object({ kind: searchKind, hits: z.array(searchHit), total: z.number().int() });
export type SearchGroup = z.infer<typeof searchGroup>;

export const searchContract = defineService("search", {
  /**
   * One answer, two shapes: `groups` holds the best `perKind` of each kind asked for (artists, albums, tracks,
   * playlists, in that order), as the search page shows them; `hits` is one page across kinds (`limit`, `offset`).
   */
  query: {
    params: z.object({
      q: z.string().trim().min(1).max(200),
      kinds: z.array(searchKind).min(1).max(4).optional(),
      perKind: z.number().int().min(1).max(50).default(6),
      limit: z.number().int().min(1).max(100).default(20),
      offset: z.number().int().min(0).max(1_000).default(0),
    }),
    result: z.object({
      hits: z.array(searchHit),
      total: z.number().int(),
      groups: z.array(searchGroup),
      indexVersion: z.number().int(),
    }),
    exposed: true,
  },
  status: {
    params: z.object({}),
    result: z.object({
      indexVersion: z.number().int(),
      documents: z.number().int(),
      builtAt: z.number().int().nullable(),
      lastBuildMs: z.number().nullable(),
      rebuilding: z.boolean(),
      /** The playlist index, kept apart from the catalog's: builtAt is null until the playlist service answered. */
      playlists: z.object({ documents: z.number().int(), builtAt: z.number().int().nullable() }),
    }),
  },
});
export type SearchContract = typeof searchContract;
