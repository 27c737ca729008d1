// search2 and search3 on our search service (prefix and typo tolerant); an empty query lists the whole library in a
// stable order, which apps use to sync it.
import { catalogContract, searchContract, type searchKind } from "@soundmesh/protocol";
import type { z } from "zod";
import { albumsByIds, allArtists, artistsByIds, tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { albumDirectoryOf, albumOf, albumsOf, artistsOf, songsOf } from "../mapping";
import type { Body } from "../response";

/** Query text as apps send it: Subsonic's quotes and wildcards are dropped. */
function cleanQuery(raw: string): string {
  return raw.replace(/["*]/g, " ").replace(/\s+/g, " ").trim();
}

async function hitIds(
  context: MethodContext,
  q: string,
  kind: z.infer<typeof searchKind>,
  count: number,
  offset: number,
) {
  if (count === 0) return [];
  // The search service pages up to 1,000 deep, 100 at a time.
  const ids: string[] = [];
  for (let start = offset; ids.length < count && start < 1_100; start += 100) {
    const answer = await context.call(searchContract, "query", {
      q,
      kinds: [kind],
      limit: Math.min(100, count - ids.length),
      offset: start,
    });
    ids.push(...answer.hits.map((hit) => hit.id));
    if (answer.hits.length === 0 || start + answer.hits.length >= answer.total) break;
  }
  return ids;
}

async function everything(context: MethodContext, counts: Counts) {
  const artists = (await allArtists(context)).slice(
    counts.artistOffset,
    counts.artistOffset + counts.artistCount,
  );
  const albums =
    counts.albumCount === 0
      ? []
      : (
          await context.call(catalogContract, "albums", {
            sort: "title",
            limit: counts.albumCount,
            offset: counts.albumOffset,
          })
        ).items;
  const trackIds =
    counts.songCount === 0
      ? []
      : (
          await context.call(catalogContract, "recentTrackIds", {
            limit: counts.songCount,
            offset: counts.songOffset,
          })
        ).trackIds;
  return { artists, albums, tracks: await tracksByIds(context, trackIds) };
}

interface Counts {
  artistCount: number;
  artistOffset: number;
  albumCount: number;
  albumOffset: number;
  songCount: number;
  songOffset: number;
}

async function search(context: MethodContext, albumShape: typeof albumOf): Promise<Body> {
  const { params } = context;
  const q = cleanQuery(params.string("query", 200));
  const counts: Counts = {
    artistCount: params.intOr("artistCount", 20, 0, 500),
    artistOffset: params.intOr("artistOffset", 0, 0, 1_000_000),
    albumCount: params.intOr("albumCount", 20, 0, 500),
    albumOffset: params.intOr("albumOffset", 0, 0, 1_000_000),
    songCount: params.intOr("songCount", 20, 0, 500),
    songOffset: params.intOr("songOffset", 0, 0, 1_000_000),
  };
  let found;
  if (q === "") found = await everything(context, counts);
  else {
    const [artistIds, albumIds, trackIds] = await Promise.all([
      hitIds(context, q, "artist", counts.artistCount, counts.artistOffset),
      hitIds(context, q, "album", counts.albumCount, counts.albumOffset),
      hitIds(context, q, "track", counts.songCount, counts.songOffset),
    ]);
    const [artists, albums, tracks] = await Promise.all([
      artistsByIds(context, artistIds),
      albumsByIds(context, albumIds),
      tracksByIds(context, trackIds),
    ]);
    found = { artists, albums, tracks };
  }
  return {
    artist: await artistsOf(context, found.artists),
    album: await albumsOf(context, found.albums, albumShape),
    song: await songsOf(context, found.tracks),
  };
}

export const searchMethods: MethodTable = {
  async search2(context) {
    return { searchResult2: await search(context, albumDirectoryOf) };
  },
  async search3(context) {
    return { searchResult3: await search(context, albumOf) };
  },
};
