// A loaded radio index: the hnswlib graph read whole into memory and its track list. Queries are synchronous on one
// object, so swapping the service's reference to a new one is atomic: a query sees the old index or the new one.
import hnswlib from "hnswlib-node";
import { readFile } from "node:fs/promises";
import type { RecommendedTrack } from "@soundmesh/protocol";
import { indexMeta, indexPath, metaPath, readCurrent, type IndexMeta } from "./index-files";

export interface RadioIndex {
  fingerprint: string;
  dimensions: number;
  size: number;
  stats: IndexMeta["stats"];
  labelOf(trackId: string): number | undefined;
  /** Labels of an album's or an artist's tracks. */
  labelsOf(kind: "album" | "artist", id: string): number[];
  trackAt(label: number): { trackId: string; albumId: string; artistId: string; listened: boolean };
  vectorOf(label: number): number[];
  /** The `count` nearest labels to a vector, nearest first, leaving out the labels `skip` says. */
  nearest(vector: number[], count: number, skip: (label: number) => boolean): RecommendedTrack[];
}

/** Reads the build `current.json` names, or null when none was built yet. */
/** The build `current.json` names; null when nothing was built yet, or when it is `unlessFingerprint` (loaded). */
export async function loadRadioIndex(dir: string, unlessFingerprint?: string): Promise<RadioIndex | null> {
  const fingerprint = await readCurrent(dir);
  if (fingerprint === null || fingerprint === unlessFingerprint) return null;
  const meta = indexMeta.parse(JSON.parse(await readFile(metaPath(dir, fingerprint), "utf8")));
  const graph = new hnswlib.HierarchicalNSW("cosine", meta.dimensions);
  graph.readIndexSync(indexPath(dir, fingerprint));
  return radioIndexOf(meta, graph);
}

function radioIndexOf(meta: IndexMeta, graph: hnswlib.HierarchicalNSW): RadioIndex {
  const labels = new Map<string, number>();
  const groups = new Map<string, number[]>();
  meta.tracks.forEach(([trackId, albumId, artistId], label) => {
    labels.set(trackId, label);
    for (const key of [`album:${albumId}`, `artist:${artistId}`]) {
      const group = groups.get(key) ?? [];
      group.push(label);
      groups.set(key, group);
    }
  });
  const size = meta.tracks.length;
  return {
    fingerprint: meta.fingerprint,
    dimensions: meta.dimensions,
    size,
    stats: meta.stats,
    labelOf: (trackId) => labels.get(trackId),
    labelsOf: (kind, id) => groups.get(`${kind}:${id}`) ?? [],
    trackAt(label) {
      const [trackId, albumId, artistId, listened] = meta.tracks[label]!;
      return { trackId, albumId, artistId, listened: listened === 1 };
    },
    vectorOf: (label) => graph.getPoint(label),
    nearest(vector, count, skip) {
      const wanted = Math.min(count, size);
      if (wanted === 0) return [];
      graph.setEf(Math.max(64, wanted));
      const { neighbors, distances } = graph.searchKnn(vector, wanted, (label) => !skip(label));
      return neighbors.map((label, i) => ({
        trackId: meta.tracks[label]![0],
        // hnswlib's cosine distance is 1 − similarity.
        score: Math.round((1 - distances[i]!) * 10_000) / 10_000,
        basis: meta.tracks[label]![3] === 1 ? ("listening" as const) : ("tags" as const),
      }));
    },
  };
}
