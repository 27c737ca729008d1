// Search benchmark: soundmesh's index vs MiniSearch, FlexSearch and Orama on synthetic catalogs — build time, heap,
// query p50/p99, quality; soundmesh's index at a million entries with made-up names — build, heap after GC,
// as-you-type prefix and typo latency; then the found rate: 200 three-letter prefixes and 200 one-letter typos.
import { loadavg } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import FlexSearch from "flexsearch";
import MiniSearch from "minisearch";
import { create, insertMultiple, search as oramaSearch } from "@orama/orama";
import { SearchIndex, normalise, type IndexedDocument } from "@soundmesh/service-search";
import { percentile, printTable, round, summarize, writeResults, type Row } from "./report";
import { millionQueries, namedLibrary, withTypo, words } from "./search-library";

const sizes = (process.env.BENCH_SEARCH_SIZES ?? "10000,100000,1000000").split(",").map(Number);
/** The library of the "at a million" rows: artists, each with 2 albums of 10 tracks (45,000 → 1,035,000 entries). */
const millionArtists = Number(process.env.BENCH_SEARCH_MILLION_ARTISTS ?? 45_000);
/** A full collection before each heap reading (without --expose-gc: the flag set at run time, gc from a context). */
setFlagsFromString("--expose-gc");
const collect = (): void => void (global.gc ?? (runInNewContext("gc") as () => void))();
/** The JavaScript heap and the array buffers (typed arrays' bytes live outside the heap), after a full collection. */
const heapAfterGc = () => {
  collect();
  collect();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};
/** The other libraries are measured up to this size (Orama needs several GiB and minutes at 1M, MiniSearch 1.5 GiB). */
const otherLibrariesUpTo = Number(process.env.BENCH_SEARCH_OTHERS_MAX ?? 100_000);

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
    name: "soundmesh index",
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
    if (size > otherLibrariesUpTo && !engine.name.startsWith("soundmesh")) continue;
    const heapBefore = heapAfterGc();
    const started = performance.now();
    const query = await engine.build(documents);
    const buildMs = performance.now() - started;
    const heapMiB = (heapAfterGc() - heapBefore) / 2 ** 20;
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

const FOUND_TARGETS = 100;
const named = namedLibrary(500, 2, 10);
const namedIndex = await SearchIndex.build(
  (async function* () {
    yield await Promise.resolve(named.documents);
  })(),
);
/** The search page shows this many of each kind (the search contract's default perKind). */
const PER_KIND = 6;
const prefixOf = (name: string) => normalise(name).slice(0, 3);
const startCounts = new Map<string, number>();
for (const entity of [...named.artists, ...named.albums]) {
  const key = `${entity.kind}:${prefixOf(entity.title)}`;
  startCounts.set(key, (startCounts.get(key) ?? 0) + 1);
}
/**
 * Prefix cases: names whose first three letters start at most PER_KIND names of their kind. Where more start
 * alike, no page showing PER_KIND could hold them all, so those names are left out (and counted).
 */
const isTellable = (entity: IndexedDocument) =>
  (startCounts.get(`${entity.kind}:${prefixOf(entity.title)}`) ?? 0) <= PER_KIND;
const artistTargets = named.artists.slice(0, FOUND_TARGETS);
const albumTargets = named.albums.filter((_, i) => i % 2 === 1).slice(0, FOUND_TARGETS);
const prefixCandidates = [...named.artists, ...named.albums.filter((_, i) => i % 2 === 1)];
const prefixTargets = [
  ...named.artists.filter(isTellable).slice(0, FOUND_TARGETS),
  ...named.albums
    .filter((_, i) => i % 2 === 1)
    .filter(isTellable)
    .slice(0, FOUND_TARGETS),
];
const leftOut = prefixCandidates
  .slice(0, prefixCandidates.indexOf(prefixTargets.at(-1)!) + 1)
  .filter((entity) => !isTellable(entity)).length;
