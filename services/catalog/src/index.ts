// Public entry of the catalog service.
export {
  createCatalogService,
  catalogManifest,
  type CatalogService,
  type CatalogServiceConfig,
} from "./catalog-service";
export { CatalogStore } from "./sql-store";
export { migrateCatalogStore, catalogMigrations } from "./migrations";
export { scanLibrary, type ScanResult } from "./scanner";
export { titleFromFileName, idOf } from "./tags";
export { AlbumCovers, DecodeGate, defaultCoverLimits, oversizeReason, type CoverLimits } from "./covers";
