// Reading albums and artists for browsing: album rows with their credited artists, and every artist credited on a
// track or as an album artist, counted and sorted in SQL (the same on SQLite and PostgreSQL).
import { sql } from "@soundmesh/db";
import type { AlbumRecord, ArtistCredit, ArtistRecord } from "@soundmesh/protocol";
import { chunks, num, numOrNull, type AlbumRow, type CatalogDb } from "./catalog-tables";

export interface Page<T> {
  items: T[];
  total: number;
}

export interface AlbumFilter {
  /** With `role`: the artist's own albums (album artist), or the other albums a track of which credits them. */
  artistId?: string;
  role?: "albumArtist" | "appearsOn";
  genre?: string;
  year?: number;
}

export type AlbumOrder = "title" | "artist" | "year" | "recent" | "random";
export type ArtistOrder = "name" | "recent";

function albumOf(row: AlbumRow, credits: readonly ArtistCredit[]): AlbumRecord {
  return {
    id: row.id,
    title: row.title,
    albumArtist: row.album_artist,
    artistId: row.artist_id,
    artists: credits.length > 0 ? [...credits] : [{ id: row.artist_id, name: row.album_artist }],
    year: numOrNull(row.year),
    genre: row.genre,
    compilation: num(row.compilation) !== 0,
    trackCount: num(row.track_count),
    discCount: Math.max(1, num(row.disc_count)),
    durationMs: num(row.duration_ms),
    hasCover: num(row.has_cover) !== 0,
    musicBrainzAlbumId: row.mb_album_id,
    addedAt: num(row.added_at),
  };
}

async function withCredits(db: CatalogDb, rows: readonly AlbumRow[]): Promise<AlbumRecord[]> {
  const credits = new Map<string, ArtistCredit[]>();
  for (const part of chunks(rows.map((row) => row.id))) {
    const found = await db
      .selectFrom("catalog_album_artists")
      .select(["album_id", "artist_id", "name"])
      .where("album_id", "in", part)
      .orderBy("album_id")
      .orderBy("position")
      .execute();
    for (const credit of found)
      credits.set(credit.album_id, [
        ...(credits.get(credit.album_id) ?? []),
        { id: credit.artist_id, name: credit.name },
      ]);
  }
  return rows.map((row) => albumOf(row, credits.get(row.id) ?? []));
}

export async function browseAlbum(db: CatalogDb, albumId: string): Promise<AlbumRecord | undefined> {
  const alias = await db
    .selectFrom("catalog_album_aliases")
    .select("album_id")
    .where("old_id", "=", albumId)
    .executeTakeFirst();
  const ids = alias ? [albumId, alias.album_id] : [albumId];
  const rows = await db.selectFrom("catalog_albums").selectAll().where("id", "in", ids).execute();
  const row = rows.find((candidate) => candidate.id === albumId) ?? rows[0];
  return row ? (await withCredits(db, [row]))[0] : undefined;
}

/** The albums with these ids (in index order), with their credits. */
export async function albumsByIds(db: CatalogDb, ids: readonly string[]): Promise<AlbumRecord[]> {
  if (ids.length === 0) return [];
  return withCredits(db, await db.selectFrom("catalog_albums").selectAll().where("id", "in", ids).execute());
}

/** Albums filtered by artist, genre or year, ordered, paged; total counts every matching album. */
export async function browseAlbums(
  db: CatalogDb,
  filter: AlbumFilter,
  order: AlbumOrder,
  limit: number,
  offset: number,
): Promise<Page<AlbumRecord>> {
  let query = db.selectFrom("catalog_albums");
  if (filter.artistId !== undefined) {
    const own = db
      .selectFrom("catalog_album_artists")
      .select("album_id")
      .where("artist_id", "=", filter.artistId);
    if (filter.role === "appearsOn") {
      const credited = db
        .selectFrom("catalog_track_artists")
        .innerJoin("catalog_tracks", "catalog_tracks.id", "catalog_track_artists.track_id")
        .select("catalog_tracks.album_id")
        .where("catalog_track_artists.artist_id", "=", filter.artistId);
      query = query.where("id", "in", credited).where("id", "not in", own);
    } else query = query.where("id", "in", own);
  }
  if (filter.genre !== undefined) query = query.where("genre", "=", filter.genre);
  if (filter.year !== undefined) query = query.where("year", "=", filter.year);
  const total = await query.select((eb) => eb.fn.countAll().as("n")).executeTakeFirst();
  const rows = query.selectAll();
  const ordered =
    order === "recent"
      ? rows.orderBy("added_at", "desc")
      : order === "random"
        ? rows.orderBy(sql`random()`)
        : order === "year"
          ? rows.orderBy(sql`coalesce(year, -1)`, "desc").orderBy(sql`lower(title)`)
          : order === "artist"
            ? rows
                .orderBy(sql`lower(album_artist)`)
                .orderBy(sql`coalesce(year, 0)`)
                .orderBy(sql`lower(title)`)
            : rows.orderBy(sql`lower(title)`);
  const found = await ordered.orderBy("id").limit(limit).offset(offset).execute();
  return { items: await withCredits(db, found), total: num(total?.n) };
}

/** Credited artists, from their rows (artist-rows.ts), by name or newest first; one artist when `artistId` is given. */
export async function browseArtists(
  db: CatalogDb,
  order: ArtistOrder,
  limit: number,
  offset: number,
  artistId?: string,
): Promise<Page<ArtistRecord>> {
  let query = db.selectFrom("catalog_artists");
  if (artistId !== undefined) query = query.where("artist_id", "=", artistId);
  const total = await query.select((eb) => eb.fn.countAll().as("n")).executeTakeFirst();
  const ordered =
    order === "recent"
      ? query.selectAll().orderBy("added_at", "desc").orderBy("artist_id")
      : query.selectAll().orderBy("sort_name").orderBy("artist_id");
  const rows = await ordered.limit(limit).offset(offset).execute();
  return {
    items: rows.map((row) => ({
      id: row.artist_id,
      name: row.name,
      albumCount: num(row.album_count),
      appearsOnCount: num(row.appears_on_count),
      trackCount: num(row.track_count),
      addedAt: num(row.added_at),
    })),
    total: num(total?.n),
  };
}

export async function genresOfAlbums(db: CatalogDb): Promise<Array<{ genre: string; albumCount: number }>> {
  const rows = await db
    .selectFrom("catalog_albums")
    .select((eb) => ["genre", eb.fn.countAll().as("n")])
    .where("genre", "is not", null)
    .groupBy("genre")
    .orderBy("genre")
    .execute();
  return rows.map((r) => ({ genre: String(r.genre), albumCount: num(r.n) }));
}

export async function yearsOfAlbums(db: CatalogDb): Promise<Array<{ year: number; albumCount: number }>> {
  const rows = await db
    .selectFrom("catalog_albums")
    .select((eb) => ["year", eb.fn.countAll().as("n")])
    .where("year", "is not", null)
    .groupBy("year")
    .orderBy("year", "desc")
    .execute();
  return rows.map((r) => ({ year: num(r.year), albumCount: num(r.n) }));
}
