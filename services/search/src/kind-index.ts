// The index of one kind (artists, albums or tracks): postings in typed arrays, looked up through a sorted term
// dictionary, with no per-document objects. A large sorted base (compressed-sparse-row: terms, offsets, documents,
// flags) and a small unsorted delta of recent additions, merged into the base when it grows; a removal clears one
// byte. Queries touch only the postings of the terms the words expand to, keep one running state per document in
// scratch arrays reused by every query, and fully order only the best few.
import type { SearchHit } from "@soundmesh/protocol";
import { editDistance, queryTermsOf, type RankedGroup, type RankedHit } from "./ranking";
import { forEachNearTerm, indexOf, prefixRange } from "./term-dictionary";

/** What the index needs of a document. */
export interface KindDocument {
  id: string;
  title: string;
  subtitle: string;
  artist: string;
  album: string;
  popularity: number;
}

const FIELDS = ["title", "artist", "album"] as const;
/** Title counts most, then the artist, then the album (as the MiniSearch engines were boosted). */
const BOOSTS = [3, 1.5, 1] as const;
/** Bits 0–2 of a posting's flags: the fields holding the term; bits 3–10: its positions among the title's first 8. */
const TITLE_POSITION_SHIFT = 3;
const TITLE_POSITIONS = 8;
const BM25_K1 = 1.2;
const BM25_B = 0.7;
/** The delta is merged into the base once it holds this many postings. */
const DELTA_MAX_POSTINGS = 65_536;
const MAX_WORDS = 32;

const MATCH_NAMES = ["exact", "prefix", "fuzzy"] as const satisfies ReadonlyArray<SearchHit["match"]>;
const EXACT = 0;
const PREFIX = 1;
const FUZZY = 2;

/** How much a term found by prefix or with typos weighs against the word typed (as MiniSearch weighs them). */
const prefixWeight = (word: number, term: number) => (0.375 * word) / (word + 0.3 * (term - word));
const fuzzyWeight = (word: number, distance: number) => (0.45 * word) / (word + distance);

/** The terms one query word stands for in one pass: indexes into the base or the delta, each how it matched. */
interface Expansion {
  base: number[];
  baseMatch: number[];
  baseWeight: number[];
  delta: number[];
  deltaMatch: number[];
  deltaWeight: number[];
}

/** How each query word may match in a pass: exact, as a prefix (the last word), within `budget` edits. */
export interface WordRule {
  term: string;
  prefix: boolean;
  budget: number;
  /** Terms one swap of neighbouring letters away, looked for as prefixes (a word still being typed). */
  swapPrefixes: readonly string[];
  /**
   * The terms within `budget` edits of `term` (distance above 0), in sorted order, found once in a dictionary holding
   * every kind's terms (SearchIndex shares one walk among its kinds); without it, this index walks its own terms.
   */
  near?: ReadonlyArray<{ term: string; distance: number }>;
}

/** How many hits a cached answer keeps: a smaller ask is the first of them (ties keep their order either way). */
const CACHED_SIZE = 64;
/** A one- or two-letter prefix is answered ahead when its terms have this many postings or more… */
const WARM_MIN_POSTINGS = 1_000;
/** …up to this many answers per kind. */
const WARM_MAX_ANSWERS = 2_048;
/** Recent answers kept per index version, besides the 1- and 2-letter prefixes computed ahead when a build ends. */
const RECENT_ANSWERS = 256;
/** A word is matched by looking its terms up in each candidate's own terms when its postings are this many times more. */
const VERIFY_FACTOR = 4;

/** What identifies a query's answer in one version of the index (the rest of a rule follows from these). */
const answerKey = (rules: readonly WordRule[]) =>
  JSON.stringify(rules.map(({ term, prefix, budget }) => [term, prefix, budget]));

function grow<T extends Uint8Array | Uint16Array | Uint32Array | Float32Array>(array: T, size: number): T {
  if (array.length >= size) return array;
  const next = new (array.constructor as new (length: number) => T)(Math.max(size, array.length * 2, 64));
  next.set(array);
  return next;
}

