// The one ranking rule every index answers by (exact > prefix > fuzzy, then score weighted by popularity), the typo
// budget of each query word, and the answer's two shapes: one page across kinds, and the best few of each kind.
import MiniSearch, { type Query, type SearchOptions, type SearchResult } from "minisearch";
import type { SearchHit } from "@soundmesh/protocol";

/** Lower case without diacritics: "Beyoncé" and "beyonce" are the same term. */
export function normalise(term: string): string {
  return term.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

const tokenize = MiniSearch.getDefault("tokenize") as (text: string) => string[];

/** The query's words as the index stores terms: split where MiniSearch splits, normalised. */
export function queryTermsOf(query: string): string[] {
  return tokenize(query).map(normalise).filter(Boolean);
}

const MATCH_RANK = { exact: 0, prefix: 1, fuzzy: 2 } as const;

/** A hit with its rank: lower is better, comparable across indexes. */
export interface RankedHit {
  hit: SearchHit;
  rank: number;
}

/** The best hits of one kind, in rank order, and how many of that kind matched. */
export interface RankedGroup {
  ranked: RankedHit[];
  total: number;
  /** Whether any of them starts as typed (typos aside). */
  hasStart: boolean;
}

export interface RankedAnswer {
  /** The best `wanted` hits of every kind together, in rank order. */
  ranked: RankedHit[];
  total: number;
  /** The best `perKind` hits of each kind, each kind ranked on its own. */
  groups: Map<SearchHit["kind"], RankedGroup>;
}

/**
 * How many edits a word may be off in the typo pass: 2 from 7 letters, 1 from 3; a 2-letter word 1 only when the
 * query has a longer word too (all words must match, so the rest of the query keeps a short word's typo honest).
 */
export function typoBudget(term: string, terms: readonly string[]): number {
  const length = [...term].length;
  if (length >= 7) return 2;
  if (length >= 3) return 1;
  return length === 2 && terms.some((other) => [...other].length >= 3) ? 1 : 0;
}

/** The word with two neighbouring letters swapped, each way: "duo" → "uda", "dou". Levenshtein counts these as 2. */
export function transpositions(term: string): string[] {
  const letters = [...term];
  const variants = new Set<string>();
  for (let i = 0; i + 1 < letters.length; i++) {
    if (letters[i] === letters[i + 1]) continue;
    const swapped = [...letters];
    [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    variants.add(swapped.join(""));
  }
  return [...variants];
}

/**
 * Every word must match; the last one (being typed) also as a prefix. In the typo pass each word may be off by its
 * budget of edits, a swap of neighbouring letters counting as one.
 */
function queryOf(terms: readonly string[], isTypoPass: boolean): Query {
  return {
    combineWith: "AND",
    queries: terms.map((term, i): Query => {
      const prefix = i === terms.length - 1;
      const budget = isTypoPass ? typoBudget(term, terms) : 0;
      if (budget === 0) return { queries: [term], prefix };
      // Levenshtein counts a swap as two edits: a word allowed only one gets its swaps spelt out.
      const swaps = budget === 1 ? transpositions(term) : [];
      return {
        combineWith: "OR",
        queries: [
          { queries: [term], prefix, fuzzy: budget },
          // A swap in a word still being typed ("shiruo" for "shiroux") is a prefix too, from 4 letters on: a
          // 3-letter swap as a prefix ("sat…" for "sta") would match half the library.
          ...(swaps.length > 0
            ? [{ queries: swaps, combineWith: "OR" as const, prefix: prefix && [...term].length >= 4 }]
            : []),
        ],
      };
    }),
  };
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

/** Inserts into a list kept in rank order and at most `size` long (an entry ranked below a full list stays out). */
function keepBest<T extends { rank: number }>(list: T[], entry: T, size: number): void {
  if (size <= 0 || (list.length >= size && entry.rank >= list[list.length - 1]!.rank)) return;
  let at = list.length;
  while (at > 0 && list[at - 1]!.rank > entry.rank) at--;
  list.splice(at, 0, entry);
  if (list.length > size) list.pop();
}

export interface RankLimits {
  /** How many of all kinds together (offset + limit of a page). */
  wanted: number;
  /** How many of each kind. */
  perKind: number;
}

/** A result's hit, its popularity, and its title as query terms joined by spaces (titleKeyOf). */
export type Describe = (
  id: string,
  result: SearchResult,
) => { hit: Omit<SearchHit, "score" | "match">; popularity: number; titleKey: string };

/** Edits between two words, a swap of neighbouring letters counting as one (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  let before = new Array<number>(y.length + 1).fill(0);
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  let current = new Array<number>(y.length + 1).fill(0);
  for (let i = 1; i <= x.length; i++) {
    current[0] = i;
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        best = Math.min(best, before[j - 2]! + 1);
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[y.length]!;
}

/** Whether a title starts as typed but for typos: each word within its budget, the last one also as a prefix. */
function startsNearly(titleKey: string, terms: readonly string[], budgets: readonly number[]): boolean {
  const words = titleKey.split(" ", terms.length);
  return terms.every((term, i) => {
    const word = words[i];
    const budget = budgets[i]!;
    if (word === undefined) return false;
    const isLast = i === terms.length - 1;
    if (word.length < term.length - budget || (!isLast && word.length > term.length + budget)) return false;
    if (editDistance(term, word) <= budget) return true;
    return isLast && editDistance(term, word.slice(0, term.length)) <= budget;
  });
}

/** A title as its query terms would be, joined by spaces: made once per document, when it is indexed. */
export function titleKeyOf(title: string): string {
  return queryTermsOf(title).join(" ");
}

/**
 * One pass over `engine`: its best results in rank order, across kinds and per kind, and how many matched. Names
 * that start as typed come first (exact, prefix, then with typos), then exact, prefix and typo matches elsewhere,
 * each by score weighted by popularity. Only the best are fully ordered. The typo pass (`isTypoPass`) lets each word
 * be off by its budget; it costs more, so callers run it only where exact and prefix matches are not enough.
 */
export function rankPass<T>(
  engine: MiniSearch<T>,
  terms: readonly string[],
  options: SearchOptions,
  limits: RankLimits,
  describe: Describe,
  isTypoPass: boolean,
): RankedAnswer {
  if (terms.length === 0) return { ranked: [], total: 0, groups: new Map() };
  // A typo pass where no word may be off at all would repeat the first pass.
  if (isTypoPass && terms.every((term) => typoBudget(term, terms) === 0))
    return rankPass(engine, terms, options, limits, describe, false);
  return rank(engine.search(queryOf(terms, isTypoPass), options), terms, limits, describe);
}

/**
 * Whether exact and prefix matches leave a kind wanting typos: fewer than its few, or (for names people type from the
 * start: artists, albums, playlists) none starting as typed, as when the words typed are a misspelt name that other
 * names merely contain.
 */
export function wantsTypos(answer: RankedAnswer, kind: SearchHit["kind"], perKind: number): boolean {
  const group = answer.groups.get(kind);
  return !group || group.total < perKind || (!group.hasStart && kind !== "track");
}

/** One answer from the answers of indexes holding different kinds. */
export function combineAnswers(answers: readonly RankedAnswer[], wanted: number): RankedAnswer {
  return {
    ranked: answers
      .flatMap((answer) => answer.ranked)
      .sort((a, b) => a.rank - b.rank)
      .slice(0, wanted),
    total: answers.reduce((sum, answer) => sum + answer.total, 0),
    groups: new Map(answers.flatMap((answer) => [...answer.groups])),
  };
}

function rank(
  results: readonly SearchResult[],
  terms: readonly string[],
  limits: RankLimits,
  describe: Describe,
): RankedAnswer {
  type Entry = { result: SearchResult; match: SearchHit["match"]; rank: number };
  type Group = { best: Entry[]; total: number; hasStart: boolean };
  const best: Entry[] = [];
  const groups = new Map<string, Group>();
  let group: Group | undefined;
  let groupKind = "";
  const typed = terms.join(" ");
  const budgets = terms.map((term) => typoBudget(term, terms));
  const isWorse = (list: Entry[], rank: number, size: number) =>
    list.length >= size && rank >= list[list.length - 1]!.rank;
  for (const result of results) {
    const match = matchOf(terms, result.terms);
    const { popularity, hit, titleKey } = describe(String(result.id), result);
    // What people type is how a name starts: names starting as typed come first (exact, prefix, then with typos).
    const tier = titleKey.startsWith(typed)
      ? MATCH_RANK[match]
      : match === "fuzzy" && startsNearly(titleKey, terms, budgets)
        ? 2
        : 3 + MATCH_RANK[match];
    const rank = tier * 1e9 - result.score * (1 + Math.log1p(popularity) * 0.1);
    if (!group || groupKind !== hit.kind) {
      groupKind = hit.kind;
      group = groups.get(groupKind);
      if (!group) groups.set(groupKind, (group = { best: [], total: 0, hasStart: false }));
    }
    group.total += 1;
    if (tier <= 2) group.hasStart = true;
    // Most results rank below both lists once they are full: no entry is made for them.
    const isForPage = !isWorse(best, rank, limits.wanted);
    const isForGroup = !isWorse(group.best, rank, limits.perKind);
    if (!isForPage && !isForGroup) continue;
    const entry = { result, match, rank };
    if (isForPage) keepBest(best, entry, limits.wanted);
    if (isForGroup) keepBest(group.best, entry, limits.perKind);
  }
  const toHits = (entries: typeof best): RankedHit[] =>
    entries.map(({ result, match, rank }) => ({
      rank,
      hit: {
        ...describe(String(result.id), result).hit,
        score: Math.round(result.score * 1000) / 1000,
        match,
      },
    }));
  return {
    total: results.length,
    ranked: toHits(best),
    groups: new Map(
      [...groups].map(([kind, group]) => [
        kind as SearchHit["kind"],
        { ranked: toHits(group.best), total: group.total, hasStart: group.hasStart },
      ]),
    ),
  };
}

/** One page of hits from several ranked lists (each already in rank order and at least offset + limit long). */
export function mergeRanked(
  lists: ReadonlyArray<readonly RankedHit[]>,
  offset: number,
  limit: number,
): SearchHit[] {
  return lists
    .flat()
    .sort((a, b) => a.rank - b.rank)
    .slice(offset, offset + limit)
    .map(({ hit }) => hit);
}
