// The catalog's search index: one KindIndex per kind (artists, albums, tracks), each ranked on its own; normalised
// terms, prefix on the word being typed, typos by word length. Built whole in the background and swapped in; kept
// current one document at a time (add, remove) in between. Measured at a million entries in bench/search.ts.
import type { SearchDocument, SearchHit } from "@soundmesh/protocol";
import { KindIndex, type WordRule } from "./kind-index";
import { forEachNearTerm } from "./term-dictionary";
import {
  combineAnswers,
  mergeRanked,
  queryTermsOf,
  transpositions,
  typoBudget,
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

/** How each query word may match in one pass: exact, the last one also as a prefix, with typos by its budget. */
export function wordRules(terms: readonly string[], isTypoPass: boolean): WordRule[] {
  return terms.map((term, i) => {
    const prefix = i === terms.length - 1;
    const budget = isTypoPass ? typoBudget(term, terms) : 0;
    // A swap in a word still being typed ("shiruo" for "shiroux") is a prefix too, from 4 letters on: a 3-letter
    // swap as a prefix ("sat…" for "sta") would match half the library. Whole-word swaps are one edit anyway.
    const swapPrefixes = budget === 1 && prefix && [...term].length >= 4 ? transpositions(term) : [];
    return { term, prefix, budget, swapPrefixes };
  });
}

/** How many words' near terms are kept between queries (as-you-type repeats the words before the last). */
const NEAR_WALKS_KEPT = 1_024;

/**
 * Every kind's base terms in one sorted dictionary, so the costly walk for a word's near terms (typos) is made once
 * per query for all kinds, and kept for the next queries until a kind's base changes.
 */
class SharedDictionary {
  private sources: ReadonlyArray<readonly string[]> = [];
  private terms: string[] = [];
  private readonly walks = new Map<string, Array<{ term: string; distance: number }>>();

  near(kinds: readonly KindIndex[], word: string, budget: number): Array<{ term: string; distance: number }> {
    const sources = kinds.map((kind) => kind.terms);
    if (sources.length !== this.sources.length || sources.some((terms, i) => terms !== this.sources[i])) {
      this.sources = sources;
      this.terms = [...new Set(sources.flat())].sort();
      this.walks.clear();
    }
    const key = `${budget}:${word}`;
    let near = this.walks.get(key);
    if (!near) {
      const found: Array<{ term: string; distance: number }> = [];
      forEachNearTerm(this.terms, word, budget, (index, distance) => {
        if (distance > 0) found.push({ term: this.terms[index]!, distance });
      });
      if (this.walks.size >= NEAR_WALKS_KEPT) this.walks.delete(this.walks.keys().next().value!);
      this.walks.set(key, (near = found));
    }
    return near;
  }
}

export class SearchIndex {
  private readonly kinds = new Map<SearchHit["kind"], KindIndex>(
    CATALOG_KINDS.map((kind) => [kind, new KindIndex(kind)]),
  );
  private readonly dictionary = new SharedDictionary();

  private constructor() {}

  static empty(): SearchIndex {
    return new SearchIndex();
  }

  /** Builds in batches that yield to the event loop, so queries on the current index keep being answered. */
  static async build(batches: AsyncIterable<IndexedDocument[]>): Promise<SearchIndex> {
    const index = new SearchIndex();
    for (const kind of index.kinds.values()) kind.beginBulk();
    for await (const batch of batches) {
      for (const document of batch) {
        const kind = index.kinds.get(document.kind);
        // The first of two documents with one id wins, as before.
        if (kind && !kind.has(document.id)) kind.add(document);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const kind of index.kinds.values()) kind.endBulk();
    return index;
  }

  /** Adds a document, or replaces the one of its kind with its id; queries see it at once. */
  add(document: IndexedDocument): void {
    const kind = this.kinds.get(document.kind);
    if (!kind) throw new Error(`the catalog index holds no ${document.kind}`);
    kind.add(document);
  }

  /** Removes a document (of `kind`, or of any kind with that id) at once; whether one was there. */
  remove(id: string, kind?: SearchHit["kind"]): boolean {
    let removed = false;
    for (const [indexKind, index] of this.kinds)
      if (kind === undefined || kind === indexKind) removed = index.remove(id) || removed;
    return removed;
  }

  get size(): number {
    let size = 0;
    for (const kind of this.kinds.values()) size += kind.size;
    return size;
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
    const size = Math.max(wanted, perKind);
    const asked = CATALOG_KINDS.filter((kind) => !kinds || kinds.has(kind));
    const pass = (kind: SearchHit["kind"], isTypoPass: boolean): RankedAnswer => {
      // A typo pass where no word may be off at all would repeat the first pass.
      const rules = wordRules(terms, isTypoPass && terms.some((term) => typoBudget(term, terms) > 0)).map(
        (rule) =>
          rule.budget > 0
            ? { ...rule, near: this.dictionary.near([...this.kinds.values()], rule.term, rule.budget) }
            : rule,
      );
      const group = this.kinds.get(kind)!.rank(rules, size);
      return {
        ranked: group.ranked.slice(0, wanted),
        total: group.total,
        groups: new Map([[kind, { ...group, ranked: group.ranked.slice(0, perKind) }]]),
      };
    };
    const answers = new Map(asked.map((kind) => [kind, pass(kind, false)]));
    const isPageShort = [...answers.values()].reduce((sum, answer) => sum + answer.total, 0) < wanted;
    for (const kind of asked)
      if (isPageShort || wantsTypos(answers.get(kind)!, kind, perKind)) answers.set(kind, pass(kind, true));
    return combineAnswers([...answers.values()], wanted);
  }
}
