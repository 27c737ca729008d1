// Radio on a synthetic listening log with planted taste clusters: precision@10 is measured and printed, and must be
// far above chance; unplayed tracks and a library nobody has played yet still get sensible neighbours.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRadioIndex, loadRadioIndex, type RadioIndex } from "../src/index";
import { pickTracks } from "../src/pick-tracks";
import { HOUR, tempDir, writeBuckets } from "./fixtures";
import { makeWorld, precisionAt, type World } from "./synthetic-world";

const world: World = makeWorld({
  clusters: 10,
  tracksPerCluster: 60,
  tracksPerAlbum: 10,
  albumsPerArtist: 2,
  listeners: 100,
  sessionsPerListener: 16,
  playsPerSession: 12,
  strayShare: 0.15,
  unplayedAlbumsPerCluster: 1,
  seed: 7,
  startMs: Date.UTC(2030, 0, 1),
});

function radioFrom(index: RadioIndex, trackId: string, limit = 10): string[] {
  const label = index.labelOf(trackId)!;
  return pickTracks(index, index.vectorOf(label), {
    limit,
    skip: new Set([label]),
    recent: [],
    diversify: true,
  }).map((t) => t.trackId);
}

/** Every fifth track of the world as a seed, played or not as asked. */
const seedsOf = (played: boolean) =>
  world.tracks.filter((t, i) => i % 5 === 0 && world.unplayed.has(t.id) !== played).map((t) => t.id);

describe("radio on planted taste clusters", () => {
  let dir: string;
  let listened: RadioIndex;
  let tagsOnly: RadioIndex;

  beforeAll(async () => {
    dir = tempDir();
    await writeBuckets(join(dir, "events"), world.plays, world.endMs + 2 * HOUR);
    const loadTracks = () => Promise.resolve(world.tracks);
    await buildRadioIndex({ eventsDir: join(dir, "events"), outDir: join(dir, "radio"), loadTracks });
    listened = (await loadRadioIndex(join(dir, "radio")))!;
    // The same library before anyone played anything: tags are all there is.
    await buildRadioIndex({ eventsDir: join(dir, "no-events"), outDir: join(dir, "radio-tags"), loadTracks });
    tagsOnly = (await loadRadioIndex(join(dir, "radio-tags")))!;
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("radio from a played track stays in its cluster: precision@10 far above the 0.1 of chance", () => {
    const seeds = seedsOf(true);
    const precision = precisionAt(
      world,
      seeds.map((seed) => ({ seed, trackIds: radioFrom(listened, seed) })),
    );
    const baseline = precisionAt(
      world,
      seeds.map((seed) => ({ seed, trackIds: radioFrom(tagsOnly, seed) })),
    );
    console.log(
      `precision@10 over ${seeds.length} seeds: ${precision.toFixed(3)} with listening, ` +
        `${baseline.toFixed(3)} from tags alone (chance 0.100)`,
    );
    expect(listened.stats.listenedTracks).toBeGreaterThan(400);
    expect(precision).toBeGreaterThanOrEqual(0.6);
    // The clusters are planted in listening, not in genres: what lifts precision is co-listening.
    expect(precision).toBeGreaterThan(baseline + 0.1);
  });

  it("an album nobody played gets neighbours in its cluster, through its artist's listened tracks", () => {
    const seeds = seedsOf(false);
    const precision = precisionAt(
      world,
      seeds.map((seed) => ({ seed, trackIds: radioFrom(listened, seed) })),
    );
    console.log(`precision@10 from ${seeds.length} unplayed seeds: ${precision.toFixed(3)}`);
    expect(precision).toBeGreaterThanOrEqual(0.6);
  });

  it("a radio is diversified: at most two tracks of one album and three of one artist in ten", () => {
    for (const seed of seedsOf(true).slice(0, 30)) {
      const answer = radioFrom(listened, seed).map((id) => listened.trackAt(listened.labelOf(id)!));
      expect(answer).toHaveLength(10);
      const most = (key: "albumId" | "artistId") => {
        const counts = new Map<string, number>();
        for (const track of answer) counts.set(track[key], (counts.get(track[key]) ?? 0) + 1);
        return Math.max(...counts.values());
      };
      expect(most("albumId")).toBeLessThanOrEqual(2);
      expect(most("artistId")).toBeLessThanOrEqual(3);
    }
  });

  it("before anyone played anything, a radio starts with the seed's artist, then mostly its genre", () => {
    let kin = 0;
    const seeds = seedsOf(true);
    for (const seed of seeds) {
      const track = world.tracks.find((t) => t.id === seed)!;
      const answer = radioFrom(tagsOnly, seed, 5).map((id) => world.tracks.find((t) => t.id === id)!);
      expect(answer.length).toBe(5);
      kin += answer.filter((next) => next.artistId === track.artistId || next.genre === track.genre).length;
      expect(answer[0]!.artistId).toBe(track.artistId);
    }
    const share = kin / (seeds.length * 5);
    // By chance a track shares the artist or the genre about one time in six here.
    console.log(`tags alone: ${share.toFixed(3)} of the first five share the seed's artist or genre`);
    expect(share).toBeGreaterThanOrEqual(0.9);
  });
});
