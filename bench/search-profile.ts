// Not a benchmark (skipped by run-all): builds bench/search.ts's million-entry index and lists the slowest of its
// as-you-type and typo queries, each timed several times (the least time is the query's own cost, the rest is the
// machine), with the time of each phase. `node --import tsx bench/search-profile.ts [count]`.
import { SearchIndex } from "@soundmesh/service-search";
import { round } from "./report";
import { millionQueries, namedLibrary } from "./search-library";

const count = Number(process.argv[2] ?? 25);
const library = namedLibrary(Number(process.env.BENCH_SEARCH_MILLION_ARTISTS ?? 45_000), 2, 10);
const started = performance.now();
const index = await SearchIndex.build(
  (async function* () {
    for (let at = 0; at < library.documents.length; at += 2_000)
      yield await Promise.resolve(library.documents.slice(at, at + 2_000));
  })(),
);
console.log(
  `built ${library.documents.length} entries in ${round((performance.now() - started) / 1000, 1)} s`,
);
const { asYouType, typos } = millionQueries(library);
const answer = (q: string) => index.search(q, undefined, 20, 0);
// The index keeps its 256 latest answers: passes over all 3,526 queries in turn time each one afresh.
const all = [...asYouType, ...typos];
const least = new Array<number>(all.length).fill(Infinity);
const passes = process.env.SEARCH_PROFILE_QUERIES ? 0 : 4;
for (let pass = 0; pass < passes; pass++)
  all.forEach((q, i) => {
    const t = performance.now();
    answer(q);
    if (pass > 0) least[i] = Math.min(least[i]!, performance.now() - t);
  });
for (const [label, from, to] of passes === 0
  ? []
  : ([
      ["as-you-type", 0, asYouType.length],
      ["typos", asYouType.length, all.length],
    ] as const)) {
  const timed = all.slice(from, to).map((q, i) => ({ q, ms: least[from + i]! }));
  const total = timed.reduce((sum, { ms }) => sum + ms, 0);
  timed.sort((a, b) => b.ms - a.ms);
  console.log(
    `\n${label}: ${timed.length} queries, least-of-3 mean ${round(total / timed.length, 2)} ms; slowest:`,
  );
  for (const { q, ms } of timed.slice(0, count)) console.log(`  ${round(ms, 2)} ms  ${JSON.stringify(q)}`);
}

// With SEARCH_PROFILE_QUERIES (queries separated by "|"), a CPU profile of those queries alone, each run afresh
// (after 300 others, so no cached answer serves it), summed by function: where a slow query's time goes.
const only = process.env.SEARCH_PROFILE_QUERIES?.split("|");
if (only) {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 50 });
  const fillers = asYouType.slice(0, 300);
  const samples: number[] = [];
  const self = new Map<string, number>();
  for (let round = 0; round < 4; round++)
    for (const q of only) {
      for (const filler of fillers) answer(filler);
      if (round === 0) {
        answer(q);
        continue;
      }
      await session.post("Profiler.start");
      const t = performance.now();
      answer(q);
      samples.push(performance.now() - t);
      const { profile } = await session.post("Profiler.stop");
      const byId = new Map(profile.nodes.map((node) => [node.id, node]));
      for (const id of profile.samples ?? []) {
        const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
        const key = `${functionName || "(anonymous)"} ${url.split("/").slice(-1)[0]}:${lineNumber + 1}`;
        self.set(key, (self.get(key) ?? 0) + 1);
      }
    }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(`\nprofiled ${only.length} queries × 3, mean ${round(mean, 2)} ms; self time by function:`);
  for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`  ${round((100 * hits) / total, 1)}%  ${key}`);
}