/** What the search page shows for a query: the best few of each kind (the search contract's default perKind). */
const shown = (q: string): Set<string> =>
  new Set(
    namedIndex
      .search(q, undefined, 1, 0)
      .groups.flatMap((group) => group.hits.map((hit) => `${hit.kind}:${hit.id}`)),
  );
const foundRows: Row[] = [];
const misses: Record<string, string[]> = { prefix: [], typo: [], "prefix, any name": [] };
for (const [label, queryOf, targets] of [
  ["three-letter prefix", (name: string) => name.slice(0, 3), prefixTargets],
  ["one-letter typo", (name: string) => withTypo(name, named.random), [...artistTargets, ...albumTargets]],
  // For comparison with the single 30-hit list before: every name, those sharing their start with many included.
  ["three-letter prefix, any name", (name: string) => name.slice(0, 3), [...artistTargets, ...albumTargets]],
] as const) {
  let found = 0;
  const samples: number[] = [];
  for (const target of targets) {
    const q = queryOf(target.title);
    const started = performance.now();
    const isFound = shown(q).has(`${target.kind}:${target.id}`);
    samples.push(performance.now() - started);
    if (isFound) found += 1;
    else
      misses[label.includes("typo") ? "typo" : label.includes("any") ? "prefix, any name" : "prefix"]!.push(
        `${q} → ${target.title}`,
      );
  }
  const stats = summarize(samples);
  foundRows.push({
    queries: label,
    entries: named.documents.length,
    found: `${found}/${targets.length}`,
    "query p50 ms": round(stats.p50),
    "query p99 ms": round(stats.p99),
  });
}
printTable(
  "soundmesh's found rate: artists and albums on a generated library, as the search page shows them",
  foundRows,
);
for (const [label, list] of Object.entries(misses))
  if (list.length > 0) console.log(`missed (${label}): ${list.slice(0, 20).join("; ")}`);
console.log(`prefix cases left out (more than ${PER_KIND} names of their kind start alike): ${leftOut}`);

// At a million: soundmesh's index over a library of made-up names, every as-you-type prefix of sampled names.
const TARGETS = { prefixP99Ms: 20, typoP99Ms: 50, heapMiB: 600 };
const millionHeapBefore = heapAfterGc();
let million: ReturnType<typeof namedLibrary> | undefined = namedLibrary(millionArtists, 2, 10);
const millionEntries = million.documents.length;
const millionStarted = performance.now();
const millionIndex = await SearchIndex.build(
  (async function* () {
    for (let at = 0; at < million.documents.length; at += 2_000)
      yield await Promise.resolve(million.documents.slice(at, at + 2_000));
  })(),
);
const millionBuildMs = performance.now() - millionStarted;
const { asYouType, typoTargets: millionTypoTargets, typos: millionTypos } = millionQueries(million);
// Warm-up queries of other names than the timed ones: the index keeps its last 256 answers, so warming up on the
// timed queries themselves would time answers from that cache, not what a person typing meets.
const timedQueries = new Set([...asYouType, ...millionTypos]);
const warmUp = million.artists
  .filter((_, i) => i % 450 === 200)
  .slice(0, 40)
  .flatMap((artist) => Array.from({ length: artist.title.length }, (_, i) => artist.title.slice(0, i + 1)))
  .filter((q) => !q.endsWith(" ") && !timedQueries.has(q))
  .slice(0, 200);
const removalTargets = million.documents
  .filter((d, i) => d.kind === "track" && i % 997 === 17)
  .slice(0, 1_000);
