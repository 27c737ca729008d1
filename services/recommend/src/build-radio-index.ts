// buildRadioIndex: the recommendation job. Reads the closed event buckets and the catalog's tracks, trains item2vec
// on listening sessions, adds the tags' cold start, and writes an hnswlib index with its track list. Idempotent:
// the output is named by a fingerprint of the input, the same input gives the same bytes, and an existing output is
// not built again.
import { createHash } from "node:crypto";
import { access, mkdir, readFile } from "node:fs/promises";
import hnswlib from "hnswlib-node";
import { defaultItem2vecOptions, trainItem2vec, type Item2vecOptions } from "./item2vec";
import { readListeningSessions } from "./listening-sessions";
import { featureVectors, imputeListening, normalize, type TrackFeatures } from "./track-features";
import {
  INDEX_FORMAT,
  indexMeta,
  indexPath,
  metaPath,
  pruneBuilds,
  publishFile,
  readCurrent,
  setCurrent,
  writeFileWhole,
  type IndexMeta,
} from "./index-files";

export interface BuildRadioOptions {
  /** The events service's bucket folder (`<data dir>/events`). */
  eventsDir: string;
  /** Where the index files go (`<data dir>/recommend`). */
  outDir: string;
  /** Every catalog track with its tags, the vocabulary of the index. */
  loadTracks: (signal?: AbortSignal) => Promise<TrackFeatures[]>;
  item2vec?: Partial<Item2vecOptions>;
  /** Dimensions of the tags' vector (the listening vector has item2vec's). */
  featureDimensions?: number;
  /** A pause longer than this between two plays of a user starts a new session. */
  sessionGapMs?: number;
  hnsw?: { m: number; efConstruction: number };
  /** Only buckets of hours before this (epoch ms): the scheduled job builds a day's index from the days up to it. */
  untilMs?: number;
}

export type BuildPhase = "reading" | "training" | "indexing" | "writing" | "done";
export interface BuildProgress {
  phase: BuildPhase;
  done: number;
  total: number;
}

export interface BuildResult {
  fingerprint: string;
  indexPath: string;
  metaPath: string;
  /** False when this input's output existed already (nothing was built, `current.json` names it). */
  built: boolean;
  meta: IndexMeta["stats"] & { tracks: number };
}

