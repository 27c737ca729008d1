// The catalog's term index: the sorted dictionary's look-ups (checked against a brute-force scan), prefixes, typos,
// several words, short words, diacritics, ranking within a kind, and keeping it current: additions, replacements and
// removals seen by the next query, before and after the delta is merged into the base.
import { describe, expect, it } from "vitest";
import { SearchIndex, type IndexedDocument } from "@soundmesh/service-search";
import { editDistance } from "../src/ranking";
import { forEachNearTerm, indexOf, prefixRange } from "../src/term-dictionary";

const doc = (
  id: string,
  kind: IndexedDocument["kind"],
  title: string,
  artist = "",
  popularity = 0,
  album = "",
): IndexedDocument => ({ id, kind, title, subtitle: artist, artist, album, year: null, popularity });

async function indexOf_(documents: IndexedDocument[]): Promise<SearchIndex> {
  return SearchIndex.build(
    (async function* () {
      yield await Promise.resolve(documents);
    })(),
  );
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const idsOf = (answer: ReturnType<SearchIndex["search"]>, kind: string) =>
  answer.groups.find((group) => group.kind === kind)?.hits.map((hit) => hit.id) ?? [];

describe("the sorted term dictionary", () => {
  const random = seeded(11);
  const letters = "abcdeéo";
  const terms = [
    ...new Set(
      Array.from({ length: 3_000 }, () =>
        Array.from(
          { length: 1 + Math.floor(random() * 7) },
          () => letters[Math.floor(random() * letters.length)],
        ).join(""),
      ),
    ),
  ].sort();

  it("finds exactly the terms a brute-force scan finds within 1 and 2 edits", () => {
    for (const word of ["abc", "badeo", "e", "ééo", "cabbage", "odd", "aaaaaaa"])
      for (const budget of [1, 2]) {
        const found = new Map<string, number>();
        forEachNearTerm(terms, word, budget, (index, distance) => found.set(terms[index]!, distance));
        const expected = new Map(
          terms.map((term) => [term, editDistance(word, term)] as const).filter(([, d]) => d <= budget),
        );
        expect(found, `${word} within ${budget}`).toEqual(expected);
      }
  });

  it("counts a swap of neighbouring letters as one edit", () => {
    const terms = ["beatles", "beatsle", "dou", "duo", "odu", "udo"];
    const found: string[] = [];
    forEachNearTerm(terms, "duo", 1, (index) => found.push(terms[index]!));
    // "odu" is two swaps away.
    expect(found).toEqual(["dou", "duo", "udo"]);
    expect(editDistance("beatles", "beatsle")).toBe(2);
  });

  it("looks up exact terms and prefix ranges by binary search", () => {
    const sorted = ["ab", "abc", "abd", "b", "ba", "bz", "c"];
    expect(indexOf(sorted, "abd")).toBe(2);
    expect(indexOf(sorted, "abe")).toBe(-1);
    expect(prefixRange(sorted, "ab")).toEqual([0, 3]);
    expect(prefixRange(sorted, "b")).toEqual([3, 6]);
    expect(prefixRange(sorted, "bb")).toEqual([5, 5]);
    expect(prefixRange(sorted, "d")).toEqual([7, 7]);
  });
});

describe("the term index", () => {
  const library = [
    doc("a1", "artist", "Motörhead", "Motörhead", 80),
    doc("a2", "artist", "Mötley Crüe", "Mötley Crüe", 70),
    doc("a3", "artist", "Сплин", "Сплин", 10),
    doc("a4", "artist", "Moth Orchestra", "Moth Orchestra", 5),
    doc("al1", "album", "Ace of Spades", "Motörhead", 40, "Ace of Spades"),
    doc("al2", "album", "Dr. Feelgood", "Mötley Crüe", 30, "Dr. Feelgood"),
    doc("t1", "track", "Ace of Spades", "Motörhead", 90, "Ace of Spades"),
    doc("t2", "track", "Love Me Like a Reptile", "Motörhead", 20, "Ace of Spades"),
    doc("t3", "track", "Kickstart My Heart", "Mötley Crüe", 60, "Dr. Feelgood"),
    doc("t4", "track", "Орбит без сахара", "Сплин", 15, ""),
  ];

  it("folds diacritics and matches other scripts as typed", async () => {
    const index = await indexOf_(library);
    expect(idsOf(index.search("motorhead", undefined, 20, 0), "artist")).toEqual(["a1"]);
    expect(idsOf(index.search("motley cru", undefined, 20, 0), "artist")).toEqual(["a2"]);
    expect(idsOf(index.search("спл", undefined, 20, 0), "artist")).toEqual(["a3"]);
    expect(idsOf(index.search("САХАР", undefined, 20, 0), "track")).toEqual(["t4"]);
  });

  it("needs every word, the last one as a prefix, and ranks names starting as typed first", async () => {
    const index = await indexOf_(library);
    // "Ace of Spades" starts as typed; the other track is on that album.
    expect(idsOf(index.search("ace spa", undefined, 20, 0), "track")).toEqual(["t1", "t2"]);
    expect(idsOf(index.search("spades ace", undefined, 20, 0), "album")).toEqual(["al1"]);
    expect(idsOf(index.search("ace kick", undefined, 20, 0), "track")).toEqual([]);
    // "Crüe Tribute" starts with "crue", "Mötley Crüe" only contains it: the first leads though far less popular.
    index.add(doc("a5", "artist", "Crüe Tribute", "Crüe Tribute", 1));
    expect(idsOf(index.search("crue", undefined, 20, 0), "artist")).toEqual(["a5", "a2"]);
    expect(idsOf(index.search("cru", undefined, 20, 0), "artist")).toEqual(["a5", "a2"]);
    // All three start with "mot": the most popular first.
    expect(idsOf(index.search("mot", undefined, 20, 0), "artist")).toEqual(["a1", "a2", "a4"]);
    // Tracks found by their artist: most popular first.
    expect(idsOf(index.search("motorhead", undefined, 20, 0), "track")).toEqual(["t1", "t2"]);
  });

  it("tolerates typos by word length, short words only beside a longer word that matches", async () => {
    const index = await indexOf_(library);
    expect(idsOf(index.search("motrohead", undefined, 20, 0), "artist")).toEqual(["a1"]);
    expect(index.search("motrohead", undefined, 20, 0).hits[0]).toMatchObject({ id: "a1", match: "fuzzy" });
    expect(idsOf(index.search("kickstart my haert", undefined, 20, 0), "track")).toEqual(["t3"]);
    expect(idsOf(index.search("kickstrat ym", undefined, 20, 0), "track")).toEqual(["t3"]);
    // One letter gets no typo budget: "x" is not "a".
    expect(idsOf(index.search("love me like x", undefined, 20, 0), "track")).toEqual([]);
  });

  it("forgets a removed document at once, and finds an added or replaced one at once", async () => {
    const index = await indexOf_(library);
    expect(index.remove("t1")).toBe(true);
    expect(index.remove("t1")).toBe(false);
    expect(idsOf(index.search("ace of spades", undefined, 20, 0), "track")).toEqual(["t2"]);
    expect(idsOf(index.search("ace of spades", undefined, 20, 0), "album")).toEqual(["al1"]);
    expect(index.size).toBe(library.length - 1);

    index.add(doc("t5", "track", "Overkill", "Motörhead", 50, "Overkill"));
    expect(idsOf(index.search("overk", undefined, 20, 0), "track")).toEqual(["t5"]);
    // A replacement is found by its new words only.
    index.add(doc("t5", "track", "Bomber", "Motörhead", 50, "Bomber"));
    expect(idsOf(index.search("overkill", undefined, 20, 0), "track")).toEqual([]);
    expect(idsOf(index.search("bomber", undefined, 20, 0), "track")).toEqual(["t5"]);
    // A removal by kind leaves the same id of another kind alone.
    index.add(doc("same", "artist", "Same Name", "Same Name"));
    index.add(doc("same", "album", "Same Name", "Same Name"));
    index.remove("same", "album");
    const answer = index.search("same name", undefined, 20, 0);
    expect([idsOf(answer, "artist"), idsOf(answer, "album")]).toEqual([["same"], []]);
    expect(() => index.add({ ...doc("p", "track", "x"), kind: "playlist" })).toThrow();
  });

  it("finds the same after thousands of single additions and removals as an index built in one go", async () => {
    const random = seeded(5);
    const words = "glass river moon dust echo stone vel vela velo ost orb".split(" ");
    const name = () =>
      Array.from(
        { length: 1 + Math.floor(random() * 3) },
        () => words[Math.floor(random() * words.length)],
      ).join(" ");
    const documents = Array.from({ length: 12_000 }, (_, i) =>
      doc(
        `t${i}`,
        i % 10 === 0 ? "album" : "track",
        `${name()} ${i}`,
        name(),
        Math.floor(random() * 100),
        name(),
      ),
    );
    const removed = new Set(documents.filter((_, i) => i % 7 === 3).map((d) => d.id));
    const kept = documents.filter((d) => !removed.has(d.id));
    const bulk = await indexOf_(kept);
    // Built one by one (the delta is merged into the base several times on the way), with removals in between.
    const incremental = await indexOf_([]);
    for (const [i, document] of documents.entries()) {
      incremental.add(document);
      if (i % 500 === 499) for (const id of removed) if (id <= document.id) incremental.remove(id);
    }
    for (const id of removed) incremental.remove(id);
    expect(incremental.size).toBe(bulk.size);
    // Scores may differ a little (field-length averages and term frequencies as of each merge): what is found may not.
    const found = (index: SearchIndex, q: string) =>
      index
        .search(q, undefined, 20_000, 0)
        .hits.map((hit) => `${hit.kind}:${hit.id}:${hit.match}`)
        .sort();
    for (const q of [
      "gla",
      "river moo",
      "velo",
      "vel",
      "echo sto",
      "rvier",
      "orb 1",
      "1234",
      "ost velo glass",
    ]) {
      const expected = found(bulk, q);
      expect(expected.length, q).toBeGreaterThan(0);
      expect(found(incremental, q), q).toEqual(expected);
      expect(incremental.search(q, undefined, 30, 0).total, q).toBe(bulk.search(q, undefined, 30, 0).total);
      expect(
        expected.some((key) => removed.has(key.split(":")[1]!)),
        q,
      ).toBe(false);
    }
  });
});