export class KindIndex {
  // Documents, numbered in the order they were added (a replaced or removed one leaves a dead slot).
  private readonly ids: string[] = [];
  private readonly titles: string[] = [];
  private readonly subtitles: string[] = [];
  private readonly numberOf = new Map<string, number>();
  private alive = new Uint8Array(0);
  private popularityFactor = new Float32Array(0);
  /** Terms per field of each document (at most 255), for length normalisation. */
  private fieldLengths = new Uint8Array(0);
  private readonly fieldLengthSums = [0, 0, 0];
  private liveCount = 0;

  // The base: terms sorted, and the postings of term i at offsets[i]..offsets[i + 1].
  private baseTerms: string[] = [];
  private baseOffsets = new Uint32Array(1);
  private baseDocuments = new Uint32Array(0);
  private baseFlags = new Uint16Array(0);
  /** Each posting's fields, boosted and length-normalised (BM25 with one occurrence), as of the last merge. */
  private baseStatic = new Float32Array(0);

  // The delta: terms in the order first seen, and postings as (term, document, flags) triples.
  private readonly deltaTermNumbers = new Map<string, number>();
  private deltaTerms: string[] = [];
  private deltaCounts: number[] = [];
  private deltaTerm = new Uint32Array(0);
  private deltaDocument = new Uint32Array(0);
  private deltaFlags = new Uint16Array(0);
  private deltaStatic = new Float32Array(0);
  private deltaLength = 0;

  // Scratch state per document, reused by every query (each query takes a new generation number): packed as
  // generation (bits 16–31), words matched (8–13) and match state (0–7: bits 0–1 the worst match so far, 2–3 this
  // word's best, 4 starts as typed so far, 5 nearly, 6–7 the same for this word); scores as (total, this word's).
  private generation = 0;
  private packed = new Uint32Array(0);
  private scores = new Float64Array(0);
  private candidates = new Uint32Array(0);
  private candidateCount = 0;

  // The forward index as of the last merge: each base document's postings (term, flags, static score) side by side,
  // so a word with many postings is matched against the few documents the other words left by reading each one's
  // postings in a row (not by looking each up among all postings: a cache miss each at a million documents).
  private forwardOffsets = new Uint32Array(1);
  private forwardTerms = new Uint32Array(0);
  private forwardFlags = new Uint16Array(0);
  private forwardStatic = new Float32Array(0);
  // Per query: the expansion's terms marked (stamp) with their entry, to look a candidate's postings up.
  private termStamp = new Uint32Array(0);
  private termEntry = new Uint32Array(0);
  private stamp = 0;
  /** The documents advanced by the previous word (candidates holds those of the current one). */
  private survivors = new Uint32Array(0);

  /** Changes with every addition, removal and merge: cached answers are of one version only. */
  private version = 0;
  /** The answers to one- and two-letter words, computed ahead at the end of a build. */
  private readonly shortAnswers = new Map<string, RankedGroup>();
  /** The latest other answers, oldest first. */
  private readonly recentAnswers = new Map<string, RankedGroup>();
  private cacheVersion = -1;

  /** While a bulk build runs: field texts already split into terms, and no merging until the end. */
  private bulk: Map<string, string[]> | undefined;

  constructor(readonly kind: SearchHit["kind"]) {}

  get size(): number {
    return this.liveCount;
  }

  /** The base's terms, sorted (a new array after each merge; the delta's few terms are not among them). */
  get terms(): readonly string[] {
    return this.baseTerms;
  }

  has(id: string): boolean {
    return this.numberOf.has(id);
  }

  /** Starts a bulk build: additions go to the delta unmerged and field texts are split once each. */
  beginBulk(): void {
    this.bulk = new Map();
  }

  /** Ends a bulk build by merging everything added into the base. */
  endBulk(): void {
    this.bulk = undefined;
    this.merge();
    this.warmShortPrefixes();
  }

