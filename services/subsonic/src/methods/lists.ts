// Lists: getAlbumList/2 with every type, random songs, songs by genre, now playing, starred.
import { catalogContract, eventsContract, type AlbumRecord, type AnnotatedKind } from "@soundmesh/protocol";
import { albumsByGenre, albumsByIds, artistsByIds, tracksByIds } from "../catalog-reads";
import type { MethodContext, MethodTable } from "../context";
import { SubsonicError } from "../errors";
import { albumDirectoryOf, albumOf, albumsOf, artistsOf, songsOf } from "../mapping";
import type { Body } from "../response";

const listTypes = [
  "random",
  "newest",
  "highest",
  "frequent",
  "recent",
  "alphabeticalByName",
  "alphabeticalByArtist",
  "starred",
  "byYear",
  "byGenre",
] as const;

async function albumsForList(context: MethodContext): Promise<AlbumRecord[]> {
  const { params } = context;
  const type = params.oneOf("type", listTypes);
  const size = params.intOr("size", 10, 0, 500);
  const offset = params.intOr("offset", 0, 0, 1_000_000);
  if (size === 0) return [];
  const sorted = async (sort: "title" | "artist" | "recent") =>
    (await context.call(catalogContract, "albums", { sort, limit: size, offset })).items;
  // Lists kept by the events service hold at most 500 entries; they are paged here.
  const byIds = (ids: string[]) => albumsByIds(context, ids.slice(offset, offset + size));
  switch (type) {
    case "random":
      return (await context.call(catalogContract, "random", { kind: "albums", limit: size })).albums;
    case "newest":
      return sorted("recent");
    case "alphabeticalByName":
      return sorted("title");
    case "alphabeticalByArtist":
      return sorted("artist");
    case "highest":
      return byIds(
        (await context.call(eventsContract, "rated", { kind: "album", limit: 500 })).map((a) => a.id),
      );
    case "starred":
      return byIds(
        (await context.call(eventsContract, "starred", { kind: "album", limit: 500 })).map((a) => a.id),
      );
    case "frequent": {
      const top = await context.call(eventsContract, "top", {
        kind: "album",
        period: "all",
        scope: "me",
        limit: 100,
      });
      return byIds(top.map((entry) => entry.id));
    }
    case "recent": {
      const plays = await context.call(eventsContract, "recentlyPlayed", { limit: 500 });
      return byIds([...new Set(plays.flatMap((play) => (play.albumId === null ? [] : [play.albumId])))]);
    }
    case "byGenre":
      return (
        await context.call(catalogContract, "byGenre", {
          genre: params.string("genre", 200),
          limit: size,
          offset,
        })
      ).items;
    case "byYear":
      return albumsByYears(
        context,
        params.int("fromYear", 0, 3000),
        params.int("toYear", 0, 3000),
        size,
        offset,
      );
  }
}

/** Albums from `fromYear` to `toYear` (descending when fromYear is the later), a page of them. */
async function albumsByYears(
  context: MethodContext,
  fromYear: number,
  toYear: number,
  size: number,
  offset: number,
): Promise<AlbumRecord[]> {
  const [low, high] = fromYear <= toYear ? [fromYear, toYear] : [toYear, fromYear];
  const years = (await context.call(catalogContract, "years", {}))
    .filter(({ year }) => year >= low && year <= high)
    .sort((a, b) => (fromYear <= toYear ? a.year - b.year : b.year - a.year));
  const albums: AlbumRecord[] = [];
  let skip = offset;
  for (const { year, albumCount } of years) {
    if (albums.length >= size) break;
    if (skip >= albumCount) {
      skip -= albumCount;
      continue;
    }
    const page = await context.call(catalogContract, "byYear", {
      year,
      limit: Math.min(500, size - albums.length),
      offset: skip,
    });
    albums.push(...page.items);
    skip = 0;
  }
  return albums;
}

