// Search that finds what is typed: the best few of each kind, each ranked on its own (tracks holding a whole word no
// longer crowd out the artist a prefix starts), and typos in short words when the rest of the query matches.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { searchContract, type PlaylistSearchDocument } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  SearchIndex,
  createSearchService,
  searchManifest,
  transpositions,
  typoBudget,
  type IndexedDocument,
} from "@soundmesh/service-search";

const doc = (
  id: string,
  kind: IndexedDocument["kind"],
  title: string,
  artist = "",
  popularity = 0,
): IndexedDocument => ({ id, kind, title, subtitle: artist, artist, album: "", year: null, popularity });

/** An artist whose name starts like a common word, and many popular tracks holding that whole word. */
const crowded: IndexedDocument[] = [
  doc("shine", "artist", "Shine Tourwou", "Shine Tourwou", 3),
  doc("shiroux", "artist", "Shiroux Dou", "Shiroux Dou", 5),
  doc("tide", "album", "Tide Lines", "Shiroux Dou", 4),
  doc("kes", "artist", "The Kestrels", "The Kestrels", 8),
  ...Array.from({ length: 40 }, (_, i) => doc(`t${i}`, "track", `Shine On ${i}`, `Band ${i}`, 100 + i)),
  ...Array.from({ length: 10 }, (_, i) => doc(`d${i}`, "track", `Dou Dou ${i}`, "Shiroux Dou", 50)),
];

async function indexOf(documents: IndexedDocument[]): Promise<SearchIndex> {
  return SearchIndex.build(
    (async function* () {
      yield await Promise.resolve(documents);
    })(),
  );
}

const groupIds = (answer: ReturnType<SearchIndex["search"]>, kind: string) =>
  answer.groups.find((group) => group.kind === kind)?.hits.map((hit) => hit.id) ?? [];

describe("grouped answers", () => {
  it("ranks each kind on its own, so tracks holding the whole word cannot crowd out the artist a prefix starts", async () => {
    const index = await indexOf(crowded);
    const answer = index.search("shi", undefined, 20, 0);
    // One page across kinds, as before (20 of the 42 matches) ...
    expect(answer.hits).toHaveLength(20);
    // ... but the artists' own group has both artists the prefix starts.
    expect(groupIds(answer, "artist")).toEqual(expect.arrayContaining(["shine", "shiroux"]));
    expect(answer.groups.map((group) => group.kind)).toEqual(["artist", "album", "track"]);
    const tracks = answer.groups.find((group) => group.kind === "track")!;
    expect(tracks.hits).toHaveLength(6);
    // Tracks by Shiroux Dou match by their artist too.
    expect(tracks.total).toBe(50);
  });

  it("gives each kind asked for a group, and no other", async () => {
    const index = await indexOf(crowded);
    const answer = index.search("tide", new Set(["album", "artist"]), 20, 0);
    expect(answer.groups.map((group) => [group.kind, group.hits.map((hit) => hit.id)])).toEqual([
      ["artist", []],
      ["album", ["tide"]],
    ]);
    expect(
      index.search("shine", undefined, 20, 0, 2).groups.find((g) => g.kind === "track")!.hits,
    ).toHaveLength(2);
  });
});

describe("names that start as typed", () => {
  it("come first in their kind, above matches of the same word elsewhere (an album found by its artist)", async () => {
    const index = await indexOf([
      doc("fire", "album", "Fire", "Riper Stu", 9),
      doc("stul", "album", "Stul Train", "Nobody", 1),
      { ...doc("stun", "album", "Stun", "Nobody", 1) },
    ]);
    // "Fire" matches "stu" exactly, by its artist; "Stul Train" and "Stun" start with it.
    expect(groupIds(index.search("stu", undefined, 1, 0), "album")).toEqual(["stun", "stul", "fire"]);
  });

  it("are looked for with typos when what was typed starts no name of a kind, though other names contain it", async () => {
    const index = await indexOf([
      doc("rain", "album", "Rain", "Someone", 1),
      ...Array.from({ length: 8 }, (_, i) => doc(`ransei${i}`, "album", `Album ${i}`, "Ransei", 50)),
    ]);
    // Eight albums match "ran" as a prefix of their artist's name, enough for the group; none starts with it.
    const albums = groupIds(index.search("Ran", undefined, 1, 0), "album");
    expect(albums[0]).toBe("rain");
    expect(albums).toHaveLength(6);
  });
});

describe("typos", () => {
  it("tolerate a one-letter typo in a short word when the rest of the query matches", async () => {
    const index = await indexOf(crowded);
    // Swapped, changed, dropped and added letters in "Dou", with "Shiroux" right; and in "Shiroux" itself.
    for (const q of ["Shiroux Duo", "shiroux dpu", "shiroux do", "shiroux doux", "Shirox Dou", "Shiruox Dou"])
      expect(groupIds(index.search(q, undefined, 20, 0), "artist"), q).toContain("shiroux");
    // A short word's typo does not stand alone: every word must still match.
    expect(groupIds(index.search("Kestrel Duo", undefined, 20, 0), "artist")).toEqual([]);
    // Exact matches still come first.
    const exact = index.search("shiroux dou", undefined, 20, 0);
    expect(exact.groups.find((g) => g.kind === "artist")!.hits[0]).toMatchObject({
      id: "shiroux",
      match: "exact",
    });
  });

  it("count a swap of neighbouring letters as one edit, with budgets by word length", () => {
    expect(transpositions("duo").sort()).toEqual(["dou", "udo"]);
    expect(transpositions("aab")).toEqual(["aba"]);
    expect(transpositions("a")).toEqual([]);
    expect(typoBudget("dou", ["dou"])).toBe(1);
    expect(typoBudget("du", ["du"])).toBe(0);
    expect(typoBudget("du", ["shiroux", "du"])).toBe(1);
    expect(typoBudget("d", ["shiroux", "d"])).toBe(0);
    expect(typoBudget("kestrel", ["kestrel"])).toBe(2);
  });
});

describe("the search service's grouped answer", () => {
  it("lists artists, albums, tracks and playlists in that order, each its best few, and refuses bad perKind", async () => {
    const bus = createInProcessBus();
    const playlist: PlaylistSearchDocument = {
      id: "pl_shine000000000000000",
      name: "Shine all day",
      description: "",
      ownerName: "alice",
      itemCount: 1,
      followers: 0,
      audience: null,
    };
    const service = createSearchService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(searchManifest),
      source: {
        async *loadDocuments() {
          yield await Promise.resolve(crowded);
        },
      },
      playlists: {
        async *loadPages() {
          yield await Promise.resolve([playlist]);
        },
        fetch: () => Promise.resolve([playlist]),
      },
      clock: { now: () => Date.now() },
      rebuildEveryMs: 0,
    });
    await service.start();
    await service.rebuild();
    const client = bus.connect({ service: "access-point", calls: ["search"] });
    const query = (params: Record<string, unknown>) =>
      client.request(searchContract, "query", params as never, { userId: "u1" });
    await expect
      .poll(async () => (await query({ q: "shin" })).groups.map((g) => [g.kind, g.hits.length]))
      .toEqual([
        ["artist", 1],
        ["album", 0],
        ["track", 6],
        ["playlist", 1],
      ]);
    const few = await query({ q: "shin", perKind: 2, kinds: ["track", "playlist"] });
    expect(few.groups.map((g) => [g.kind, g.hits.length, g.total])).toEqual([
      ["track", 2, 40],
      ["playlist", 1, 1],
    ]);
    for (const perKind of [0, 51, 1.5])
      await expect(query({ q: "shin", perKind }), String(perKind)).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    await service.stop();
  });
});
