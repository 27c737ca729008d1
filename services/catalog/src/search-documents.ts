// The catalog as search documents, a page at a time: every track, then every album, then every credited artist, one
// list whose places the cursor counts. A page reads only its own rows (the whole album and artist lists used to ride
// on the first page), so each request stays small however large the library is.
import type { SearchDocument } from "@soundmesh/protocol";
import { num, numOrNull, type CatalogDb } from "./catalog-tables";

const plural = (count: number, one: string) => `${count} ${one}${count === 1 ? "" : "s"}`;

function artistSubtitle(albumCount: number, appearsOnCount: number, trackCount: number): string {
  if (albumCount > 0) return plural(albumCount, "album");
  return appearsOnCount > 0 ? `Appears on ${plural(appearsOnCount, "album")}` : plural(trackCount, "song");
}

interface Section {
  table: "catalog_tracks" | "catalog_albums" | "catalog_artists";
  read(db: CatalogDb, offset: number, limit: number): Promise<SearchDocument[]>;
}

const sections: Section[] = [
  {
    table: "catalog_tracks",
    async read(db, offset, limit) {
      const rows = await db
        .selectFrom("catalog_tracks")
        .select(["id", "title", "artist", "album", "year"])
        .orderBy("id")
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map((row) => ({
        id: row.id,
        kind: "track",
        title: row.title,
        subtitle: `${row.artist} · ${row.album}`,
        artist: row.artist,
        album: row.album,
        year: numOrNull(row.year),
        popularity: 0,
      }));
    },
  },
  {
    table: "catalog_albums",
    async read(db, offset, limit) {
      const rows = await db
        .selectFrom("catalog_albums")
        .select(["id", "title", "album_artist", "year", "track_count"])
        .orderBy("id")
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map((album) => ({
        id: album.id,
        kind: "album",
        title: album.title,
        subtitle: album.album_artist,
        artist: album.album_artist,
        album: album.title,
        year: numOrNull(album.year),
        popularity: num(album.track_count),
      }));
    },
  },
  {
    table: "catalog_artists",
    async read(db, offset, limit) {
      const rows = await db
        .selectFrom("catalog_artists")
        .selectAll()
        .orderBy("artist_id")
        .limit(limit)
        .offset(offset)
        .execute();
      return rows.map((artist) => ({
        id: artist.artist_id,
        kind: "artist",
        title: artist.name,
        subtitle: artistSubtitle(
          num(artist.album_count),
          num(artist.appears_on_count),
          num(artist.track_count),
        ),
        artist: artist.name,
        album: "",
        year: null,
        popularity: num(artist.track_count),
      }));
    },
  },
];

/** Up to `limit` documents from place `cursor` on; `nextCursor` is null once the list's end is reached. */
export async function searchDocumentsPage(
  db: CatalogDb,
  cursor: number,
  limit: number,
): Promise<{ documents: SearchDocument[]; nextCursor: number | null }> {
  const documents: SearchDocument[] = [];
  /** The place of the current section's first document. */
  let start = 0;
  for (const section of sections) {
    const counted = await db
      .selectFrom(section.table)
      .select((eb) => eb.fn.countAll().as("n"))
      .executeTakeFirst();
    const end = start + num(counted?.n);
    const from = Math.max(cursor + documents.length, start);
    if (documents.length < limit && from < end)
      documents.push(
        ...(await section.read(db, from - start, Math.min(limit - documents.length, end - from))),
      );
    start = end;
  }
  const next = cursor + documents.length;
  // An empty page ends the list too: rows deleted since they were counted must not make a caller loop.
  return { documents, nextCursor: documents.length > 0 && next < start ? next : null };
}