// The documents are let go (the service keeps none): what is left is the index and the few sampled here.
million = undefined;
const millionHeapMiB = (heapAfterGc() - millionHeapBefore) / 2 ** 20;
/** Mean CPU time (user + system, this process) per query of each timed list, by list. */
const cpuPerQuery = new Map<readonly string[], number>();
const timed = (list: readonly string[], answer: (q: string) => unknown) => {
  const cpuBefore = process.cpuUsage();
  const samples = list.map((q) => {
    const started = performance.now();
    answer(q);
    return performance.now() - started;
  });
  const cpu = process.cpuUsage(cpuBefore);
  cpuPerQuery.set(list, (cpu.user + cpu.system) / 1000 / Math.max(1, list.length));
  return samples;
};
/** What the search service does for a query: the best 6 of each kind and a first page of 20. */
const answerMillion = (q: string) => millionIndex.search(q, undefined, 20, 0);
// One warm-up round on other names, then the measured one.
timed(warmUp, answerMillion);
const oneLetter = [...new Set(asYouType.filter((q) => q.length === 1))];
const prefixSamples = timed(asYouType, answerMillion);
const typoSamples = timed(millionTypos, answerMillion);
const oneLetterSamples = timed(oneLetter, answerMillion);
let millionTyposFound = 0;
for (const [i, target] of millionTypoTargets.entries()) {
  const groups = answerMillion(millionTypos[i]!).groups;
  if (groups.some((group) => group.hits.some((hit) => hit.id === target.id))) millionTyposFound += 1;
}
// Removal at a million: 1,000 tracks, each gone from the next answer.
const removalSamples: number[] = [];
let removedAndGone = 0;
for (const document of removalTargets) {
  const started = performance.now();
  millionIndex.remove(document.id, "track");
  removalSamples.push(performance.now() - started);
  if (
    !millionIndex.search(document.title, new Set(["track"]), 50, 0).hits.some((hit) => hit.id === document.id)
  )
    removedAndGone += 1;
}
const percentiles = (samples: readonly number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    queries: sorted.length,
    "p50 ms": round(percentile(sorted, 0.5), 2),
    "p95 ms": round(percentile(sorted, 0.95), 2),
    "p99 ms": round(percentile(sorted, 0.99), 2),
  };
};
const toTarget = (samples: readonly number[], targetMs: number) =>
  round(
    percentile(
      [...samples].sort((a, b) => a - b),
      0.99,
    ) / targetMs,
    2,
  );
const millionRows: Row[] = [
  {
    measure: "as-you-type prefixes (1 letter to whole name)",
    entries: millionEntries,
    ...percentiles(prefixSamples),
    "CPU ms/query": round(cpuPerQuery.get(asYouType)!, 2),
    "p99 / target": toTarget(prefixSamples, TARGETS.prefixP99Ms),
  },
  {
    measure: "one-letter prefixes only",
    entries: millionEntries,
    ...percentiles(oneLetterSamples),
    "CPU ms/query": round(cpuPerQuery.get(oneLetter)!, 2),
    "p99 / target": toTarget(oneLetterSamples, TARGETS.prefixP99Ms),
  },
  {
    measure: `one-letter typos of names (found ${millionTyposFound}/${millionTypoTargets.length})`,
    entries: millionEntries,
    ...percentiles(typoSamples),
    "CPU ms/query": round(cpuPerQuery.get(millionTypos)!, 2),
    "p99 / target": toTarget(typoSamples, TARGETS.typoP99Ms),
  },
  {
    measure: `remove one track (${removedAndGone}/${removalTargets.length} gone from the next answer)`,
    entries: millionEntries,
    ...percentiles(removalSamples),
  },
];
printTable(
  `soundmesh's index at a million entries: build ${round(millionBuildMs / 1000, 1)} s, heap after GC ${Math.round(
    millionHeapMiB,
  )} MiB (target ${TARGETS.heapMiB})`,
  millionRows,
);
writeResults("search", [...rows, ...foundRows, ...millionRows], {
  queries,
  otherLibrariesUpTo,
  misses,
  leftOut,
  load: loadavg(),
  million: {
    entries: millionEntries,
    buildS: round(millionBuildMs / 1000, 2),
    heapMiB: Math.round(millionHeapMiB),
    typosFound: millionTyposFound,
    targets: TARGETS,
  },
});
