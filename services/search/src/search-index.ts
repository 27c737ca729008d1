// One immutable search index (MiniSearch): normalised terms, prefix on the word being typed, fuzzy by word length.
// Chosen by bench/search.ts over FlexSearch and Orama: see the README's search table for the figures.
import MiniSearch, { type SearchOptions } from "minisearch";
import type { SearchDocument, SearchHit } from "@soundmesh/protocol";
import { mergeRanked, normalise, searchRanked, type RankedHit } from "./ranking";

export type IndexedDocument = Omit<SearchDocument, "kind"> & { kind: SearchHit["kind"] };

export class SearchIndex {
  private readonly engine: MiniSearch<IndexedDocument>;
  private readonly documents = new Map<string, IndexedDocument>();

  private constructor() {
    this.engine = new MiniSearch<IndexedDocument>({
      idField: "key",
      fields: ["title", "artist", "album"],
      storeFields: [],
      processTerm: (term) => normalise(term),
      extractField: (document, field) =>
        field === "key"
          ? `${document.kind}:${document.id}`
          : String(document[field as keyof IndexedDocument] ?? ""),
    });
  }

  static empty(): SearchIndex {
    return new SearchIndex();
  }

  /** Builds in chunks that yield to the event loop, so queries on the current index keep being answered. */
  static async build(batches: AsyncIterable<IndexedDocument[]>): Promise<SearchIndex> {
    const index = new SearchIndex();
    for await (const batch of batches) {
      const fresh = batch.filter((document) => !index.documents.has(`${document.kind}:${document.id}`));
      for (const document of fresh) index.documents.set(`${document.kind}:${document.id}`, document);
      await index.engine.addAllAsync(fresh, { chunkSize: 500 });
    }
    return index;
  }

  get size(): number {
    return this.documents.size;
  }

  search(
    query: string,
    kinds: ReadonlySet<string> | undefined,
    limit: number,
    offset: number,
  ): { hits: SearchHit[]; total: number } {
    const { ranked, total } = this.ranked(query, kinds, offset + limit);
    return { total, hits: mergeRanked([ranked], offset, limit) };
  }

  /** The best `wanted` hits in rank order (to merge with other indexes' hits), and how many matched. */
  ranked(
    query: string,
    kinds: ReadonlySet<string> | undefined,
    wanted: number,
  ): { ranked: RankedHit[]; total: number } {
    const options: SearchOptions = {
      boost: { title: 3, artist: 1.5, album: 1 },
      ...(kinds ? { filter: (result: { id: unknown }) => kinds.has(String(result.id).split(":")[0]!) } : {}),
    };
    return searchRanked(this.engine, query, options, wanted, (key) => {
      const document = this.documents.get(key)!;
      return {
        popularity: document.popularity,
        hit: { id: document.id, kind: document.kind, title: document.title, subtitle: document.subtitle },
      };
    });
  }
}
