// One immutable search index (MiniSearch): normalised terms, prefix on the word being typed, fuzzy by word length.
// Chosen by bench/search.ts over FlexSearch and Orama: see the README's search table for the figures.
import MiniSearch, { type SearchOptions } from "minisearch";
import type { SearchDocument, SearchHit } from "@soundmesh/protocol";

export type IndexedDocument = Omit<SearchDocument, "kind"> & { kind: SearchHit["kind"] };

/** Lower case without diacritics: "Beyoncé" and "beyonce" are the same term. */
export function normalise(term: string): string {
  return term.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

const MATCH_RANK = { exact: 0, prefix: 1, fuzzy: 2 } as const;

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
    const queryTerms = query.split(/\s+/).map(normalise).filter(Boolean);
    const options: SearchOptions = {
      prefix: (_term: string, index: number, terms: string[]) => index === terms.length - 1,
      combineWith: "AND",
      boost: { title: 3, artist: 1.5, album: 1 },
      ...(kinds ? { filter: (result: { id: unknown }) => kinds.has(String(result.id).split(":")[0]!) } : {}),
    };
    // Exact and prefix matches first; the costly fuzzy pass runs only when they do not fill the page.
    let results = this.engine.search(query, options);
    if (results.length < offset + limit) {
      results = this.engine.search(query, {
        ...options,
        fuzzy: (term: string) => (term.length <= 3 ? false : term.length <= 6 ? 1 : 2),
      });
    }
    const ranked = results.map((result) => {
      const document = this.documents.get(String(result.id))!;
      const matched = result.terms.map(normalise);
      const match = queryTerms.reduce<SearchHit["match"]>((worst, term, i) => {
        const own: SearchHit["match"] = matched.includes(term)
          ? "exact"
          : i === queryTerms.length - 1 && matched.some((word) => word.startsWith(term))
            ? "prefix"
            : "fuzzy";
        return MATCH_RANK[own] > MATCH_RANK[worst] ? own : worst;
      }, "exact");
      return { document, match, score: result.score };
    });
    ranked.sort(
      (a, b) =>
        MATCH_RANK[a.match] - MATCH_RANK[b.match] ||
        b.score * (1 + Math.log1p(b.document.popularity) * 0.1) -
          a.score * (1 + Math.log1p(a.document.popularity) * 0.1),
    );
    return {
      total: ranked.length,
      hits: ranked.slice(offset, offset + limit).map(({ document, match, score }) => ({
        id: document.id,
        kind: document.kind,
        title: document.title,
        subtitle: document.subtitle,
        score: Math.round(score * 1000) / 1000,
        match,
      })),
    };
  }
}
