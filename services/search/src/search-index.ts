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
    // Rank = match class, then score weighted by popularity; only the page asked for is fully ordered.
    const wanted = offset + limit;
    const top: Array<{ result: (typeof results)[number]; match: SearchHit["match"]; key: number }> = [];
    for (const result of results) {
      const match = matchOf(queryTerms, result.terms);
      const document = this.documents.get(String(result.id))!;
      const key = MATCH_RANK[match] * 1e9 - result.score * (1 + Math.log1p(document.popularity) * 0.1);
      if (top.length === wanted && key >= top[top.length - 1]!.key) continue;
      let at = top.length;
      while (at > 0 && top[at - 1]!.key > key) at--;
      top.splice(at, 0, { result, match, key });
      if (top.length > wanted) top.pop();
    }
    const ranked = top.map(({ result, match }) => ({
      document: this.documents.get(String(result.id))!,
      match,
      score: result.score,
    }));
    return {
      total: results.length,
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

/** The weakest way any query term matched (terms are stored normalised): exact, prefix (last word), or fuzzy. */
function matchOf(queryTerms: readonly string[], matched: readonly string[]): SearchHit["match"] {
  let worst: SearchHit["match"] = "exact";
  for (const [i, term] of queryTerms.entries()) {
    if (matched.includes(term)) continue;
    if (i === queryTerms.length - 1 && matched.some((word) => word.startsWith(term))) {
      worst = "prefix";
      continue;
    }
    return "fuzzy";
  }
  return worst;
}