/** A listened track's vector weighs this much against its tags; an imputed one less, since it is a guess. */
const LISTENING_WEIGHT = 1;
const IMPUTED_WEIGHT = 0.7;
const TAGS_WEIGHT = 0.5;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Told of each step; a promise it answers is awaited in the writing phase (the job runner's kill test holds there). */
export type OnBuildProgress = (progress: BuildProgress) => void | Promise<void>;

export async function buildRadioIndex(
  options: BuildRadioOptions,
  onProgress: OnBuildProgress = () => undefined,
  signal?: AbortSignal,
): Promise<BuildResult> {
  const train: Item2vecOptions = { ...defaultItem2vecOptions, ...options.item2vec };
  const featureDims = options.featureDimensions ?? 64;
  const sessionGapMs = options.sessionGapMs ?? 30 * 60_000;
  const hnswOptions = options.hnsw ?? { m: 16, efConstruction: 100 };
  await onProgress({ phase: "reading", done: 0, total: 2 });
  const input = await readListeningSessions(options.eventsDir, sessionGapMs, signal, options.untilMs);
  await onProgress({ phase: "reading", done: 1, total: 2 });
  const tracks = [...(await options.loadTracks(signal))].sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  await onProgress({ phase: "reading", done: 2, total: 2 });
  signal?.throwIfAborted();

  const fingerprint = createHash("sha256")
    .update(JSON.stringify({ format: INDEX_FORMAT, train, featureDims, sessionGapMs, hnswOptions }))
    .update(input.digest)
    .update(JSON.stringify(tracks.map((t) => [t.id, t.artistId, t.albumId, t.genre, t.year, t.folder])))
    .digest("hex")
    .slice(0, 32);
  const stats = {
    sessions: input.sessions.length,
    plays: input.plays,
    buckets: input.hours.length,
    lastHour: input.hours.at(-1) ?? null,
  };
  await mkdir(options.outDir, { recursive: true });
  const result = (built: boolean, listenedTracks: number): BuildResult => ({
    fingerprint,
    indexPath: indexPath(options.outDir, fingerprint),
    metaPath: metaPath(options.outDir, fingerprint),
    built,
    meta: { ...stats, listenedTracks, tracks: tracks.length },
  });
  // The meta file is written last: its presence means this input's build is complete.
  if (await exists(metaPath(options.outDir, fingerprint))) {
    const previous = await readCurrent(options.outDir);
    if (previous !== fingerprint) await setCurrent(options.outDir, fingerprint);
    const existing = indexMeta.parse(
      JSON.parse(await readFile(metaPath(options.outDir, fingerprint), "utf8")),
    );
    await onProgress({ phase: "done", done: 1, total: 1 });
    return result(false, existing.stats.listenedTracks);
  }

  const vectors = await trackVectors(tracks, input.sessions, train, featureDims, onProgress, signal);
  const dims = train.dimensions + featureDims;
  const index = new hnswlib.HierarchicalNSW("cosine", dims);
  index.initIndex(Math.max(1, tracks.length), hnswOptions.m, hnswOptions.efConstruction, train.seed);
  for (let label = 0; label < tracks.length; label++) {
    index.addPoint(Array.from(vectors.values.subarray(label * dims, (label + 1) * dims)), label);
    if (label % 2_000 === 0) {
      await new Promise((resolve) => setImmediate(resolve));
      signal?.throwIfAborted();
      await onProgress({ phase: "indexing", done: label, total: tracks.length });
    }
  }
  await onProgress({ phase: "writing", done: 0, total: 2 });
  const meta: IndexMeta = {
    format: INDEX_FORMAT,
    fingerprint,
    dimensions: dims,
    tracks: tracks.map((t, i) => [t.id, t.albumId, t.artistId, vectors.basis[i] === 1 ? 1 : 0]),
    stats: { ...stats, listenedTracks: vectors.listened },
  };
  const hnswPath = indexPath(options.outDir, fingerprint);
  const temporary = `${hnswPath}.tmp-${process.pid}`;
  index.writeIndexSync(temporary);
  await publishFile(options.outDir, temporary, hnswPath);
  await onProgress({ phase: "writing", done: 1, total: 2 });
  await writeFileWhole(options.outDir, metaPath(options.outDir, fingerprint), JSON.stringify(meta) + "\n");
  const previous = await readCurrent(options.outDir);
  await setCurrent(options.outDir, fingerprint);
  await pruneBuilds(options.outDir, new Set(previous === null ? [fingerprint] : [fingerprint, previous]));
  await onProgress({ phase: "done", done: 2, total: 2 });
  return result(true, vectors.listened);
}

interface TrackVectors {
  values: Float32Array;
  /** Per track: 1 when placed by its own plays. */
  basis: Uint8Array;
  listened: number;
}

/** Listening part (item2vec, or imputed from kin) and tags part side by side, in the tracks' order. */
async function trackVectors(
  tracks: readonly TrackFeatures[],
  sessions: readonly string[][],
  train: Item2vecOptions,
  featureDims: number,
  onProgress: OnBuildProgress,
  signal?: AbortSignal,
): Promise<TrackVectors> {
  const labelOf = new Map(tracks.map((t, i) => [t.id, i]));
  // The vocabulary: catalog tracks that were played, in track order; plays of removed tracks are left out.
  const vocabularyOf = new Map<number, number>();
  const encoded: Int32Array[] = [];
  for (const session of sessions) {
    const labels = session.flatMap((id) => {
      const label = labelOf.get(id);
      return label === undefined ? [] : [label];
    });
    if (labels.length < 2) continue;
    encoded.push(Int32Array.from(labels, (label) => vocabularyIndex(vocabularyOf, label)));
  }
  const trained = await trainItem2vec(
    encoded,
    vocabularyOf.size,
    train,
    ({ epoch, epochs }) => void onProgress({ phase: "training", done: epoch, total: epochs }),
    signal,
  );
  const cfDims = train.dimensions;
  const listening = new Float32Array(tracks.length * cfDims);
  const basis = new Uint8Array(tracks.length);
  for (const [label, vocabulary] of vocabularyOf) {
    listening.set(trained.subarray(vocabulary * cfDims, (vocabulary + 1) * cfDims), label * cfDims);
    normalize(listening.subarray(label * cfDims, (label + 1) * cfDims));
    basis[label] = 1;
  }
  const imputed = imputeListening(tracks, listening, basis, cfDims);
  const tags = featureVectors(tracks, featureDims);
  const dims = cfDims + featureDims;
  const values = new Float32Array(tracks.length * dims);
  for (let label = 0; label < tracks.length; label++) {
    const weight = basis[label] === 1 ? LISTENING_WEIGHT : imputed[label] === 1 ? IMPUTED_WEIGHT : 0;
    for (let d = 0; d < cfDims; d++) values[label * dims + d] = weight * listening[label * cfDims + d]!;
    for (let d = 0; d < featureDims; d++)
      values[label * dims + cfDims + d] = TAGS_WEIGHT * tags[label * featureDims + d]!;
  }
  return { values, basis, listened: vocabularyOf.size };
}

function vocabularyIndex(vocabulary: Map<number, number>, label: number): number {
  let index = vocabulary.get(label);
  if (index === undefined) {
    index = vocabulary.size;
    vocabulary.set(label, index);
  }
  return index;
}
