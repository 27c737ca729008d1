// Radio at 100,000 tracks: the build's time by phase (read the closed buckets, train item2vec, add to hnswlib,
// write), radio and similar-track query p50/p99 against an exact scan of every vector, and precision@10 on a
// synthetic log with planted taste clusters. The bucket files are written in the events service's format directly
// (the events bench measures writing them).
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { buildRadioIndex, loadRadioIndex, type BuildPhase } from "@soundmesh/service-recommend";
import { pickTracks } from "../services/recommend/src/pick-tracks";
import { makeWorld, precisionAt, type World } from "../services/recommend/test/synthetic-world";
import { printTable, round, summarize, writeResults, type Row } from "./report";

const TRACKS = Number(process.env.RADIO_BENCH_TRACKS ?? 100_000);
const clusters = 20;
const dir = mkdtempSync(join(tmpdir(), "soundmesh-radio-bench-"));

function writeClosedBuckets(eventsDir: string, world: World): number {
  mkdirSync(eventsDir, { recursive: true });
  const byHour = new Map<number, string[]>();
  for (const { userId, event } of world.plays) {
    const hour = event.at - (event.at % 3_600_000);
    const lines = byHour.get(hour) ?? [];
    lines.push(JSON.stringify({ k: "e", userId, receivedAt: event.at, late: false, event }));
    byHour.set(hour, lines);
  }
  for (const [hour, lines] of byHour) {
    const stem = new Date(hour).toISOString().slice(0, 13);
    writeFileSync(join(eventsDir, `${stem}.jsonl`), lines.join("\n") + "\n");
    writeFileSync(
      join(eventsDir, `${stem}.closed.json`),
      JSON.stringify({
        hourStart: hour,
        count: lines.length,
        duplicatesDropped: 0,
        late: 0,
        lateByHour: {},
        closedAt: hour,
      }),
    );
  }
  return byHour.size;
}

try {
  // About eight heard plays per track: a small server's few months, not a streaming service's years.
  const listeners = Math.round(TRACKS / 25);
  const world = makeWorld({
    clusters,
    tracksPerCluster: TRACKS / clusters,
    tracksPerAlbum: 10,
    albumsPerArtist: 3,
    listeners,
    sessionsPerListener: 10,
    playsPerSession: 20,
    strayShare: 0.15,
    unplayedAlbumsPerCluster: 10,
    seed: 5,
    startMs: Date.UTC(2030, 0, 1),
  });
  const buckets = writeClosedBuckets(join(dir, "events"), world);
  const phaseStarts = new Map<BuildPhase, number>();
  const started = performance.now();
  const result = await buildRadioIndex(
    {
      eventsDir: join(dir, "events"),
      outDir: join(dir, "recommend"),
      loadTracks: () => Promise.resolve(world.tracks),
    },
    (progress) => {
      if (!phaseStarts.has(progress.phase)) phaseStarts.set(progress.phase, performance.now());
    },
  );
  const totalMs = performance.now() - started;
  const at = (phase: BuildPhase) => phaseStarts.get(phase) ?? started;
  const buildRows: Row[] = [
    {
      "what is timed": "read closed buckets (JSONL) + sort into sessions",
      ms: round(at("training") - started, 0),
    },
    {
      "what is timed": "item2vec training (skip-gram, negative sampling)",
      ms: round(at("indexing") - at("training"), 0),
    },
    {
      "what is timed": "hnswlib addPoint, every track (M 16, ef 100)",
      ms: round(at("writing") - at("indexing"), 0),
    },
    { "what is timed": "write index + track list, fsync, rename", ms: round(at("done") - at("writing"), 0) },
    { "what is timed": "whole build", ms: round(totalMs, 0) },
  ];
  printTable(
    `Radio index build: ${TRACKS} tracks, ${world.plays.length} plays by ${listeners} listeners in ${buckets} hourly buckets ` +
      `(${result.meta.listenedTracks} tracks placed by listening)`,
    buildRows,
  );

  const loadStarted = performance.now();
  const index = (await loadRadioIndex(join(dir, "recommend")))!;
  const loadMs = performance.now() - loadStarted;
  const vectors = Array.from({ length: index.size }, (_, label) => index.vectorOf(label));
  const seeds = world.tracks.filter((_, i) => i % Math.floor(TRACKS / 500) === 0).map((t) => t.id);
  const radioMs: number[] = [];
  const similarMs: number[] = [];
  const exactMs: number[] = [];
  let recall = 0;
  const answers: Array<{ seed: string; trackIds: string[] }> = [];
  for (const seed of seeds) {
    const label = index.labelOf(seed)!;
    const vector = index.vectorOf(label);
    let t = performance.now();
    const radio = pickTracks(index, vector, {
      limit: 10,
      skip: new Set([label]),
      recent: [],
      diversify: true,
    });
    radioMs.push(performance.now() - t);
    answers.push({ seed, trackIds: radio.map((r) => r.trackId) });
    t = performance.now();
    const similar = pickTracks(index, vector, {
      limit: 10,
      skip: new Set([label]),
      recent: [],
      diversify: false,
    });
    similarMs.push(performance.now() - t);
    // The limit: an exact scan of every vector (what the index saves), and how much of its answer the index finds.
    t = performance.now();
    const scores = vectors.map((other, i) => {
      let dot = 0;
      for (let d = 0; d < other.length; d++) dot += other[d]! * vector[d]!;
      return i === label ? -Infinity : dot;
    });
    const exact = scores
      .map((score, i) => [score, i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 10)
      .map(([, i]) => index.trackAt(i).trackId);
    exactMs.push(performance.now() - t);
    recall += similar.filter((s) => exact.includes(s.trackId)).length / 10;
  }
  const stat = (samples: number[]) => {
    const { p50, p99 } = summarize(samples);
    return { p50: round(p50, 3), p99: round(p99, 3) };
  };
  const exact = stat(exactMs);
  const queryRows: Row[] = [
    {
      query: "radio, 10 tracks (diversified)",
      ...stat(radioMs),
      "p99 / exact scan p99": round(stat(radioMs).p99 / exact.p99, 4),
    },
    {
      query: "similar, 10 tracks",
      ...stat(similarMs),
      "p99 / exact scan p99": round(stat(similarMs).p99 / exact.p99, 4),
    },
    { query: "exact scan of every vector (the limit)", ...exact, "p99 / exact scan p99": 1 },
  ];
  printTable(`Queries (${seeds.length} seeds, ms; index load ${round(loadMs, 0)} ms)`, queryRows);
  const precision = precisionAt(world, answers);
  const quality: Row[] = [
    { figure: "precision@10 of radio (planted clusters; chance 0.05)", value: round(precision, 3) },
    { figure: "recall@10 of similar against the exact scan", value: round(recall / seeds.length, 3) },
  ];
  printTable("Quality", quality);
  writeResults("radio", [...buildRows, ...queryRows, ...quality], {
    tracks: TRACKS,
    plays: world.plays.length,
    listeners,
    buckets,
    load: loadavg(),
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
