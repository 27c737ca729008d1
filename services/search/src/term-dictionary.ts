// A sorted array of distinct terms used as a trie: exact and prefix look-ups by binary search, and the terms within a
// few edits of a word by walking the array in order with one edit-distance row per letter, sharing the rows of the
// prefix a term has in common with the one before, and skipping every term under a prefix already too far off.

/** The first index at or after `from` whose term is not below `word`. */
export function lowerBound(terms: readonly string[], word: string, from = 0): number {
  let low = from;
  let high = terms.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (terms[middle]! < word) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first index at or after `from` whose term neither is below `prefix` nor starts with it. */
export function prefixEnd(terms: readonly string[], prefix: string, from = 0): number {
  let low = from;
  let high = terms.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const term = terms[middle]!;
    if (term < prefix || term.startsWith(prefix)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The index of `word`, or -1. */
export function indexOf(terms: readonly string[], word: string): number {
  const at = lowerBound(terms, word);
  return at < terms.length && terms[at] === word ? at : -1;
}

/** The range [start, end) of the terms starting with `prefix`. */
export function prefixRange(terms: readonly string[], prefix: string): [number, number] {
  const start = lowerBound(terms, prefix);
  return [start, prefixEnd(terms, prefix, start)];
}

/**
 * Calls `visit` with each term within `budget` edits of `word` (insertions, deletions, substitutions, and a swap of
 * neighbouring letters counting as one: optimal string alignment), with its distance. Letters are UTF-16 code units.
 */
export function forEachNearTerm(
  terms: readonly string[],
  word: string,
  budget: number,
  visit: (index: number, distance: number) => void,
): void {
  const width = word.length + 1;
  const wordCodes = Int32Array.from({ length: word.length }, (_, j) => word.charCodeAt(j));
  // rows[d]: the distances between the first d letters of the current term and each prefix of `word`.
  const rows: Int32Array[] = [Int32Array.from({ length: width }, (_, j) => j)];
  let previous = "";
  /** How many rows (beyond rows[0]) still describe a prefix of `previous`. */
  let validDepth = 0;
  let i = 0;
  while (i < terms.length) {
    const term = terms[i]!;
    const common = Math.min(validDepth, term.length);
    let depth = 0;
    while (depth < common && previous.charCodeAt(depth) === term.charCodeAt(depth)) depth++;
    let prunedAt = -1;
    for (let d = depth + 1; d <= term.length; d++) {
      let row = rows[d];
      if (!row) rows.push((row = new Int32Array(width)));
      const up = rows[d - 1]!;
      const code = term.charCodeAt(d - 1);
      const before = d > 1 ? term.charCodeAt(d - 2) : -1;
      const upUp = d > 1 ? rows[d - 2]! : up;
      row[0] = d;
      let least = d;
      for (let j = 1; j < width; j++) {
        const wordCode = wordCodes[j - 1]!;
        let value = up[j - 1]! + (wordCode === code ? 0 : 1);
        const deletion = up[j]! + 1;
        if (deletion < value) value = deletion;
        const insertion = row[j - 1]! + 1;
        if (insertion < value) value = insertion;
        if (j > 1 && d > 1 && code === wordCodes[j - 2] && before === wordCode) {
          const swap = upUp[j - 2]! + 1;
          if (swap < value) value = swap;
        }
        row[j] = value;
        if (value < least) least = value;
      }
      if (least > budget) {
        prunedAt = d;
        break;
      }
    }
    previous = term;
    if (prunedAt !== -1) {
      // No term under this prefix can come back within budget: jump past all of them.
      validDepth = prunedAt - 1;
      i = prefixEnd(terms, term.slice(0, prunedAt), i + 1);
      continue;
    }
    validDepth = term.length;
    const distance = rows[term.length]![width - 1]!;
    if (distance <= budget) visit(i, distance);
    i++;
  }
}
