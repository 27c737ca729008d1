// Search benchmark: MiniSearch vs FlexSearch vs Orama on synthetic catalogs — build time, heap, query p50/p99, quality.
import FlexSearch from "flexsearch";
import MiniSearch from "minisearch";
import { create, insertMultiple, search as oramaSearch } from "@orama/orama";
import { SearchIndex, type IndexedDocument } from "@soundmesh/service-search";
import { printTable, round, summarize, writeResults, type Row } from "./report";

const sizes = (process.env.BENCH_SEARCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);
/** Orama and FlexSearch are measured up to this size (Orama needs several GiB and minutes at 1M here). */
const otherLibrariesUpTo = Number(process.env.BENCH_SEARCH_OTHERS_MAX ?? 100_000);

const words =
  "love night heart dream fire river light shadow summer rain blue gold city road home star wild ocean silver echo garden storm moon glass paper ghost".split(
    " ",
  );
const names =
  "Beatles Beyoncé Björk Sigur Rós Radiohead Adele Nirvana Queen Prince Madonna Daft Punk Kraftwerk Portishead Massive Attack Bowie Abba Sade Motörhead Mötley Blur".split(
    " ",
  );

function synthetic(count: number): IndexedDocument[] {
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  return Array.from({ length: count }, (_, i) => {
    const artist = `${pick(names)} ${i % 7 === 0 ? pick(names) : ""}`.trim();
    const album = `${pick(words)} ${pick(words)}`;
    return {
      id: `d${i}`,
      kind: i % 20 === 0 ? "album" : i % 50 === 0 ? "artist" : "track",
      title: `${pick(words)} ${pick(words)} ${i}`,
      subtitle: artist,
      artist,
      album,
      year: 1960 + (i % 60),
      popularity: Math.floor(1000 / (1 + (i % 1000))),
    } satisfies IndexedDocument;
  });
}

const queries = ["lo", "love", "love ni", "beatls", "radiohed", "beyonce", "silver echo", "storm"];

interface Engine {
  name: string;
  build(documents: IndexedDocument[]): Promise<(q: string) => Promise<string[]> | string[]>;
}

const engines: Engine[] = [
  {
    name: "minisearch (soundmesh index)",
    async build(documents) {
      const index = await SearchIndex.build(
        (async function* () {
          yield await Promise.resolve(documents);
        })(),
      );
      return (q) => index.search(q, undefined, 20, 0).hits.map((h) => `${h.title} ${h.subtitle}`);
    },
  },
  {
    name: "minisearch (plain)",
    build(documents) {
      const index = new MiniSearch<IndexedDocument>({
        fields: ["title", "artist", "album"],
        storeFields: ["title", "artist"],
      });
      index.addAll(documents);
      return Promise.resolve((q: string) =>
        index
          .search(q, { prefix: true, fuzzy: 0.2 })
          .slice(0, 20)
          .map((r) => `${String(r.title)} ${String(r.artist)}`),
      );
    },
  },
  {
    name: "flexsearch",
    build(documents) {
      type FlexDocument = new (options: object) => {
        add(document: object): void;
        search(query: string, options: object): Array<{ doc?: { title?: string; artist?: string } }>;
      };
      const index = new (FlexSearch.Document as unknown as FlexDocument)({
        document: { id: "id", index: ["title", "artist", "album"], store: ["title", "artist"] },
        tokenize: "forward",
        encoder: FlexSearch.Charset.LatinBalance,
      });
      for (const document of documents) index.add(document);
      return Promise.resolve((q: string) =>
        index
          .search(q, { limit: 20, enrich: true, merge: true })
          .map((r) => `${r.doc?.title ?? ""} ${r.doc?.artist ?? ""}`),
      );
    },
  },
  {
    name: "orama",
    async build(documents) {
      const db = create({ schema: { title: "string", artist: "string", album: "string" } as const });
      await insertMultiple(
        db,
        documents.map((d) => ({ id: d.id, title: d.title, artist: d.artist, album: d.album })),
        5_000,
      );
      return async (q: string) =>
        (await oramaSearch(db, { term: q, tolerance: 1, limit: 20 })).hits.map(
          (h) => `${h.document.title} ${h.document.artist}`,
        );
    },
  },
];

const quality = (results: Record<string, string[]>) =>
  [
    results.beatls?.some((t) => /beatles/i.test(t)) ? "typo" : "",
    results.beyonce?.some((t) => /beyonc/i.test(t)) ? "diacritics" : "",
    results.lo?.some((t) => /\blo/i.test(t)) ? "prefix" : "",
  ]
    .filter(Boolean)
    .join("+") || "none";

const rows: Row[] = [];
for (const size of sizes) {
  const documents = synthetic(size);
  for (const engine of engines) {
    if (size > otherLibrariesUpTo && !engine.name.startsWith("minisearch")) continue;
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    const query = await engine.build(documents);
    const buildMs = performance.now() - started;
    const heapMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const samples: number[] = [];
    const results: Record<string, string[]> = {};
    for (let round_ = 0; round_ < 5; round_++) {
      for (const q of queries) {
        const t = performance.now();
        results[q] = await query(q);
        samples.push(performance.now() - t);
      }
    }
    const stats = summarize(samples);
    rows.push({
      library: engine.name,
      entries: size,
      "build s": round(buildMs / 1000, 2),
      "heap MiB": Math.round(heapMiB),
      "query p50 ms": round(stats.p50),
      "query p99 ms": round(stats.p99),
      finds: quality(results),
    });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
}
printTable("Search libraries on synthetic catalogs (as-you-type prefixes, typos, diacritics)", rows);
writeResults("search", rows, { queries, otherLibrariesUpTo });
