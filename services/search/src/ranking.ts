// The one ranking rule every index answers by (exact > prefix > fuzzy, then score weighted by popularity), and the
// merge of hits from several indexes into one page.
import type MiniSearch from "minisearch";
import type { SearchOptions, SearchResult } from "minisearch";
import type { SearchHit } from "@soundmesh/protocol";

/** Lower case without diacritics: "Beyoncé" and "beyonce" are the same term. */
export function normalise(term: string): string {
  return term.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

const MATCH_RANK = { exact: 0, prefix: 1, fuzzy: 2 } as const;

/** A hit with its rank: lower is better, comparable across indexes. */
export interface RankedHit {
  hit: SearchHit;
  rank: number;
}

/** Prefix on the word being typed; typos (1 edit up to 6 letters, 2 beyond) only in the fuzzy pass. */
const prefixOnLastWord = (_term: string, index: number, terms: string[]) => index === terms.length - 1;
const typos = (term: string) => (term.length <= 3 ? false : term.length <= 6 ? 1 : 2);

/**
 * The best `wanted` results of `engine` in rank order, and how many matched. Exact and prefix matches first; the
 * costly fuzzy pass runs only when they do not fill `wanted`. Only the best `wanted` are fully ordered.
 */
export function searchRanked<T>(
  engine: MiniSearch<T>,
  query: string,
  options: SearchOptions,
  wanted: number,
  describe: (
    id: string,
    result: SearchResult,
  ) => { hit: Omit<SearchHit, "score" | "match">; popularity: number },
): { ranked: RankedHit[]; total: number } {
  const queryTerms = query.split(/\s+/).map(normalise).filter(Boolean);
  const exactOptions: SearchOptions = { prefix: prefixOnLastWord, combineWith: "AND", ...options };
  let results = engine.search(query, exactOptions);
  if (results.length < wanted) results = engine.search(query, { ...exactOptions, fuzzy: typos });
  const top: Array<{ result: SearchResult; match: SearchHit["match"]; rank: number }> = [];
  for (const result of results) {
    const match = matchOf(queryTerms, result.terms);
    const { popularity } = describe(String(result.id), result);
    const rank = MATCH_RANK[match] * 1e9 - result.score * (1 + Math.log1p(popularity) * 0.1);
    if (top.length === wanted && rank >= top[top.length - 1]!.rank) continue;
    let at = top.length;
    while (at > 0 && top[at - 1]!.rank > rank) at--;
    top.splice(at, 0, { result, match, rank });
    if (top.length > wanted) top.pop();
  }
  return {
    total: results.length,
    ranked: top.map(({ result, match, rank }) => ({
      rank,
      hit: {
        ...describe(String(result.id), result).hit,
        score: Math.round(result.score * 1000) / 1000,
        match,
      },
    })),
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
