// The recommend service through the bus, with the real catalog, events and playlist services: radio from each kind
// of seed, similar tracks, the daily mix, the index swapped while queries run, and bad input with its codes.
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@soundmesh/db";
import { migrateCatalogStore } from "@soundmesh/service-catalog";
import { migrateEventsStore } from "@soundmesh/service-events";
import { migratePlaylistStore } from "@soundmesh/service-playlist";
import { migrateUserStore } from "@soundmesh/service-user";
import { dbTargets, waitUntil } from "@soundmesh/test-kit";
import { buildRadioIndex, catalogTracks, createRecommendService, recommendManifest } from "../src/index";
import { silentLogger } from "./fixtures";
import { startHarness, type Harness } from "./harness";
import { makeWorld, precisionAt } from "./synthetic-world";

const targets = await dbTargets({
  prepare: async (db: Db) => {
    await migrateCatalogStore(db);
    await migrateEventsStore(db);
    await migratePlaylistStore(db);
    await migrateUserStore(db);
  },
});

const world = makeWorld({
  clusters: 5,
  tracksPerCluster: 30,
  tracksPerAlbum: 6,
  albumsPerArtist: 2,
  listeners: 30,
  sessionsPerListener: 8,
  playsPerSession: 10,
  strayShare: 0.1,
  unplayedAlbumsPerCluster: 1,
  seed: 11,
  startMs: Date.UTC(2030, 0, 1),
});
const tracksOf = (cluster: number) => world.tracks.filter((t) => world.clusterOf.get(t.id) === cluster);
const played = world.tracks.filter((t) => !world.unplayed.has(t.id));

