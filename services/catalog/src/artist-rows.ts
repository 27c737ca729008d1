// Artists as rows: one per credited artist with their counts, derived from the credits of tracks and albums in the
// same transaction as every scan's changes (like album-rows.ts), so browsing artists reads an indexed table instead of
// grouping every credit of the library on each page.
import { sql } from "@soundmesh/db";
import { chunks, type CatalogDb } from "./catalog-tables";

/** The artists credited on these tracks or as album artists of these albums, as the tables say now. */
export async function creditedArtists(
  trx: CatalogDb,
  trackIds: readonly string[],
  albumIds: readonly string[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of chunks([...new Set(trackIds)]))
    for (const row of await trx
      .selectFrom("catalog_track_artists")
      .select("artist_id")
      .where("track_id", "in", part)
      .execute())
      found.add(row.artist_id);
  for (const part of chunks([...new Set(albumIds)]))
    for (const row of await trx
      .selectFrom("catalog_album_artists")
      .select("artist_id")
      .where("album_id", "in", part)
      .execute())
      found.add(row.artist_id);
  return found;
}

/** Writes the rows of these artists anew from their credits; an artist no longer credited loses its row. */
export async function rederiveArtists(trx: CatalogDb, artistIds: Iterable<string>): Promise<void> {
  for (const part of chunks([...new Set(artistIds)])) {
    await trx.deleteFrom("catalog_artists").where("artist_id", "in", part).execute();
    const ids = sql.join(part);
    await sql`
      insert into catalog_artists
        (artist_id, name, sort_name, album_count, appears_on_count, track_count, added_at)
      select artist_id, min(name), lower(min(name)),
        count(distinct case when is_album = 1 then album_id end),
        count(distinct album_id) - count(distinct case when is_album = 1 then album_id end),
        count(distinct track_id), max(added_at)
      from (
        select c.artist_id, c.name, c.album_id, cast(null as varchar(64)) as track_id, 1 as is_album, a.added_at
          from catalog_album_artists c join catalog_albums a on a.id = c.album_id where c.artist_id in (${ids})
        union all
        select c.artist_id, c.name, t.album_id, c.track_id, 0 as is_album, t.added_at
          from catalog_track_artists c join catalog_tracks t on t.id = c.track_id where c.artist_id in (${ids})
      ) credited
      group by artist_id`.execute(trx);
  }
}