  /**
   * Computes ahead the answers to the one- and two-letter words typed that start many postings (the most costly
   * queries: they start the most terms), so as-you-type starts from the cache. They stay valid until the next change.
   */
  private warmShortPrefixes(): void {
    this.checkCacheVersion();
    const seen = new Set<string>();
    for (const term of this.baseTerms)
      for (const length of [1, 2]) {
        if (term.length < length) continue;
        const prefix = term.slice(0, length);
        if (seen.has(prefix)) continue;
        seen.add(prefix);
        // Prefixes with few postings are quick to answer anyway (and an alphabet of thousands of letters has many).
        const [start, end] = prefixRange(this.baseTerms, prefix);
        if (this.baseOffsets[end]! - this.baseOffsets[start]! < WARM_MIN_POSTINGS) continue;
        if (this.shortAnswers.size >= WARM_MAX_ANSWERS) return;
        const rules = [{ term: prefix, prefix: true, budget: 0, swapPrefixes: [] }];
        this.shortAnswers.set(answerKey(rules), this.compute(rules, CACHED_SIZE));
      }
  }

  /** Adds a document, replacing the one with its id. */
  add(document: KindDocument): void {
    if (this.numberOf.has(document.id)) this.remove(document.id);
    const number = this.ids.length;
    this.ids.push(document.id);
    this.titles.push(document.title);
    this.subtitles.push(document.subtitle);
    this.numberOf.set(document.id, number);
    this.alive = grow(this.alive, number + 1);
    this.alive[number] = 1;
    this.popularityFactor = grow(this.popularityFactor, number + 1);
    this.popularityFactor[number] = 1 + Math.log1p(Math.max(0, document.popularity)) * 0.1;
    this.fieldLengths = grow(this.fieldLengths, (number + 1) * 3);
    const flagsOf = new Map<string, number>();
    for (let field = 0; field < FIELDS.length; field++) {
      // Artists and albums repeat from track to track: a bulk build splits each text once.
      const terms = this.termsOf(document[FIELDS[field]!], field > 0);
      const length = Math.min(255, terms.length);
      this.fieldLengths[number * 3 + field] = length;
      this.fieldLengthSums[field]! += length;
      for (let position = 0; position < terms.length; position++) {
        const term = terms[position]!;
        let flags = (flagsOf.get(term) ?? 0) | (1 << field);
        if (field === 0 && position < TITLE_POSITIONS) flags |= 1 << (TITLE_POSITION_SHIFT + position);
        flagsOf.set(term, flags);
      }
    }
    // A bulk build's merge scores every posting at the end; a single addition is scored now.
    const norms = this.bulk ? undefined : this.norms();
    for (const [term, flags] of flagsOf)
      this.addPosting(term, number, flags, norms ? this.staticScore(norms, number, flags) : 0);
    this.liveCount += 1;
    this.version += 1;
    if (!this.bulk && this.deltaLength >= DELTA_MAX_POSTINGS) this.merge();
  }

  /** Removes a document at once (its postings stay until the next merge, skipped by every query). */
  remove(id: string): boolean {
    const number = this.numberOf.get(id);
    if (number === undefined) return false;
    this.numberOf.delete(id);
    this.alive[number] = 0;
    this.ids[number] = "";
    this.titles[number] = "";
    this.subtitles[number] = "";
    for (let field = 0; field < 3; field++)
      this.fieldLengthSums[field]! -= this.fieldLengths[number * 3 + field]!;
    this.liveCount -= 1;
    this.version += 1;
    return true;
  }

  private termsOf(text: string, isRepeated: boolean): string[] {
    if (!this.bulk || !isRepeated) return queryTermsOf(text);
    let terms = this.bulk.get(text);
    if (!terms) {
      terms = queryTermsOf(text);
      if (this.bulk.size < 200_000) this.bulk.set(text, terms);
    }
    return terms;
  }

  private addPosting(term: string, document: number, flags: number, score: number): void {
    let number = this.deltaTermNumbers.get(term);
    if (number === undefined) {
      number = this.deltaTerms.length;
      this.deltaTermNumbers.set(term, number);
      this.deltaTerms.push(term);
      this.deltaCounts.push(0);
    }
    this.deltaCounts[number]! += 1;
    const at = this.deltaLength++;
    this.deltaTerm = grow(this.deltaTerm, at + 1);
    this.deltaDocument = grow(this.deltaDocument, at + 1);
    this.deltaFlags = grow(this.deltaFlags, at + 1);
    this.deltaStatic = grow(this.deltaStatic, at + 1);
    this.deltaTerm[at] = number;
    this.deltaDocument[at] = document;
    this.deltaFlags[at] = flags;
    this.deltaStatic[at] = score;
  }

