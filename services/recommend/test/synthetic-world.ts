// A synthetic library and listening log with planted taste clusters, for the radio tests and bench/radio.ts:
// each listener likes one cluster and plays mostly from it. Albums and artists sit inside one cluster (as in real
// libraries) but genres are dealt at random, so tags alone cannot tell the clusters apart.
import type { ListeningEvent } from "@soundmesh/protocol";
import { seededRandom } from "../src/item2vec";
import type { TrackFeatures } from "../src/track-features";

export interface WorldOptions {
  clusters: number;
  tracksPerCluster: number;
  tracksPerAlbum: number;
  albumsPerArtist: number;
  listeners: number;
  sessionsPerListener: number;
  playsPerSession: number;
  /** Share of plays outside the listener's cluster (noise). */
  strayShare: number;
  /** Albums per cluster nobody plays: the cold start's tracks. */
  unplayedAlbumsPerCluster: number;
  seed: number;
  /** Time of the first play (epoch ms, on an hour). */
  startMs: number;
}

export interface PlannedPlay {
  userId: string;
  event: ListeningEvent;
}

export interface World {
  tracks: TrackFeatures[];
  clusterOf: Map<string, number>;
  /** Tracks of the unplayed albums. */
  unplayed: Set<string>;
  /** Plays in time order; about a tenth are skips (which do not count as co-listening). */
  plays: PlannedPlay[];
  endMs: number;
}

const genres = ["Rock", "Jazz", "Electronic", "Folk", "Hip-Hop", "Classical", "Pop", "Metal"];

/** A deterministic v4-shaped UUID from a counter, so the same world has the same event ids. */
function eventIdOf(n: number, random: () => number): string {
  const hex = (count: number) =>
    Array.from({ length: count }, () => Math.floor(random() * 16).toString(16)).join("");
  const serial = n.toString(16).padStart(12, "0").slice(-12);
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${serial}`;
}

export function makeWorld(options: WorldOptions): World {
  const random = seededRandom(options.seed);
  const tracks: TrackFeatures[] = [];
  const clusterOf = new Map<string, number>();
  const unplayed = new Set<string>();
  const playable: string[][] = [];
  for (let cluster = 0; cluster < options.clusters; cluster++) {
    const mine: string[] = [];
    const albums = Math.ceil(options.tracksPerCluster / options.tracksPerAlbum);
    for (let album = 0; album < albums; album++) {
      const albumId = `al-${cluster}-${album}`;
      const artistId = `ar-${cluster}-${Math.floor(album / options.albumsPerArtist)}`;
      const genre = genres[Math.floor(random() * genres.length)]!;
      const year = 1960 + Math.floor(random() * 60);
      const isUnplayed = album < options.unplayedAlbumsPerCluster;
      for (let n = 0; n < options.tracksPerAlbum; n++) {
        const id = `t-${cluster}-${album}-${n}`;
        tracks.push({ id, artistId, albumId, genre, year, folder: `${artistId}/${albumId}` });
        clusterOf.set(id, cluster);
        if (isUnplayed) unplayed.add(id);
        else mine.push(id);
      }
    }
    playable.push(mine);
  }
  const everything = playable.flat();
  const plays: PlannedPlay[] = [];
  let at = options.startMs;
  let serial = 0;
  for (let session = 0; session < options.sessionsPerListener; session++) {
    for (let listener = 0; listener < options.listeners; listener++) {
      const userId = `u-${listener}`;
      const taste = playable[listener % options.clusters]!;
      // Listeners' sessions interleave in time; within a session, plays are about three minutes apart.
      let playAt = at + listener * 1_000;
      for (let n = 0; n < options.playsPerSession; n++) {
        const pool = random() < options.strayShare ? everything : taste;
        const trackId = pool[Math.floor(random() * pool.length)]!;
        const skipped = random() < 0.1;
        plays.push({
          userId,
          event: {
            v: 1,
            id: eventIdOf(serial++, random),
            at: playAt,
            trackId,
            type: "play.ended",
            playedMs: skipped ? 5_000 : 170_000,
            durationMs: 180_000,
            reason: skipped ? "skipped" : "finished",
          },
        });
        playAt += 180_000;
      }
    }
    // A pause longer than the session gap before everyone's next session.
    at += 2 * 3_600_000;
  }
  plays.sort((a, b) => a.event.at - b.event.at);
  return { tracks, clusterOf, unplayed, plays, endMs: at };
}

/** Mean share of a radio's answer in the seed's cluster (precision@k). */
export function precisionAt(world: World, answers: Array<{ seed: string; trackIds: string[] }>): number {
  let sum = 0;
  for (const { seed, trackIds } of answers) {
    const cluster = world.clusterOf.get(seed);
    sum += trackIds.filter((id) => world.clusterOf.get(id) === cluster).length / Math.max(1, trackIds.length);
  }
  return sum / Math.max(1, answers.length);
}