async function starredLists(context: MethodContext, albumShape: typeof albumOf = albumOf): Promise<Body> {
  const starredIds = async (kind: AnnotatedKind) =>
    (await context.call(eventsContract, "starred", { kind, limit: 500 })).map((note) => note.id);
  const [artistIds, albumIds, trackIds] = await Promise.all([
    starredIds("artist"),
    starredIds("album"),
    starredIds("track"),
  ]);
  const [artists, albums, tracks] = await Promise.all([
    artistsByIds(context, artistIds),
    albumsByIds(context, albumIds),
    tracksByIds(context, trackIds),
  ]);
  return {
    artist: await artistsOf(context, artists),
    album: await albumsOf(context, albums, albumShape),
    song: await songsOf(context, tracks),
  };
}

export const listMethods: MethodTable = {
  async getAlbumList(context) {
    return { albumList: { album: await albumsOf(context, await albumsForList(context), albumDirectoryOf) } };
  },
  async getAlbumList2(context) {
    return { albumList2: { album: await albumsOf(context, await albumsForList(context), albumOf) } };
  },

  async getRandomSongs(context) {
    const { params } = context;
    const size = params.intOr("size", 10, 0, 500);
    const genre = params.optionalString("genre", 200)?.toLowerCase();
    const fromYear = params.optionalInt("fromYear", 0, 3000);
    const toYear = params.optionalInt("toYear", 0, 3000);
    if (params.has("musicFolderId") && params.optionalInt("musicFolderId", -1e6, 1e6) !== 1)
      throw new SubsonicError(70, "No such music folder");
    if (size === 0) return { randomSongs: { song: [] } };
    const isFiltered = genre !== undefined || fromYear !== undefined || toYear !== undefined;
    // With filters, a larger random sample is drawn and filtered (the catalog's random takes no filters).
    const { tracks } = await context.call(catalogContract, "random", {
      kind: "tracks",
      limit: isFiltered ? 500 : size,
    });
    const chosen = tracks
      .filter((track) => genre === undefined || track.genre?.toLowerCase() === genre)
      .filter((track) => fromYear === undefined || (track.year !== null && track.year >= fromYear))
      .filter((track) => toYear === undefined || (track.year !== null && track.year <= toYear))
      .slice(0, size);
    return { randomSongs: { song: await songsOf(context, chosen) } };
  },

  async getSongsByGenre(context) {
    const { params } = context;
    const genre = params.string("genre", 200);
    const count = params.intOr("count", 10, 0, 500);
    const offset = params.intOr("offset", 0, 0, 1_000_000);
    const wanted = genre.toLowerCase();
    const songs = [];
    let skip = offset;
    // Albums of the genre in the catalog's order, their tracks of that genre in album order: a stable paging.
    for (const album of await albumsByGenre(context, genre)) {
      if (songs.length >= count) break;
      const { tracks } = await context.call(catalogContract, "album", { albumId: album.id });
      for (const track of tracks) {
        if (track.genre?.toLowerCase() !== wanted) continue;
        if (skip > 0) skip -= 1;
        else if (songs.length < count) songs.push(track);
      }
    }
    return { songsByGenre: { song: await songsOf(context, songs) } };
  },

  async getNowPlaying(context) {
    const entries = context.state.current();
    const tracks = new Map(
      (
        await tracksByIds(
          context,
          entries.map((entry) => entry.trackId),
        )
      ).map((t) => [t.id, t]),
    );
    const songs = await songsOf(context, [...tracks.values()]);
    const songOf = new Map(songs.map((song) => [song.id, song]));
    const now = Date.now();
    return {
      nowPlaying: {
        entry: entries.flatMap((entry) => {
          const song = songOf.get(`tr-${entry.trackId}`);
          if (!song) return [];
          return [
            {
              ...song,
              username: entry.userName,
              minutesAgo: Math.floor((now - entry.startedAtMs) / 60_000),
              playerId: 0,
              playerName: entry.playerName,
            },
          ];
        }),
      },
    };
  },

  async getStarred(context) {
    return { starred: await starredLists(context, albumDirectoryOf) };
  },
  async getStarred2(context) {
    return { starred2: await starredLists(context) };
  },
};
