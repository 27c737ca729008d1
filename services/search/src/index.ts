// Public entry of the search service.
export {
  createSearchService,
  catalogSearchSource,
  searchManifest,
  type SearchService,
  type SearchSource,
} from "./search-service";
export { SearchIndex, type IndexedDocument } from "./search-index";
export { normalise } from "./ranking";
export { PlaylistIndex } from "./playlist-index";
export { playlistSearchSource, type PlaylistSearchSource } from "./playlist-keeper";