describe.each(targets)("recommend service ($name)", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target, world.tracks);
  });
  afterEach(() => h.close());
  afterAll(() => target.dispose());

  async function buildFromPlays(): Promise<void> {
    await h.submit(world.plays);
    await h.closeBuckets();
    await h.recommend.start();
    // start() builds nothing (the job runner schedules builds); an admin's rebuild starts one and answers at once.
    expect(await h.call("rebuild", {}, "admin")).toMatchObject({ building: true });
    await h.recommend.rebuild();
  }

  it("answers INDEX_NOT_BUILT before the first build, then builds from the closed buckets", async () => {
    await h.recommend.reload();
    let error: unknown = null;
    try {
      await h.recommend.handlers.similar(
        { trackId: "t-0-1-0", limit: 5 },
        { caller: "access-point", traceId: "t", userId: "u-0" },
      );
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({ code: "INDEX_NOT_BUILT" });
    await buildFromPlays();
    const status = await h.call("status", {}, "admin");
    expect(status).toMatchObject({ loaded: true, tracks: world.tracks.length });
    expect(status.listenedTracks).toBe(played.length);
    expect(status.plays).toBeGreaterThan(world.plays.length * 0.8);
    expect(status.buckets).toBeGreaterThan(0);
  });

  it("radio from a track, an album, an artist and a playlist: the seed's cluster, nothing excluded, no repeats", async () => {
    await buildFromPlays();
    const seed = played.find((t) => world.clusterOf.get(t.id) === 2)!;
    const fromTrack = await h.call("radio", { seed: { kind: "track", id: seed.id }, limit: 10 });
    expect(fromTrack.tracks).toHaveLength(10);
    expect(fromTrack.tracks.map((t) => t.trackId)).not.toContain(seed.id);
    const precision = precisionAt(world, [
      { seed: seed.id, trackIds: fromTrack.tracks.map((t) => t.trackId) },
    ]);
    expect(precision).toBeGreaterThanOrEqual(0.6);

    // The queue asks for more, sending what it holds: none of it comes back.
    const exclude = fromTrack.tracks.map((t) => t.trackId);
    const more = await h.call("radio", { seed: { kind: "track", id: seed.id }, limit: 10, exclude });
    expect(more.tracks).toHaveLength(10);
    for (const track of more.tracks) expect(exclude).not.toContain(track.trackId);

    const album = tracksOf(3).filter((t) => !world.unplayed.has(t.id))[0]!.albumId;
    const fromAlbum = await h.call("radio", { seed: { kind: "album", id: album }, limit: 10 });
    expect(
      fromAlbum.tracks.every((t) => world.tracks.find((w) => w.id === t.trackId)!.albumId !== album),
    ).toBe(true);
    expect(
      precisionAt(world, [{ seed: `t-3-1-0`, trackIds: fromAlbum.tracks.map((t) => t.trackId) }]),
    ).toBeGreaterThanOrEqual(0.6);

    const artist = await h.artistIdOf(tracksOf(1)[0]!.id);
    const fromArtist = await h.call("radio", { seed: { kind: "artist", id: artist }, limit: 10 });
    expect(fromArtist.tracks).toHaveLength(10);
    expect(
      precisionAt(world, [{ seed: tracksOf(1)[0]!.id, trackIds: fromArtist.tracks.map((t) => t.trackId) }]),
    ).toBeGreaterThanOrEqual(0.6);

    const playlistTracks = tracksOf(4)
      .slice(6, 12)
      .map((t) => t.id);
    const playlistId = await h.createPlaylist("u-0", playlistTracks);
    const fromPlaylist = await h.call("radio", { seed: { kind: "playlist", id: playlistId }, limit: 10 });
    expect(fromPlaylist.tracks.map((t) => t.trackId).filter((id) => playlistTracks.includes(id))).toEqual([]);
    expect(
      precisionAt(world, [{ seed: playlistTracks[0]!, trackIds: fromPlaylist.tracks.map((t) => t.trackId) }]),
    ).toBeGreaterThanOrEqual(0.6);
  });

  it("similar tracks are nearest first; an unplayed track's come from its artist's cluster", async () => {
    await buildFromPlays();
    const cold = [...world.unplayed][0]!;
    const { tracks } = await h.call("similar", { trackId: cold, limit: 8 });
    expect(tracks).toHaveLength(8);
    const scores = tracks.map((t) => t.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(
      precisionAt(world, [{ seed: cold, trackIds: tracks.map((t) => t.trackId) }]),
    ).toBeGreaterThanOrEqual(0.6);
  });

  it("the daily mix follows a listener's history, the server's for a newcomer, and is the same all day", async () => {
    await buildFromPlays();
    const mine = await h.call("dailyMix", { limit: 20 }, "u-1");
    expect(mine.basedOn).toBe("you");
    expect(mine.tracks).toHaveLength(20);
    // u-1 likes cluster 1 (listener % clusters).
    expect(
      precisionAt(world, [{ seed: "t-1-1-0", trackIds: mine.tracks.map((t) => t.trackId) }]),
    ).toBeGreaterThanOrEqual(0.6);
    h.clock.nowMs += 60_000;
    expect(await h.call("dailyMix", { limit: 20 }, "u-1")).toEqual(mine);
    const newcomer = await h.call("dailyMix", { limit: 20 }, "u-new");
    expect(newcomer.basedOn).toBe("server");
    expect(newcomer.tracks.length).toBeGreaterThan(0);
  });

  it("swapping in new builds while radio queries run never fails a query", async () => {
    await buildFromPlays();
    const first = (await h.call("status", {}, "admin")).fingerprint;
    let running = true;
    let answered = 0;
    const queries = (async () => {
      while (running) {
        const seed = played[answered % played.length]!;
        const { tracks } = await h.call("radio", { seed: { kind: "track", id: seed.id }, limit: 10 });
        expect(tracks).toHaveLength(10);
        answered++;
      }
    })();
    const fingerprints = new Set([first]);
    // Each round adds a day of plays: new input, a new build, swapped in under the queries.
    for (let round = 1; round <= 3; round++) {
      const later = world.plays.slice(0, 200).map(({ userId, event }) => ({
        userId,
        event: { ...event, id: event.id.slice(0, -2) + `f${round}`, at: event.at + round * 24 * 3_600_000 },
      }));
      await h.submit(later);
      await h.closeBuckets();
      await h.recommend.rebuild();
      fingerprints.add((await h.call("status", {}, "admin")).fingerprint);
    }
    running = false;
    await queries;
    expect(fingerprints.size).toBe(4);
    expect(answered).toBeGreaterThan(0);
    // Three builds under the queries: on a loaded 2-core machine this takes longer than the default 30 s.
  }, 120_000);

  it("swaps in a build made by another process (the job runner's CLI) without being asked", async () => {
    await buildFromPlays();
    const first = (await h.call("status", {}, "admin")).fingerprint;
    const later = world.plays.slice(0, 100).map(({ userId, event }) => ({
      userId,
      event: { ...event, id: event.id.slice(0, -2) + "e1", at: event.at + 24 * 3_600_000 },
    }));
    await h.submit(later);
    await h.closeBuckets();
    // Built beside the service, as `soundmesh jobs run` or `soundmesh radio rebuild` would: only current.json tells.
    const built = await buildRadioIndex({
      eventsDir: join(h.dir, "events"),
      outDir: join(h.dir, "recommend"),
      loadTracks: (signal) => catalogTracks(h.bus.connect(recommendManifest), signal),
    });
    expect(built.built).toBe(true);
    expect(built.fingerprint).not.toBe(first);
    await waitUntil(
      () => h.call("status", {}, "admin"),
      (status) => status.fingerprint === built.fingerprint,
      30_000,
    );
  }, 120_000);

  it("reads a build in at its first use, not before: a restarted server holds no radio index until asked", async () => {
    await buildFromPlays();
    const restartedBus = h.bus.connect(recommendManifest);
    const restarted = createRecommendService({
      logger: silentLogger,
      bus: restartedBus,
      clock: h.clock,
      build: {
        eventsDir: join(h.dir, "events"),
        outDir: join(h.dir, "recommend"),
        loadTracks: (signal) => catalogTracks(restartedBus, signal),
      },
    });
    expect(restarted.current()).toBeNull();
    const { tracks } = await restarted.handlers.similar(
      { trackId: "t-0-1-0", limit: 5 },
      { caller: "access-point", traceId: "t", userId: "u-0" },
    );
    expect(tracks.length).toBeGreaterThan(0);
    expect(restarted.current()?.fingerprint).toBe(h.recommend.current()?.fingerprint);
  });

  it("refuses bad input with typed codes", async () => {
    await buildFromPlays();
    const bad = [
      [{ seed: { kind: "track", id: "../etc" }, limit: 10 }, "VALIDATION_FAILED"],
      [{ seed: { kind: "genre", id: "rock" }, limit: 10 }, "VALIDATION_FAILED"],
      [{ seed: { kind: "track", id: "t-0-1-0" }, limit: 0 }, "VALIDATION_FAILED"],
      [{ seed: { kind: "track", id: "t-0-1-0" }, limit: 101 }, "VALIDATION_FAILED"],
      [
        { seed: { kind: "track", id: "t-0-1-0" }, exclude: new Array(2_001).fill("t-0-1-1") },
        "VALIDATION_FAILED",
      ],
      [{ seed: { kind: "track", id: "no-such-track" } }, "NOT_FOUND"],
      [{ seed: { kind: "album", id: "no-such-album" } }, "NOT_FOUND"],
      [{ seed: { kind: "playlist", id: "no-such-playlist" } }, "NOT_FOUND"],
    ] as const;
    for (const [params, code] of bad)
      expect((await h.failure("radio", params as never)).code, JSON.stringify(params).slice(0, 80)).toBe(
        code,
      );
    expect((await h.failure("similar", { trackId: "nope", limit: 5 })).code).toBe("NOT_FOUND");
    expect((await h.failure("dailyMix", { limit: 1_000 })).code).toBe("VALIDATION_FAILED");
    expect((await h.failure("radio", { seed: { kind: "track", id: "t-0-1-0" } }, null)).code).toBe(
      "UNAUTHENTICATED",
    );
  });
});
