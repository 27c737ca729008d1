// What the catalog service needs from its storage: scans write through it, browsing and search read through it.
// The SQL implementation (sql-store.ts, SQLite and PostgreSQL) sits beside it; tests may pass another.
import type { AlbumRecord, ArtistRecord, SearchDocument, SmartRules, TrackRecord } from "@soundmesh/protocol";
import type { SplitArtists } from "./artist-credits";
import type { AlbumFilter, AlbumOrder, ArtistOrder, Page } from "./browse-queries";
import type { TombstoneRow, TrackRow } from "./catalog-tables";
import type { FileState, FileStatesPage, Regrouped, TrackUpsert } from "./sql-store";

/** One scan's writes: tracks added or changed, removed, files that failed (and those that no longer do). */
export interface ScanChanges {
  upserts: readonly TrackUpsert[];
  deletions: readonly string[];
  errors: Array<{ path: string; reason: string; size_bytes: number; mtime_ms: number; seen_at: number }>;
  clearedErrorPaths: readonly string[];
  regrouped?: readonly Regrouped[];
  /** When the scan wrote: deleted tracks become tombstones from then (tombstones.ts). */
  nowMs?: number;
}

export interface CatalogStore {
  /** How an artist tag is split into credited artists (configured per library). */
  readonly splitArtists: SplitArtists;
  /** Every stored track's file state, or one page of them in path order (a scan reads them page by page). */
  fileStates(page?: FileStatesPage): Promise<FileState[]>;
  /** The tracks of these album folders, for grouping them again with the files a scan read. */
  tracksInFolders(folders: readonly string[]): Promise<TrackRow[]>;
  /** Applies one scan's changes in a transaction: the catalog never shows half a scan. */
  applyScan(changes: ScanChanges): Promise<void>;
  errorStates(): Promise<Array<{ path: string; size_bytes: number; mtime_ms: number }>>;
  scanErrors(limit: number, offset: number): Promise<Page<{ path: string; reason: string; seenAt: number }>>;
  track(id: string): Promise<TrackRow | undefined>;
  tracksByIds(ids: readonly string[]): Promise<TrackRow[]>;
  /** Track records with their credited artists, in the order of the rows given. */
  trackRecords(rows: readonly TrackRow[]): Promise<TrackRecord[]>;
  /** Tracks whose title is one of these (compared in lower case), for matching playlist-file entries by tags. */
  tracksByTitles(titles: string[]): Promise<TrackRow[]>;
  /** Tracks whose file name is one of these (in lower case), for matching playlist-file entries by path. */
  tracksByFileNames(names: readonly string[]): Promise<TrackRow[]>;
  recentTrackIds(limit: number, offset: number): Promise<string[]>;
  /** The ids of the tracks a smart playlist's rules select, in the rules' order. */
  smartTrackIds(rules: SmartRules, nowMs: number): Promise<string[]>;
  tracksOfAlbum(albumId: string): Promise<TrackRow[]>;
  /** The album with this id, or with the id an old one became (see recordAlbumAliases). */
  album(albumId: string): Promise<AlbumRecord | undefined>;
  albums(filter: AlbumFilter, order: AlbumOrder, limit: number, offset: number): Promise<Page<AlbumRecord>>;
  artists(order: ArtistOrder, limit: number, offset: number, artistId?: string): Promise<Page<ArtistRecord>>;
  genres(): Promise<Array<{ genre: string; albumCount: number }>>;
  years(): Promise<Array<{ year: number; albumCount: number }>>;
  randomTracks(limit: number): Promise<TrackRow[]>;
  /** Gives back memory a scan left in the database's caches. */
  releaseMemory(): Promise<void>;
  randomAlbums(limit: number): Promise<AlbumRecord[]>;
  /** Every track, album and credited artist as a search document; the cursor pages over tracks. */
  searchDocuments(
    cursor: number,
    limit: number,
  ): Promise<{ documents: SearchDocument[]; nextCursor: number | null }>;
  /** Removed tracks whose file may have come back: at one of these paths, or with one of these fingerprints. */
  tombstonesMatching(
    paths: readonly string[],
    fingerprints: readonly string[],
    nowMs: number,
  ): Promise<TombstoneRow[]>;
  tombstoneCount(): Promise<number>;
  /** The library folders recorded by the first run (or an explicit --add-library / --replace-library). */
  libraryFolders(): Promise<string[]>;
  recordLibraryFolders(folders: readonly string[], nowMs: number): Promise<void>;
  /** Tracks under a folder, or in all when none is named. */
  trackCount(folder?: string): Promise<number>;
}
