// The cold start: a vector per track from its tags and other audio-free features (artist, album, genre, year,
// folder), by feature hashing, so a track nobody played has neighbours, and mean listening vectors of its kin.
import { seededRandom } from "./item2vec";

/** What the build knows of a catalog track besides plays. */
export interface TrackFeatures {
  id: string;
  artistId: string;
  albumId: string;
  genre: string | null;
  year: number | null;
  /** The track's folder under its library folder ("" at the top), or null when unknown. */
  folder: string | null;
}

/** How much each feature pulls two tracks together: sharing an artist weighs most, a decade least. */
const featureWeights = { artist: 1, album: 0.7, genre: 0.9, folder: 0.3, decade: 0.25, year: 0.1 } as const;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A fixed pseudo-random unit vector per feature token: two tracks sharing a token share its direction. */
function tokenVector(token: string, dims: number, cache: Map<string, Float32Array>): Float32Array {
  const cached = cache.get(token);
  if (cached) return cached;
  const random = seededRandom(fnv1a(token));
  const vector = new Float32Array(dims);
  // Sum of uniforms: near-Gaussian, so token directions spread evenly on the sphere.
  for (let d = 0; d < dims; d++) vector[d] = random() + random() + random() - 1.5;
  normalize(vector);
  cache.set(token, vector);
  return vector;
}

export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let d = 0; d < vector.length; d++) vector[d] = vector[d]! / norm;
  return vector;
}

function tokensOf(track: TrackFeatures): Array<[string, number]> {
  const tokens: Array<[string, number]> = [
    [`artist:${track.artistId}`, featureWeights.artist],
    [`album:${track.albumId}`, featureWeights.album],
  ];
  if (track.genre !== null && track.genre.trim() !== "")
    tokens.push([`genre:${track.genre.trim().toLowerCase()}`, featureWeights.genre]);
  if (track.year !== null) {
    tokens.push([`decade:${Math.floor(track.year / 10)}`, featureWeights.decade]);
    tokens.push([`year:${track.year}`, featureWeights.year]);
  }
  if (track.folder !== null && track.folder !== "")
    tokens.push([`folder:${track.folder}`, featureWeights.folder]);
  return tokens;
}

/** Feature vectors of every track, `dims` floats each, unit length, in the order given. */
export function featureVectors(tracks: readonly TrackFeatures[], dims: number): Float32Array {
  const cache = new Map<string, Float32Array>();
  const vectors = new Float32Array(tracks.length * dims);
  tracks.forEach((track, index) => {
    const vector = vectors.subarray(index * dims, (index + 1) * dims);
    for (const [token, weight] of tokensOf(track)) {
      const direction = tokenVector(token, dims, cache);
      for (let d = 0; d < dims; d++) vector[d] = vector[d]! + weight * direction[d]!;
    }
    normalize(vector);
  });
  return vectors;
}

/**
 * Listening vectors for tracks nobody played: the mean of the played tracks of the same album, else the same
 * artist, else the same genre. Returns which tracks got one this way (`imputed`); the rest stay zero.
 */
export function imputeListening(
  tracks: readonly TrackFeatures[],
  listening: Float32Array,
  isListened: Uint8Array,
  dims: number,
): Uint8Array {
  const groups = [
    (t: TrackFeatures) => `album:${t.albumId}`,
    (t: TrackFeatures) => `artist:${t.artistId}`,
    (t: TrackFeatures) => (t.genre === null ? null : `genre:${t.genre.trim().toLowerCase()}`),
  ];
  const sums = new Map<string, Float32Array>();
  tracks.forEach((track, index) => {
    if (isListened[index] !== 1) return;
    for (const groupOf of groups) {
      const key = groupOf(track);
      if (key === null) continue;
      const sum = sums.get(key) ?? new Float32Array(dims);
      const vector = listening.subarray(index * dims, (index + 1) * dims);
      for (let d = 0; d < dims; d++) sum[d] = sum[d]! + vector[d]!;
      sums.set(key, sum);
    }
  });
  const imputed = new Uint8Array(tracks.length);
  tracks.forEach((track, index) => {
    if (isListened[index] === 1) return;
    for (const groupOf of groups) {
      const key = groupOf(track);
      const sum = key === null ? undefined : sums.get(key);
      if (!sum) continue;
      const target = listening.subarray(index * dims, (index + 1) * dims);
      target.set(sum);
      normalize(target);
      imputed[index] = 1;
      return;
    }
  });
  return imputed;
}
