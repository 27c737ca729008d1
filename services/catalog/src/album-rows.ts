// Album rows, derived from their tracks inside each scan's transaction: one genre (the most common) and one year (the
// most common original year) per album, so every page shows the same; the album's credited artists; and an alias
// for an album id whose tracks now form another album, so old links and pins still open it.
import type { SplitArtists } from "./artist-credits";
import { chunks, num, numOrNull, type AlbumRow, type CatalogDb, type TrackRow } from "./catalog-tables";
import { VARIOUS_ARTISTS, idOf } from "./tags";

/** The most frequent value, ties going to the one met first (tracks come in disc and track order). */
function mostCommon<T>(values: readonly T[]): T | null {
  const counts = new Map<T, number>();
  let best: T | null = null;
  let bestCount = 0;
  for (const value of values) {
    const count = (counts.get(value) ?? 0) + 1;
    counts.set(value, count);
    if (count > bestCount) {
      best = value;
      bestCount = count;
    }
  }
  return best;
}

const byDiscAndTrack = (a: TrackRow, b: TrackRow) =>
  (numOrNull(a.disc_no) ?? 1) - (numOrNull(b.disc_no) ?? 1) ||
  (numOrNull(a.track_no) ?? 0) - (numOrNull(b.track_no) ?? 0) ||
  a.path.localeCompare(b.path);

/** The album artists an album credits: Various Artists for a compilation without its own, else the tag split. */
export function albumCreditsOf(albumArtist: string, splitArtists: SplitArtists): string[] {
  if (albumArtist.toLowerCase() === VARIOUS_ARTISTS.toLowerCase()) return [VARIOUS_ARTISTS];
  const credits = splitArtists(albumArtist);
  return credits.length > 0 ? credits : [albumArtist];
}

function albumOf(albumId: string, tracks: TrackRow[], splitArtists: SplitArtists): AlbumRow {
  const ordered = [...tracks].sort(byDiscAndTrack);
  const first = ordered[0]!;
  const albumArtist = mostCommon(ordered.map((t) => t.album_artist)) ?? first.album_artist;
  const genres = ordered.map((t) => t.genre).filter((genre): genre is string => genre !== null);
  const years = ordered
    .map((t) => numOrNull(t.original_year) ?? numOrNull(t.year))
    .filter((year): year is number => year !== null);
  const discs = new Set(ordered.map((t) => numOrNull(t.disc_no) ?? 1));
  return {
    id: albumId,
    title: mostCommon(ordered.map((t) => t.album)) ?? first.album,
    album_artist: albumArtist,
    artist_id: idOf(albumCreditsOf(albumArtist, splitArtists)[0]!),
    year: mostCommon(years),
    genre: mostCommon(genres),
    compilation: ordered.some((t) => num(t.compilation) !== 0) ? 1 : 0,
    track_count: ordered.length,
    disc_count: Math.max(discs.size, ...ordered.map((t) => numOrNull(t.disc_no) ?? 1)),
    duration_ms: ordered.reduce((sum, t) => sum + num(t.duration_ms), 0),
    has_cover: ordered.some((t) => num(t.has_picture) !== 0 || t.folder_cover !== null) ? 1 : 0,
    mb_album_id: mostCommon(ordered.map((t) => t.mb_album_id).filter((id) => id !== null)),
    added_at: Math.min(...ordered.map((t) => num(t.added_at))),
  };
}

/**
 * Rewrites the album rows and album credits of these album ids from their tracks now; an id left without tracks goes.
 * Returns the ids that still have tracks.
 */
export async function rederiveAlbums(
  trx: CatalogDb,
  albumIds: ReadonlySet<string>,
  splitArtists: SplitArtists,
): Promise<Set<string>> {
  const living = new Set<string>();
  for (const ids of chunks([...albumIds])) {
    const tracks = await trx.selectFrom("catalog_tracks").selectAll().where("album_id", "in", ids).execute();
    const byAlbum = new Map<string, TrackRow[]>();
    for (const track of tracks) byAlbum.set(track.album_id, [...(byAlbum.get(track.album_id) ?? []), track]);
    await trx.deleteFrom("catalog_albums").where("id", "in", ids).execute();
    await trx.deleteFrom("catalog_album_artists").where("album_id", "in", ids).execute();
    const albums = [...byAlbum].map(([id, members]) => albumOf(id, members, splitArtists));
    for (const rows of chunks(albums, 200)) await trx.insertInto("catalog_albums").values(rows).execute();
    const credits = albums.flatMap((album) =>
      albumCreditsOf(album.album_artist, splitArtists).map((name, position) => ({
        album_id: album.id,
        position,
        artist_id: idOf(name),
        name,
      })),
    );
    for (const rows of chunks(credits)) await trx.insertInto("catalog_album_artists").values(rows).execute();
    for (const album of albums) living.add(album.id);
  }
  return living;
}

/**
 * Records what became of album ids that lost all their tracks to other albums (the one most of them joined), and
 * forgets aliases of ids that have tracks again. `moves` maps each moved track's old album id to its new one.
 */
export async function recordAlbumAliases(
  trx: CatalogDb,
  moves: ReadonlyArray<{ from: string; to: string }>,
  living: ReadonlySet<string>,
): Promise<void> {
  const destinations = new Map<string, string[]>();
  for (const { from, to } of moves)
    if (from !== to) destinations.set(from, [...(destinations.get(from) ?? []), to]);
  for (const [oldId, targets] of destinations) {
    if (living.has(oldId)) continue;
    const albumId = mostCommon(targets)!;
    await trx.deleteFrom("catalog_album_aliases").where("old_id", "=", oldId).execute();
    await trx.insertInto("catalog_album_aliases").values({ old_id: oldId, album_id: albumId }).execute();
    await trx
      .updateTable("catalog_album_aliases")
      .set({ album_id: albumId })
      .where("album_id", "=", oldId)
      .execute();
  }
  for (const ids of chunks([...living]))
    await trx.deleteFrom("catalog_album_aliases").where("old_id", "in", ids).execute();
}
