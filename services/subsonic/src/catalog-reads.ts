// Reads of the catalog the Subsonic methods share: whole lists paged through (cached until the catalog changes),
// and records by id in bounded batches.
import { catalogContract, type AlbumRecord, type ArtistRecord, type TrackRecord } from "@soundmesh/protocol";
import type { MethodContext } from "./context";

const PAGE = 500;

/** Every artist by name (the catalog's order), built once per catalog version. */
export function allArtists(context: MethodContext): Promise<ArtistRecord[]> {
  return context.state.catalogCached("artists", async () => {
    const artists: ArtistRecord[] = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await context.call(catalogContract, "artists", { sort: "name", limit: PAGE, offset });
      artists.push(...page.items);
      if (page.items.length < PAGE || artists.length >= page.total) return artists;
    }
  });
}

/** Genres with their album and (album-based) song counts, built once per catalog version. */
export function genresWithCounts(
  context: MethodContext,
): Promise<Array<{ genre: string; albumCount: number; songCount: number }>> {
  return context.state.catalogCached("genres", async () => {
    const genres = await context.call(catalogContract, "genres", {});
    return Promise.all(
      genres.map(async ({ genre, albumCount }) => {
        const albums = await albumsByGenre(context, genre);
        return { genre, albumCount, songCount: albums.reduce((sum, album) => sum + album.trackCount, 0) };
      }),
    );
  });
}

export async function albumsByGenre(context: MethodContext, genre: string): Promise<AlbumRecord[]> {
  const albums: AlbumRecord[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await context.call(catalogContract, "byGenre", { genre, limit: PAGE, offset });
    albums.push(...page.items);
    if (page.items.length < PAGE || albums.length >= page.total) return albums;
  }
}

export async function albumsOfArtist(context: MethodContext, artistId: string): Promise<AlbumRecord[]> {
  const albums: AlbumRecord[] = [];
  for (const role of ["albumArtist", "appearsOn"] as const) {
    for (let offset = 0; ; offset += PAGE) {
      const page = await context.call(catalogContract, "albumsOfArtist", {
        artistId,
        role,
        limit: PAGE,
        offset,
      });
      albums.push(...page.items);
      if (page.items.length < PAGE || offset + page.items.length >= page.total) break;
    }
  }
  return albums;
}

/** Tracks by id in the order given; ids the catalog no longer has are left out. */
export async function tracksByIds(context: MethodContext, ids: readonly string[]): Promise<TrackRecord[]> {
  const byId = new Map<string, TrackRecord>();
  for (let start = 0; start < ids.length; start += PAGE) {
    const batch = [...new Set(ids.slice(start, start + PAGE))];
    for (const track of await context.call(catalogContract, "tracks", { trackIds: batch }))
      byId.set(track.id, track);
  }
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Albums by id in the order given; unknown ones are left out. */
export async function albumsByIds(context: MethodContext, ids: readonly string[]): Promise<AlbumRecord[]> {
  const found = await Promise.all(
    ids.map((albumId) =>
      context.call(catalogContract, "album", { albumId }).then(
        (answer) => answer.album,
        () => undefined,
      ),
    ),
  );
  return found.flatMap((album) => album ?? []);
}

export async function artistsByIds(context: MethodContext, ids: readonly string[]): Promise<ArtistRecord[]> {
  const found = await Promise.all(
    ids.map((artistId) =>
      context.call(catalogContract, "artist", { artistId }).then(
        (artist) => artist,
        () => undefined,
      ),
    ),
  );
  return found.flatMap((artist) => artist ?? []);
}
