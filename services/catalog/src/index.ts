// Public entry of the catalog service.
export {
  createCatalogService,
  catalogManifest,
  type CatalogService,
  type CatalogServiceConfig,
} from "./catalog-service";
export { SqlCatalogStore, type CatalogStoreOptions } from "./sql-store";
export type { CatalogStore, ScanChanges } from "./store";
export { migrateCatalogStore, catalogMigrations } from "./migrations";
export { scanLibrary, type ScanResult } from "./scanner";
export {
  MASS_REMOVAL_MIN_TRACKS,
  MASS_REMOVAL_SHARE,
  checkFolders,
  folderProblem,
  scanProblemOf,
} from "./library-safety";
export { TOMBSTONE_KEEP_MS } from "./tombstones";
export { titleFromFileName, idOf } from "./tags";
export {
  createArtistSplitter,
  DEFAULT_ARTIST_SEPARATORS,
  type ArtistSplitting,
  type SplitArtists,
} from "./artist-credits";
export { oggDurationSeconds, readFileEnds } from "./file-ends";
export { AlbumCovers, DecodeGate, defaultCoverLimits, oversizeReason, type CoverLimits } from "./covers";
