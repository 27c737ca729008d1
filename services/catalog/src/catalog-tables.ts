// The catalog's table types (see migrations.ts): tracks as scanned, and what is derived from them in each scan's
// transaction (albums, the artists credited on tracks and on albums, old album ids and what they became).
import type { Kysely } from "@soundmesh/db";

export interface TrackRow {
  id: string;
  path: string;
  size_bytes: number;
  mtime_ms: number;
  fingerprint: string;
  title: string;
  /** The artist as tagged ("A feat. B"); the credited artists are in catalog_track_artists. */
  artist: string;
  /** The first credited artist's id: where the player's artist link goes. */
  artist_id: string;
  album: string;
  album_id: string;
  album_artist: string;
  compilation: number;
  track_no: number | null;
  disc_no: number | null;
  year: number | null;
  genre: string | null;
  duration_ms: number;
  codec: string | null;
  bitrate_kbps: number | null;
  mb_track_id: string | null;
  mb_album_id: string | null;
  rg_track_db: number | null;
  rg_album_db: number | null;
  has_picture: number;
  folder_cover: string | null;
  added_at: number;
  updated_at: number;
  /** The folder the album's files share (the parent of CD1/Disc 2 folders); null until a scan reads the file. */
  album_folder: string | null;
  album_artist_tag: string | null;
  compilation_tag: number;
  original_year: number | null;
  /** The last part of its path in lower case (playlist import looks files up by it); written with the row. */
  file_name: string | null;
}

export interface AlbumRow {
  id: string;
  title: string;
  album_artist: string;
  /** The first credited album artist's id. */
  artist_id: string;
  year: number | null;
  genre: string | null;
  compilation: number;
  track_count: number;
  disc_count: number;
  duration_ms: number;
  has_cover: number;
  mb_album_id: string | null;
  added_at: number;
}

export interface TrackArtistRow {
  track_id: string;
  position: number;
  artist_id: string;
  name: string;
}

export interface AlbumArtistRow {
  album_id: string;
  position: number;
  artist_id: string;
  name: string;
}

/** A removed track, kept with its id for a while so the file gets it back if it returns. */
export interface TombstoneRow {
  id: string;
  path: string;
  fingerprint: string;
  title: string;
  artist: string;
  album: string;
  duration_ms: number;
  added_at: number;
  removed_at: number;
}

/** Derived from the credits (artist-rows.ts). */
export interface ArtistRow {
  artist_id: string;
  name: string;
  /** lower(name), the order of the artist list. */
  sort_name: string;
  album_count: number;
  appears_on_count: number;
  track_count: number;
  added_at: number;
}

export interface CatalogTables {
  catalog_library_folders: { path: string; added_at: number };
  catalog_tombstones: TombstoneRow;
  catalog_tracks: TrackRow;
  catalog_albums: AlbumRow;
  catalog_track_artists: TrackArtistRow;
  catalog_album_artists: AlbumArtistRow;
  catalog_album_aliases: { old_id: string; album_id: string };
  catalog_artists: ArtistRow;
  catalog_scan_errors: {
    path: string;
    reason: string;
    size_bytes: number;
    mtime_ms: number;
    seen_at: number;
  };
}

export type CatalogDb = Kysely<CatalogTables>;

export function chunks<T>(items: readonly T[], size = 500): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

export const num = (value: unknown): number => Number(value ?? 0);
export const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