  /** Merges the delta into the base, dropping the postings of removed documents and terms left with none. */
  private merge(): void {
    const sortedDelta = [...this.deltaTerms].sort();
    const baseTerms = this.baseTerms;
    const terms: string[] = [];
    const baseTo = new Int32Array(baseTerms.length).fill(-1);
    const deltaTo = new Int32Array(this.deltaTerms.length).fill(-1);
    let b = 0;
    let d = 0;
    while (b < baseTerms.length || d < sortedDelta.length) {
      const fromBase = baseTerms[b];
      const fromDelta = sortedDelta[d];
      const next =
        fromDelta === undefined || (fromBase !== undefined && fromBase <= fromDelta) ? fromBase! : fromDelta;
      if (fromBase === next) baseTo[b++] = terms.length;
      if (fromDelta === next) deltaTo[this.deltaTermNumbers.get(fromDelta)!] = terms.length;
      if (fromDelta === next) d++;
      terms.push(next);
    }
    // Counting sort of the live postings by their new term number.
    const counts = new Uint32Array(terms.length + 1);
    const alive = this.alive;
    for (let term = 0; term < baseTerms.length; term++)
      for (let p = this.baseOffsets[term]!; p < this.baseOffsets[term + 1]!; p++)
        if (alive[this.baseDocuments[p]!]) counts[baseTo[term]! + 1]! += 1;
    for (let p = 0; p < this.deltaLength; p++)
      if (alive[this.deltaDocument[p]!]) counts[deltaTo[this.deltaTerm[p]!]! + 1]! += 1;
    // Terms left with no live posting are dropped.
    const kept: string[] = [];
    const keptAt = new Int32Array(terms.length);
    const offsets = new Uint32Array(terms.length + 1);
    let total = 0;
    for (let term = 0; term < terms.length; term++) {
      const count = counts[term + 1]!;
      keptAt[term] = kept.length;
      if (count === 0) continue;
      offsets[kept.length] = total;
      kept.push(terms[term]!);
      total += count;
    }
    offsets[kept.length] = total;
    const finalOffsets = offsets.slice(0, kept.length + 1);
    const fill = finalOffsets.slice(0, kept.length);
    const documents = new Uint32Array(total);
    const flags = new Uint16Array(total);
    const statics = new Float32Array(total);
    const norms = this.norms();
    for (let term = 0; term < baseTerms.length; term++) {
      const to = keptAt[baseTo[term]!]!;
      for (let p = this.baseOffsets[term]!; p < this.baseOffsets[term + 1]!; p++) {
        const document = this.baseDocuments[p]!;
        if (!alive[document]) continue;
        const at = fill[to]!++;
        documents[at] = document;
        flags[at] = this.baseFlags[p]!;
        statics[at] = this.staticScore(norms, document, flags[at]);
      }
    }
    for (let p = 0; p < this.deltaLength; p++) {
      const document = this.deltaDocument[p]!;
      if (!alive[document]) continue;
      const at = fill[keptAt[deltaTo[this.deltaTerm[p]!]!]!]!++;
      documents[at] = document;
      flags[at] = this.deltaFlags[p]!;
      statics[at] = this.staticScore(norms, document, flags[at]);
    }
    this.baseTerms = kept;
    this.baseOffsets = finalOffsets;
    this.baseDocuments = documents;
    this.baseFlags = flags;
    this.baseStatic = statics;
    this.buildForward();
    this.version += 1;
    this.deltaTermNumbers.clear();
    this.deltaTerms = [];
    this.deltaCounts = [];
    this.deltaTerm = new Uint32Array(0);
    this.deltaDocument = new Uint32Array(0);
    this.deltaFlags = new Uint16Array(0);
    this.deltaStatic = new Float32Array(0);
    this.deltaLength = 0;
  }

