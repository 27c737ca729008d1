// Splitting artist tags into credited artists: the default separators, a configured list, names kept whole.
import { describe, expect, it } from "vitest";
import { DEFAULT_ARTIST_SEPARATORS, createArtistSplitter } from "@soundmesh/service-catalog";

const split = createArtistSplitter({ separators: DEFAULT_ARTIST_SEPARATORS, keepWhole: [] });

describe("artist credits", () => {
  it("split at feat., ft., featuring, & and ; by default", () => {
    expect(split("Shiroux Dou feat. Mara Lind")).toEqual(["Shiroux Dou", "Mara Lind"]);
    expect(split("Shiroux Dou FT. Mara Lind")).toEqual(["Shiroux Dou", "Mara Lind"]);
    expect(split("A featuring B & C")).toEqual(["A", "B", "C"]);
    expect(split("Tomo; Ilse Varn;")).toEqual(["Tomo", "Ilse Varn"]);
    expect(split("Tomo (feat. Ilse Varn)")).toEqual(["Tomo", "Ilse Varn"]);
    expect(split("Tomo&Ilse")).toEqual(["Tomo", "Ilse"]);
    expect(split("Tomo (UK) feat. Ilse Varn")).toEqual(["Tomo (UK)", "Ilse Varn"]);
    expect(split("[Tomo & Ilse]")).toEqual(["Tomo", "Ilse"]);
  });

  it("leave names whole where a separator's letters are part of a word", () => {
    expect(split("Daft Punk")).toEqual(["Daft Punk"]);
    expect(split("Little Feat")).toEqual(["Little Feat"]);
    expect(split("Featherweight")).toEqual(["Featherweight"]);
    expect(split("AC/DC")).toEqual(["AC/DC"]);
  });

  it("drop empty and repeated names, and give nothing for an empty tag", () => {
    expect(split("A & a & B")).toEqual(["A", "B"]);
    expect(split("  ")).toEqual([]);
    expect(split("&")).toEqual(["&"]);
  });

  it("split only at the configured separators, and keep configured names whole", () => {
    const custom = createArtistSplitter({
      separators: [" x ", "with", ","],
      keepWhole: ["Earth, Wind & Fire"],
    });
    expect(custom("A x B")).toEqual(["A", "B"]);
    expect(custom("Mara Lind with Tomo")).toEqual(["Mara Lind", "Tomo"]);
    expect(custom("A & B; C")).toEqual(["A & B; C"]);
    expect(custom("Earth, Wind & Fire, Tomo")).toEqual(["Earth, Wind & Fire", "Tomo"]);
    const keep = createArtistSplitter({
      separators: DEFAULT_ARTIST_SEPARATORS,
      keepWhole: ["simon & garfunkel"],
    });
    expect(keep("Simon & Garfunkel feat. Tomo")).toEqual(["Simon & Garfunkel", "Tomo"]);
    expect(createArtistSplitter({ separators: [], keepWhole: [] })("A & B")).toEqual(["A & B"]);
  });
});
