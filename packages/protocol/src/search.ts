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

export const searchContract = defineService("search", {
  query: {
    params: z.object({
      q: z.string().trim().min(1).max(200),
      kinds: z.array(searchKind).min(1).max(4).optional(),
      limit: z.number().int().min(1).max(100).default(20),
      offset: z.number().int().min(0).max(1_000).default(0),
    }),
    result: z.object({ hits: z.array(searchHit), total: z.number().int(), indexVersion: z.number().int() }),
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