  /** Each base document's postings, in term order (term, flags, static score): read by `verify`. */
  private buildForward(): void {
    const { baseDocuments, baseFlags, baseStatic, baseOffsets } = this;
    const total = baseDocuments.length;
    const offsets = new Uint32Array(this.ids.length + 1);
    for (let p = 0; p < total; p++) offsets[baseDocuments[p]! + 1]! += 1;
    for (let document = 0; document < this.ids.length; document++)
      offsets[document + 1]! += offsets[document]!;
    const fill = offsets.slice(0, this.ids.length);
    const terms = new Uint32Array(total);
    const flags = new Uint16Array(total);
    const statics = new Float32Array(total);
    for (let term = 0; term < this.baseTerms.length; term++)
      for (let p = baseOffsets[term]!; p < baseOffsets[term + 1]!; p++) {
        const at = fill[baseDocuments[p]!]!++;
        terms[at] = term;
        flags[at] = baseFlags[p]!;
        statics[at] = baseStatic[p]!;
      }
    this.forwardOffsets = offsets;
    this.forwardTerms = terms;
    this.forwardFlags = flags;
    this.forwardStatic = statics;
    this.termStamp = new Uint32Array(this.baseTerms.length);
    this.termEntry = new Uint32Array(this.baseTerms.length);
    this.stamp = 0;
  }

  /** Length normalisation (BM25, one occurrence) by field and length, times the field's boost, at today's averages. */
  private norms(): Float64Array {
    const live = Math.max(1, this.liveCount);
    const norms = new Float64Array(3 * 256);
    for (let field = 0; field < 3; field++) {
      const average = Math.max(1, this.fieldLengthSums[field]! / live);
      for (let length = 0; length < 256; length++)
        norms[field * 256 + length] =
          (BOOSTS[field]! * (BM25_K1 + 1)) / (1 + BM25_K1 * (1 - BM25_B + (BM25_B * length) / average));
    }
    return norms;
  }

  private staticScore(norms: Float64Array, document: number, flags: number): number {
    const at = document * 3;
    let score = 0;
    if (flags & 1) score += norms[this.fieldLengths[at]!]!;
    if (flags & 2) score += norms[256 + this.fieldLengths[at + 1]!]!;
    if (flags & 4) score += norms[512 + this.fieldLengths[at + 2]!]!;
    return score;
  }

  /** The terms `rule` expands to in the base and the delta, each with how it matched and its weight (idf aside). */
  private expand(rule: WordRule): Expansion {
    const expansion: Expansion = {
      base: [],
      baseMatch: [],
      baseWeight: [],
      delta: [],
      deltaMatch: [],
      deltaWeight: [],
    };
    const { term: word, prefix, budget } = rule;
    const length = word.length;
    const terms = this.baseTerms;
    const addBase = (index: number, match: number, weight: number) => {
      expansion.base.push(index);
      expansion.baseMatch.push(match);
      expansion.baseWeight.push(weight);
    };
    let start = -1;
    let end = -1;
    if (prefix) {
      [start, end] = prefixRange(terms, word);
      for (let index = start; index < end; index++) {
        const term = terms[index]!;
        if (term.length === length) addBase(index, EXACT, 1);
        else addBase(index, PREFIX, prefixWeight(length, term.length));
      }
    } else {
      const index = indexOf(terms, word);
      if (index !== -1) addBase(index, EXACT, 1);
    }
    if (budget > 0) {
      const addNear = (index: number, distance: number) => {
        if (distance > 0 && !(index >= start && index < end))
          addBase(index, FUZZY, fuzzyWeight(length, distance));
      };
      if (rule.near)
        for (const { term, distance } of rule.near) {
          const index = indexOf(terms, term);
          if (index !== -1) addNear(index, distance);
        }
      else forEachNearTerm(terms, word, budget, addNear);
      for (const swapped of rule.swapPrefixes) {
        const [from, to] = prefixRange(terms, swapped);
        for (let index = from; index < to; index++)
          addBase(index, FUZZY, fuzzyWeight(length, 1 + 0.3 * (terms[index]!.length - length)));
      }
    }
    // The delta is small: every term of it is tested.
    for (let index = 0; index < this.deltaTerms.length; index++) {
      const term = this.deltaTerms[index]!;
      let match = -1;
      let weight = 0;
      if (term === word) [match, weight] = [EXACT, 1];
      else if (prefix && term.startsWith(word)) [match, weight] = [PREFIX, prefixWeight(length, term.length)];
      else if (budget > 0) {
        const swapped = rule.swapPrefixes.find((swap) => term.startsWith(swap));
        if (swapped !== undefined)
          [match, weight] = [FUZZY, fuzzyWeight(length, 1 + 0.3 * (term.length - length))];
        else if (Math.abs(term.length - length) <= budget) {
          const distance = editDistance(word, term);
          if (distance <= budget) [match, weight] = [FUZZY, fuzzyWeight(length, distance)];
        }
      }
      if (match === -1) continue;
      expansion.delta.push(index);
      expansion.deltaMatch.push(match);
      expansion.deltaWeight.push(weight);
    }
    return expansion;
  }

