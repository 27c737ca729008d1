// Public entry of the search service.
export {
  createSearchService,
  catalogSearchSource,
  searchManifest,
  type SearchService,
  type SearchSource,
} from "./search-service";
export { SearchIndex, normalise, type IndexedDocument } from "./search-index";
