// Who a track or album credits: "A feat. B", "A & B" and "A; B" name two artists, each with a page of their own.
// What splits a name is configurable (library.artistSeparators), and so are names never split ("Simon & Garfunkel").

export interface ArtistSplitting {
  /** Separators between credited names, matched without regard to case: "feat.", "&", ";". */
  separators: readonly string[];
  /** Names kept whole although they hold a separator. */
  keepWhole: readonly string[];
}

export const DEFAULT_ARTIST_SEPARATORS: readonly string[] = ["feat.", "ft.", "featuring", "&", ";"];

export type SplitArtists = (name: string) => string[];

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const comparable = (name: string) => name.normalize("NFKC").toLowerCase().trim();

const BRACKETS = [
  ["(", ")"],
  ["[", "]"],
  ["{", "}"],
] as const;

/** One credit without the spaces, commas and unmatched brackets a split left at its ends ("Tomo (" → "Tomo"). */
function tidyCredit(part: string): string {
  let credit = part.replace(/\s+/g, " ").replace(/^[\s,]+|[\s,]+$/g, "");
  for (const [open, close] of BRACKETS) {
    while (credit.endsWith(open)) credit = credit.slice(0, -1).trim();
    while (credit.startsWith(close)) credit = credit.slice(1).trim();
    if (credit.endsWith(close) && !credit.includes(open)) credit = credit.slice(0, -1).trim();
    if (credit.startsWith(open) && !credit.includes(close)) credit = credit.slice(1).trim();
  }
  return credit;
}

/**
 * A function splitting one artist tag into the names it credits. A separator made of letters ("feat.", "featuring")
 * splits only as a word of its own, so "Daft" never splits at "ft"; others ("&", ";") split wherever they stand.
 * Brackets around a credit go ("A (feat. B)" credits A and B); empty and repeated names are dropped.
 */
export function createArtistSplitter(splitting: ArtistSplitting): SplitArtists {
  const keptNames = splitting.keepWhole.map((name) => name.trim()).filter(Boolean);
  const kept =
    keptNames.length > 0
      ? new RegExp(
          [...keptNames]
            .sort((a, b) => b.length - a.length)
            .map(escape)
            .join("|"),
          "giu",
        )
      : undefined;
  const alternatives = splitting.separators
    .map((separator) => separator.trim())
    .filter((separator) => separator.length > 0)
    .sort((a, b) => b.length - a.length)
    .map((separator) =>
      /^\p{L}/u.test(separator)
        ? `(?<![\\p{L}\\p{N}])${escape(separator)}(?![\\p{L}\\p{N}])`
        : escape(separator),
    );
  const pattern = alternatives.length > 0 ? new RegExp(alternatives.join("|"), "giu") : undefined;
  return (name) => {
    const whole = name.trim();
    if (!whole) return [];
    if (!pattern) return [whole];
    // Names kept whole stand in as placeholders while the rest splits.
    const keptHere: string[] = [];
    const guarded = kept ? whole.replace(kept, (match) => `\uE000${keptHere.push(match) - 1}\uE000`) : whole;
    const seen = new Set<string>();
    const credits: string[] = [];
    for (const part of guarded.split(pattern)) {
      const credit = tidyCredit(
        part.replace(/\uE000(\d+)\uE000/g, (_, index: string) => keptHere[Number(index)]!),
      );
      if (!credit || seen.has(comparable(credit))) continue;
      seen.add(comparable(credit));
      credits.push(credit);
    }
    return credits.length > 0 ? credits : [whole];
  };
}

export const defaultSplitArtists: SplitArtists = createArtistSplitter({
  separators: DEFAULT_ARTIST_SEPARATORS,
  keepWhole: [],
});
