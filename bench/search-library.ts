// The generated libraries of bench/search.ts (and bench/search-profile.ts): made-up names, typos of them.
import type { IndexedDocument } from "@soundmesh/service-search";

/** Common words: track titles and half the album names are made of them. */
export const words =
  "love night heart dream fire river light shadow summer rain blue gold city road home star wild ocean silver echo garden storm moon glass paper ghost".split(
    " ",
  );

/** mulberry32: a small seeded generator whose sequence does not collapse as a float LCG's does. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A library with made-up names (as real ones are: words no dictionary has), tracks titled with common words. */
export function namedLibrary(artistCount: number, albumsPerArtist: number, tracksPerAlbum: number) {
  const random = seededRandom(7);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const onsets = "b br c ch d dr f g gr h j k kr l m n p pr r s sh st t tr v w z".split(" ");
  const vowels = "a e i o u ou ai ei".split(" ");
  const codas = ["", "", "n", "r", "s", "x", "l", "m"];
  const syllable = () => pick(onsets) + pick(vowels) + pick(codas);
  const madeUp = () => {
    const word = Array.from({ length: 1 + Math.floor(random() * 3) }, syllable).join("");
    return word[0]!.toUpperCase() + word.slice(1);
  };
  const common = [
    ...words,
    "shine",
    "ship",
    "shore",
    "kiss",
    "dance",
    "drive",
    "train",
    "bright",
    "dust",
    "way",
  ];
  const nameOf = (parts: number, chooseWord: () => string) =>
    Array.from({ length: parts }, chooseWord).join(" ");
  const documents: IndexedDocument[] = [];
  const artists: IndexedDocument[] = [];
  const albums: IndexedDocument[] = [];
  for (let a = 0; a < artistCount; a++) {
    const artist = nameOf(1 + Math.floor(random() * 3), madeUp);
    const artistDocument: IndexedDocument = {
      id: `ar${a}`,
      kind: "artist",
      title: artist,
      subtitle: "",
      artist,
      album: "",
      year: null,
      popularity: Math.floor(random() * 200),
    };
    artists.push(artistDocument);
    documents.push(artistDocument);
    for (let b = 0; b < albumsPerArtist; b++) {
      const album = nameOf(1 + Math.floor(random() * 3), () =>
        random() < 0.5 ? madeUp() : pick(common).replace(/^./, (c) => c.toUpperCase()),
      );
      const albumDocument: IndexedDocument = {
        id: `al${a}-${b}`,
        kind: "album",
        title: album,
        subtitle: artist,
        artist,
        album,
        year: 1960 + Math.floor(random() * 60),
        popularity: tracksPerAlbum,
      };
      albums.push(albumDocument);
      documents.push(albumDocument);
      for (let t = 0; t < tracksPerAlbum; t++) {
        const title = nameOf(1 + Math.floor(random() * 3), () => pick(common));
        documents.push({
          id: `t${a}-${b}-${t}`,
          kind: "track",
          title: title[0]!.toUpperCase() + title.slice(1),
          subtitle: `${artist} · ${album}`,
          artist,
          album,
          year: albumDocument.year,
          popularity: 0,
        });
      }
    }
  }
  return { documents, artists, albums, random, pick };
}

/** One letter changed, dropped, added or swapped with its neighbour, in one word of the name. */
export function withTypo(name: string, random: () => number): string {
  const nameWords = name.split(" ");
  const candidates = nameWords
    .map((word, i) => ({ word, i }))
    .filter(({ word }) => word.length >= (nameWords.length > 1 ? 2 : 3));
  if (candidates.length === 0) return name;
  const { word, i } = candidates[Math.floor(random() * candidates.length)]!;
  const at = Math.floor(random() * word.length);
  const letter = "abcdefghijklmnopqrstuvwxyz"[Math.floor(random() * 26)]!;
  const kind = Math.floor(random() * 4);
  let typo: string;
  if (kind === 0) typo = word.slice(0, at) + (letter === word[at] ? "q" : letter) + word.slice(at + 1);
  else if (kind === 1 && word.length > 2) typo = word.slice(0, at) + word.slice(at + 1);
  else if (kind === 2 || word.length < 2) typo = word.slice(0, at) + letter + word.slice(at);
  else {
    const from = Math.min(at, word.length - 2);
    typo = word.slice(0, from) + word[from + 1]! + word[from]! + word.slice(from + 2);
  }
  nameWords[i] = typo;
  return nameWords.join(" ");
}

/**
 * The queries of the "at a million" rows: 100 artists, 100 albums and 100 tracks typed letter by letter (each prefix
 * from one letter to the whole name), and one-letter typos of 100 other artists' and 100 other albums' names.
 */
export function millionQueries(library: ReturnType<typeof namedLibrary>) {
  const sampled = [
    ...library.artists.filter((_, i) => i % 450 === 7).slice(0, 100),
    ...library.albums.filter((_, i) => i % 900 === 11).slice(0, 100),
    ...library.documents
      .filter((document, i) => document.kind === "track" && i % 10_000 === 13)
      .slice(0, 100),
  ];
  const asYouType = sampled.flatMap((document) =>
    Array.from({ length: document.title.length }, (_, i) => document.title.slice(0, i + 1)).filter(
      (q) => !q.endsWith(" "),
    ),
  );
  const typoTargets = [
    ...library.artists.filter((_, i) => i % 450 === 3).slice(0, 100),
    ...library.albums.filter((_, i) => i % 900 === 5).slice(0, 100),
  ];
  const typos = typoTargets.map((target) => withTypo(target.title, library.random));
  return { asYouType, typoTargets, typos };
}
