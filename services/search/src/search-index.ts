// One immutable search index: a MiniSearch engine per kind (artists, albums, tracks), normalised terms, prefix on the
// word being typed, typos by word length. Chosen by bench/search.ts over FlexSearch and Orama (see the README).
import MiniSearch, { type SearchOptions } from "minisearch";
import type { SearchDocument, SearchHit } from "@soundmesh/protocol";
import {
  combineAnswers,
  mergeRanked,
  normalise,
  queryTermsOf,
  rankPass,
  titleKeyOf,
  wantsTypos,
  type RankedAnswer,
} from "./ranking";

/** The kinds the catalog index holds, in the order an answer lists them. */
export const CATALOG_KINDS = ["artist", "album", "track"] as const satisfies ReadonlyArray<SearchHit["kind"]>;

export interface SearchGroup {
  kind: SearchHit["kind"];
  hits: SearchHit[];
  total: number;
}

export type IndexedDocument = Omit<SearchDocument, "kind"> & { kind: SearchHit["kind"] };

/** One MiniSearch engine per kind, so each kind is ranked (and its typos looked for) on its own. */
function newEngine(): MiniSearch<IndexedDocument> {
  return new MiniSearch<IndexedDocument>({
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

interface IndexEntry {
  popularity: number;
  titleKey: string;
  hit: Omit<SearchHit, "score" | "match">;
}

const BOOST: SearchOptions = { boost: { title: 3, artist: 1.5, album: 1 } };

export class SearchIndex {
  private readonly engines = new Map<SearchHit["kind"], MiniSearch<IndexedDocument>>(
    CATALOG_KINDS.map((kind) => [kind, newEngine()]),
  );
  /** What a hit needs of each document, made once at build time (queries allocate nothing per result). */
  private readonly entries = new Map<string, IndexEntry>();

  private constructor() {}

  static empty(): SearchIndex {
    return new SearchIndex();
  }

  /** Builds in chunks that yield to the event loop, so queries on the current index keep being answered. */
  static async build(batches: AsyncIterable<IndexedDocument[]>): Promise<SearchIndex> {
    const index = new SearchIndex();
    for await (const batch of batches) {
      const fresh = batch.filter((document) => !index.entries.has(`${document.kind}:${document.id}`));
      for (const { id, kind, title, subtitle, popularity } of fresh)
        index.entries.set(`${kind}:${id}`, {
          popularity,
          titleKey: titleKeyOf(title),
          hit: { id, kind, title, subtitle },
        });
      for (const [kind, engine] of index.engines)
        await engine.addAllAsync(
          fresh.filter((document) => document.kind === kind),
          { chunkSize: 500 },
        );
    }
    return index;
  }

  get size(): number {
    return this.entries.size;
  }

  /** One page across kinds, and the best `perKind` of each kind asked for (all the index holds by default). */
  search(
    query: string,
    kinds: ReadonlySet<string> | undefined,
    limit: number,
    offset: number,
    perKind = 6,
  ): { hits: SearchHit[]; total: number; groups: SearchGroup[] } {
    const answer = this.ranked(query, kinds, offset + limit, perKind);
    return {
      total: answer.total,
      hits: mergeRanked([answer.ranked], offset, limit),
      groups: CATALOG_KINDS.filter((kind) => !kinds || kinds.has(kind)).map((kind) => {
        const group = answer.groups.get(kind);
        return { kind, hits: group?.ranked.map(({ hit }) => hit) ?? [], total: group?.total ?? 0 };
      }),
    };
  }

  /**
   * The best `wanted` hits of the kinds asked for and the best `perKind` of each, in rank order (to merge with other
   * indexes'). Typos are looked for in the kinds exact and prefix matches leave wanting, or in every kind when all
   * of them together do not fill `wanted`.
   */
  ranked(
    query: string,
    kinds: ReadonlySet<string> | undefined,
    wanted: number,
    perKind: number,
  ): RankedAnswer {
    const terms = queryTermsOf(query);
    const limits = { wanted: Math.max(wanted, perKind), perKind };
    const describe = (key: string) => this.entries.get(key)!;
    const asked = CATALOG_KINDS.filter((kind) => !kinds || kinds.has(kind));
    const pass = (kind: SearchHit["kind"], isTypoPass: boolean) =>
      rankPass(this.engines.get(kind)!, terms, BOOST, limits, describe, isTypoPass);
    const answers = new Map(asked.map((kind) => [kind, pass(kind, false)]));
    const isPageShort = [...answers.values()].reduce((sum, answer) => sum + answer.total, 0) < wanted;
    for (const kind of asked)
      if (isPageShort || wantsTypos(answers.get(kind)!, kind, perKind)) answers.set(kind, pass(kind, true));
    return combineAnswers([...answers.values()], wanted);
  }
}