  private ensureScratch(): void {
    const size = this.ids.length;
    if (this.packed.length >= size) return;
    const capacity = Math.max(size, Math.ceil(this.packed.length * 1.5), 64);
    this.packed = new Uint32Array(capacity);
    this.scores = new Float64Array(capacity * 2);
    this.candidates = new Uint32Array(capacity);
    this.survivors = new Uint32Array(capacity);
    this.generation = 0;
  }

  /**
   * One run of postings of one word's term: `order` is how many words were taken before it, `position` the word's
   * place in the query (a name starts as typed when word i is its title's word i). Each document the word advances
   * is added to `candidates` once. With `fixedDocument`, every posting of the run is that document's (the forward
   * index) and `documents` is not read.
   */
  private scan(
    documents: Uint32Array,
    flags: Uint16Array,
    statics: Float32Array,
    from: number,
    to: number,
    order: number,
    position: number,
    match: number,
    weight: number,
    fixedDocument = -1,
  ): void {
    const { packed, scores, candidates, alive } = this;
    const generation = this.generation;
    const high = (generation << 16) >>> 0;
    const positionBit = position < TITLE_POSITIONS ? 1 << (TITLE_POSITION_SHIFT + position) : 0;
    const startBits = match === FUZZY ? 0x80 : 0xc0;
    const matchBits = match << 2;
    let count = this.candidateCount;
    for (let p = from; p < to; p++) {
      const document = fixedDocument < 0 ? documents[p]! : fixedDocument;
      const value = packed[document]!;
      const score = statics[p]! * weight;
      const wordState = flags[p]! & positionBit ? matchBits | startBits : matchBits;
      if (value >>> 16 !== generation) {
        if (order !== 0 || !alive[document]) continue;
        packed[document] = high | 0x100 | 0x30 | wordState;
        scores[document * 2] = 0;
        scores[document * 2 + 1] = score;
        candidates[count++] = document;
        continue;
      }
      const matched = (value >>> 8) & 0x3f;
      const state = value & 0xff;
      if (matched === order + 1) {
        // Another term of the same word: keep its best.
        if (score > scores[document * 2 + 1]!) scores[document * 2 + 1] = score;
        const best = (state >> 2) & 3;
        packed[document] =
          (value & 0xffffff00) | (state & 0xf3) | ((match < best ? match : best) << 2) | (wordState & 0xc0);
        continue;
      }
      if (matched !== order) continue;
      // The first term of a new word: fold the previous word into the running state.
      scores[document * 2]! += scores[document * 2 + 1]!;
      scores[document * 2 + 1] = score;
      const worst = Math.max(state & 3, (state >> 2) & 3);
      const starts = state & 0x30 & ((state >> 2) & 0x30);
      packed[document] = (high | ((order + 1) << 8) | worst | starts | wordState) >>> 0;
      candidates[count++] = document;
    }
    this.candidateCount = count;
  }

