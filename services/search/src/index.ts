// Public entry of the search service.
export {
  createSearchService,
  catalogSearchSource,
  searchManifest,
  type SearchService,
  type SearchSource,
} from "./search-service";
export { SearchIndex, CATALOG_KINDS, type IndexedDocument, type SearchGroup } from "./search-index";
export { normalise, transpositions, typoBudget } from "./ranking";
export { PlaylistIndex } from "./playlist-index";
export { playlistSearchSource, type PlaylistSearchSource } from "./playlist-keeper";
