// The index's shortcuts give the answers its plain way would: one- and two-letter answers computed at the end of a
// build and kept until the next change (a removal or an addition is seen by the next query all the same), and a word
// with many postings matched through each remaining document's own terms (checked against a brute-force filter, for
// documents in the base and added since).
import { describe, expect, it } from "vitest";
import { SearchIndex, normalise, type IndexedDocument } from "@soundmesh/service-search";

const words = "dream dust drive dance dark deep down day door dew night rain star".split(" ");

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** 3,000 tracks of 40 artists, titled with words most of which start with "d". */
function library(): IndexedDocument[] {
  const random = seeded(5);
  const pick = () => words[Math.floor(random() * words.length)]!;
  return Array.from({ length: 3_000 }, (_, i) => {
    const artist = `Artist${i % 40}`;
    return {
      id: `t${i}`,
      kind: "track",
      title: `${pick()} ${pick()}`,
      subtitle: artist,
      artist,
      album: `Album${i % 120}`,
      year: null,
      popularity: i % 7,
    };
  });
}

async function build(documents: IndexedDocument[]): Promise<SearchIndex> {
  return SearchIndex.build(
    (async function* () {
      yield await Promise.resolve(documents);
    })(),
  );
}

/** The ids of the tracks whose words match the query's: each word exactly, the last one also as a prefix. */
function bruteForce(documents: IndexedDocument[], query: string): string[] {
  const typed = normalise(query).split(" ");
  return documents
    .filter((document) => {
      const terms = normalise(`${document.title} ${document.artist} ${document.album}`).split(" ");
      return typed.every((word, i) =>
        terms.some((term) => (i === typed.length - 1 ? term.startsWith(word) : term === word)),
      );
    })
    .map((document) => document.id)
    .sort();
}

/** A page of exactly as many tracks as match (a longer page would be filled with typo matches). */
const tracksOf = (index: SearchIndex, query: string, count: number) =>
  index.search(query, new Set(["track"]), count, 0).hits.map((hit) => hit.id);

describe("the index's computed-ahead answers and forward look-ups", () => {
  it("answers one- and two-letter words the same before and after a change, and sees the change at once", async () => {
    const documents = library();
    const index = await build(documents);
    const first = index.search("d", new Set(["track"]), 20, 0);
    expect(first.total).toBe(bruteForce(documents, "d").length);
    const top = first.hits[0]!.id;
    expect(index.remove(top, "track")).toBe(true);
    const afterRemoval = index.search("d", new Set(["track"]), 20, 0);
    expect(afterRemoval.total).toBe(first.total - 1);
    expect(afterRemoval.hits.map((hit) => hit.id)).not.toContain(top);
    expect(index.search("dr", new Set(["track"]), 20, 0).hits.map((hit) => hit.id)).not.toContain(top);
    const added: IndexedDocument = {
      id: "new",
      kind: "track",
      title: "Drzzz",
      subtitle: "Someone",
      artist: "Someone",
      album: "",
      year: null,
      popularity: 1_000,
    };
    index.add(added);
    const afterAddition = index.search("d", new Set(["track"]), 20, 0);
    expect(afterAddition.total).toBe(first.total);
    expect(afterAddition.hits[0]!.id).toBe("new");
    expect(index.search("dr", new Set(["track"]), 20, 0).hits[0]!.id).toBe("new");
    // A fresh build of the same documents counts the same (scores of a later addition differ in the last digits).
    const fresh = await build([...documents.filter((document) => document.id !== top), added]);
    const totals = (answer: ReturnType<SearchIndex["search"]>) => [
      answer.total,
      ...answer.groups.map((group) => group.total),
    ];
    for (const query of ["d", "dr", "n", "s"])
      expect(totals(index.search(query, undefined, 20, 0))).toEqual(
        totals(fresh.search(query, undefined, 20, 0)),
      );
  });

  it("finds the documents a short last word matches among the few the other words leave, base and delta alike", async () => {
    const documents = library();
    const index = await build(documents);
    for (const query of ["Artist3 d", "Artist17 dr", "Album5 d", "dream d", "night d"]) {
      const expected = bruteForce(documents, query);
      expect(expected.length).toBeGreaterThan(6);
      expect(tracksOf(index, query, expected.length).sort()).toEqual(expected);
    }
    // Added after the build (in the delta, not in the forward index): found through the delta's postings.
    const added = documents.slice(0, 30).map((document, i) => ({
      ...document,
      id: `added${i}`,
      title: i % 2 === 0 ? "Drone dusk" : "Rain",
    }));
    for (const document of added) index.add(document);
    const all = [...documents, ...added];
    for (const query of ["Artist3 d", "Artist17 dr", "Album5 d", "rain d", "drone d"]) {
      const expected = bruteForce(all, query);
      expect(expected.length).toBeGreaterThan(6);
      expect(tracksOf(index, query, expected.length).sort()).toEqual(expected);
    }
  });
});