  /**
   * A word whose postings far outnumber the documents still in the running: instead of reading all its postings, each
   * of those documents' own postings (the forward index) is looked up among the word's terms, with the same effect.
   */
  private verify(
    expansion: Expansion,
    weights: Float64Array,
    count: number,
    order: number,
    position: number,
  ): void {
    this.stamp += 1;
    if (this.stamp > 0xffffffff) {
      this.termStamp.fill(0);
      this.stamp = 1;
    }
    const {
      stamp,
      termStamp,
      termEntry,
      survivors,
      forwardOffsets,
      forwardTerms,
      forwardFlags,
      forwardStatic,
    } = this;
    for (let e = 0; e < expansion.base.length; e++) {
      const term = expansion.base[e]!;
      // A term listed twice (a typo and a swapped prefix) counts at its best, as reading its postings twice would.
      if (termStamp[term] === stamp && weights[termEntry[term]!]! >= weights[e]!) continue;
      termStamp[term] = stamp;
      termEntry[term] = e;
    }
    const documents = forwardOffsets.length - 1;
    for (let c = 0; c < count; c++) {
      const document = survivors[c]!;
      // Documents added since the last merge have no base postings: the delta's are read apart.
      if (document >= documents) continue;
      const end = forwardOffsets[document + 1]!;
      for (let q = forwardOffsets[document]!; q < end; q++) {
        const term = forwardTerms[q]!;
        if (termStamp[term] !== stamp) continue;
        const e = termEntry[term]!;
        this.scan(
          forwardTerms,
          forwardFlags,
          forwardStatic,
          q,
          q + 1,
          order,
          position,
          expansion.baseMatch[e]!,
          weights[e]!,
          document,
        );
      }
    }
  }

  /**
   * The documents matching every word by its rule, ranked: names starting as typed first (exact, prefix, then with
   * typos), then exact, prefix and typo matches elsewhere, each by score weighted by popularity. The best `size` in
   * rank order, how many matched, and whether any starts as typed (typos aside).
   */
  rank(rules: readonly WordRule[], size: number): RankedGroup {
    const empty: RankedGroup = { ranked: [], total: 0, hasStart: false };
    if (rules.length === 0 || this.liveCount === 0) return empty;
    // Words beyond the 32nd are not looked for (the running state counts words in 6 bits).
    rules = rules.slice(0, MAX_WORDS);
    this.checkCacheVersion();
    const key = answerKey(rules);
    const cached = this.shortAnswers.get(key) ?? this.recentAnswers.get(key);
    if (cached && (cached.ranked.length >= size || cached.ranked.length === cached.total))
      return { ...cached, ranked: cached.ranked.slice(0, Math.max(0, size)) };
    const group = this.compute(rules, Math.max(size, CACHED_SIZE));
    if (!this.shortAnswers.has(key)) {
      this.recentAnswers.delete(key);
      if (this.recentAnswers.size >= RECENT_ANSWERS)
        this.recentAnswers.delete(this.recentAnswers.keys().next().value!);
      this.recentAnswers.set(key, group);
    }
    return { ...group, ranked: group.ranked.slice(0, Math.max(0, size)) };
  }

  /** Cached answers are of one version of the index: any change lets them go. */
  private checkCacheVersion(): void {
    if (this.cacheVersion === this.version) return;
    this.shortAnswers.clear();
    this.recentAnswers.clear();
    this.cacheVersion = this.version;
  }

