// Turns nearest neighbours into a radio's next tracks: skips what was just played, keeps an album or an artist
// from filling the answer (at most two of an album and three of an artist among ten), and asks for more
// neighbours when the rules leave too few.
import type { RecommendedTrack } from "@soundmesh/protocol";
import type { RadioIndex } from "./radio-index";

const ALBUM_CAP = 2;
const ARTIST_CAP = 3;
/** The caps count over this many tracks: the answer and the end of what was played before it. */
const CAP_SPAN = 10;

export interface PickOptions {
  limit: number;
  /** Labels never answered (the seed, the tracks played or queued). */
  skip: ReadonlySet<number>;
  /** The last tracks played, oldest first, whose albums and artists count towards the caps. */
  recent: readonly number[];
  diversify: boolean;
}

export function pickTracks(index: RadioIndex, vector: number[], options: PickOptions): RecommendedTrack[] {
  const { limit, skip } = options;
  let fetch = Math.min(index.size, limit * 4 + 16);
  for (;;) {
    const candidates = index.nearest(vector, fetch, (label) => skip.has(label));
    if (!options.diversify) return candidates.slice(0, limit);
    const { picked, deferred } = diversify(index, candidates, options);
    if (picked.length >= limit) return picked;
    // A small library may not have enough variety: then the nearest of the rest, rather than a short answer.
    if (fetch >= index.size) return [...picked, ...deferred].slice(0, limit);
    fetch = Math.min(index.size, fetch * 4);
  }
}

function diversify(
  index: RadioIndex,
  candidates: RecommendedTrack[],
  options: PickOptions,
): { picked: RecommendedTrack[]; deferred: RecommendedTrack[] } {
  const window: Array<{ albumId: string; artistId: string }> = options.recent
    .slice(-CAP_SPAN)
    .map((label) => index.trackAt(label));
  const picked: RecommendedTrack[] = [];
  const deferred: RecommendedTrack[] = [];
  for (const candidate of candidates) {
    if (picked.length >= options.limit) break;
    const track = index.trackAt(index.labelOf(candidate.trackId)!);
    const recent = window.slice(-(CAP_SPAN - 1));
    const sameAlbum = recent.filter((t) => t.albumId === track.albumId).length;
    const sameArtist = recent.filter((t) => t.artistId === track.artistId).length;
    if (sameAlbum >= ALBUM_CAP || sameArtist >= ARTIST_CAP) {
      deferred.push(candidate);
      continue;
    }
    picked.push(candidate);
    window.push(track);
  }
  return { picked, deferred };
}

/** The normalised mean of the labels' vectors: the direction a radio from several tracks starts in. */
export function centroid(index: RadioIndex, labels: readonly number[]): number[] {
  const sum = new Array<number>(index.dimensions).fill(0);
  for (const label of labels) {
    const vector = index.vectorOf(label);
    for (let d = 0; d < sum.length; d++) sum[d] = sum[d]! + vector[d]!;
  }
  const norm = Math.sqrt(sum.reduce((total, value) => total + value * value, 0)) || 1;
  return sum.map((value) => value / norm);
}