  private compute(rules: readonly WordRule[], size: number): RankedGroup {
    const empty: RankedGroup = { ranked: [], total: 0, hasStart: false };
    const expansions = rules.map((rule) => this.expand(rule));
    if (expansions.some((e) => e.base.length === 0 && e.delta.length === 0)) return empty;
    this.ensureScratch();
    this.generation += 1;
    if (this.generation > 0xffff) {
      this.packed.fill(0);
      this.generation = 1;
    }
    const { packed, scores } = this;
    const live = Math.max(1, this.liveCount);
    const idf = (frequency: number) => Math.log(1 + (live - frequency + 0.5) / (frequency + 0.5));
    const hasDelta = this.deltaTerms.length > 0;
    // The word with the fewest postings first: only documents it matched are looked at again.
    const volumes = expansions.map(
      (expansion) =>
        expansion.base.reduce((sum, term) => sum + this.baseOffsets[term + 1]! - this.baseOffsets[term]!, 0) +
        expansion.delta.reduce((sum, term) => sum + this.deltaCounts[term]!, 0),
    );
    const order = rules.map((_, i) => i).sort((a, b) => volumes[a]! - volumes[b]!);
    let survivorCount = 0;
    for (let k = 0; k < order.length; k++) {
      const position = order[k]!;
      const expansion = expansions[position]!;
      this.candidateCount = 0;
      const weights = new Float64Array(expansion.base.length);
      for (let e = 0; e < expansion.base.length; e++) {
        const term = expansion.base[e]!;
        const inDelta = hasDelta ? this.deltaTermNumbers.get(this.baseTerms[term]!) : undefined;
        const frequency =
          this.baseOffsets[term + 1]! -
          this.baseOffsets[term]! +
          (inDelta === undefined ? 0 : this.deltaCounts[inDelta]!);
        weights[e] = expansion.baseWeight[e]! * idf(frequency);
      }
      if (k > 0 && volumes[position]! > VERIFY_FACTOR * survivorCount)
        this.verify(expansion, weights, survivorCount, k, position);
      else
        for (let e = 0; e < expansion.base.length; e++) {
          const term = expansion.base[e]!;
          this.scan(
            this.baseDocuments,
            this.baseFlags,
            this.baseStatic,
            this.baseOffsets[term]!,
            this.baseOffsets[term + 1]!,
            k,
            position,
            expansion.baseMatch[e]!,
            weights[e]!,
          );
        }
      if (expansion.delta.length > 0) {
        const matchOf = new Int8Array(this.deltaTerms.length).fill(-1);
        const weightOf = new Float64Array(this.deltaTerms.length);
        for (let e = 0; e < expansion.delta.length; e++) {
          const term = expansion.delta[e]!;
          const baseIndex = indexOf(this.baseTerms, this.deltaTerms[term]!);
          const frequency =
            this.deltaCounts[term]! +
            (baseIndex === -1 ? 0 : this.baseOffsets[baseIndex + 1]! - this.baseOffsets[baseIndex]!);
          matchOf[term] = expansion.deltaMatch[e]!;
          weightOf[term] = expansion.deltaWeight[e]! * idf(frequency);
        }
        for (let p = 0; p < this.deltaLength; p++) {
          const term = this.deltaTerm[p]!;
          const match = matchOf[term]!;
          if (match !== -1)
            this.scan(
              this.deltaDocument,
              this.deltaFlags,
              this.deltaStatic,
              p,
              p + 1,
              k,
              position,
              match,
              weightOf[term]!,
            );
        }
      }
      // The documents this word advanced are the ones the next word looks at.
      [this.survivors, this.candidates] = [this.candidates, this.survivors];
      survivorCount = this.candidateCount;
    }
    const candidates = this.survivors;
    // Rank the documents that matched every word; only the best `size` are kept in order.
    const best: Array<{ document: number; rank: number; score: number; match: number }> = [];
    let hasStart = false;
    const candidateCount = survivorCount;
    for (let c = 0; c < candidateCount; c++) {
      const document = candidates[c]!;
      const state = packed[document]! & 0xff;
      const score = scores[document * 2]! + scores[document * 2 + 1]!;
      const match = Math.max(state & 3, (state >> 2) & 3);
      const starts = state & 0x30 & ((state >> 2) & 0x30);
      const tier = starts & 0x10 ? match : starts & 0x20 ? 2 : 3 + match;
      if (tier <= 2) hasStart = true;
      const rank = tier * 1e9 - score * this.popularityFactor[document]!;
      // Equal ranks go by document number, however the documents were reached.
      const last = best[best.length - 1];
      if (
        size <= 0 ||
        (best.length >= size && (rank > last!.rank || (rank === last!.rank && document > last!.document)))
      )
        continue;
      let at = best.length;
      while (
        at > 0 &&
        (best[at - 1]!.rank > rank || (best[at - 1]!.rank === rank && best[at - 1]!.document > document))
      )
        at--;
      best.splice(at, 0, { document, rank, score, match });
      if (best.length > size) best.pop();
    }
    const ranked: RankedHit[] = best.map(({ document, rank, score, match }) => ({
      rank,
      hit: {
        id: this.ids[document]!,
        kind: this.kind,
        title: this.titles[document]!,
        subtitle: this.subtitles[document]!,
        score: Math.round(score * 1000) / 1000,
        match: MATCH_NAMES[match]!,
      },
    }));
    return { ranked, total: candidateCount, hasStart };
  }
}
