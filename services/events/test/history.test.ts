import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@soundmesh/db";
import { migrateCatalogStore } from "@soundmesh/service-catalog";
import { dbTargets } from "@soundmesh/test-kit";
import { migrateEventsStore } from "../src/index";
import { T0, playEnded, stutter } from "./fixtures";
import { albumIdOf, startHarness, type Harness } from "./harness";

const targets = await dbTargets({
  prepare: async (db: Db) => {
    await migrateCatalogStore(db);
    await migrateEventsStore(db);
  },
});
afterAll(async () => {
  for (const target of targets) await target.dispose();
});

describe.each(targets)("listening history and annotations on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(async () => {
    await h.close();
  });

  it("counts a play once however often its event is retried, across a restart too", async () => {
    const play = playEnded(T0 + 60_000, "t-a1");
    const first = await h.call("submit", { events: [play, play] });
    expect(first).toMatchObject({ accepted: 1, duplicates: 1, refused: [] });
    await h.call("submit", { events: [play] });
    await h.restart();
    expect(await h.call("submit", { events: [play] })).toMatchObject({ accepted: 0, duplicates: 1 });
    const [annotation] = await h.call("annotations", { kind: "track", ids: ["t-a1"] });
    expect(annotation).toMatchObject({ playCount: 1, lastPlayedAt: T0 + 60_000 });
    expect(await h.call("recentlyPlayed", { limit: 10 })).toEqual([
      {
        eventId: play.id,
        trackId: "t-a1",
        albumId: albumIdOf("First"),
        artistId: await h.artistIdOfTrack("t-a1"),
        playedAt: T0 + 60_000,
        playedMs: 200_000,
      },
    ]);
  });

  it("counts only plays heard for half the track or four minutes; other events are stored, not counted", async () => {
    await h.call("submit", {
      events: [
        playEnded(T0 + 1_000, "t-a1", 119_000, 240_000),
        playEnded(T0 + 2_000, "t-a2", 120_000, 240_000),
        playEnded(T0 + 3_000, "t-b1", 240_000, 900_000),
        stutter(T0 + 4_000, "t-a1"),
      ],
    });
    const recent = await h.call("recentlyPlayed", { limit: 10 });
    expect(recent.map((play) => play.trackId)).toEqual(["t-b1", "t-a2"]);
    expect((await h.call("buckets", { limit: 1 }))[0]).toMatchObject({ count: 4, state: "open" });
  });

  it("is recently played across devices: per user, newest first; other users see their own", async () => {
    await h.call("submit", { events: [playEnded(T0 + 1_000, "t-a1")] }, "u-alice");
    await h.call("submit", { events: [playEnded(T0 + 2_000, "t-b1")] }, "u-alice");
    await h.call("submit", { events: [playEnded(T0 + 3_000, "t-a2")] }, "u-bob");
    expect((await h.call("recentlyPlayed", { limit: 5 }, "u-alice")).map((p) => p.trackId)).toEqual([
      "t-b1",
      "t-a1",
    ]);
    expect((await h.call("recentlyPlayed", { limit: 5 }, "u-bob")).map((p) => p.trackId)).toEqual(["t-a2"]);
  });

  it("keeps stars and 1–5 ratings per user for tracks, albums and artists", async () => {
    h.clock.set(T0 + 40 * 60_000);
    expect(await h.call("setStar", { kind: "album", id: albumIdOf("First"), starred: true })).toMatchObject({
      starredAt: T0 + 40 * 60_000,
      rating: null,
    });
    await h.call("setRating", { kind: "album", id: albumIdOf("First"), rating: 4 });
    await h.call("setRating", { kind: "track", id: "t-b1", rating: 5 });
    await h.call("setStar", { kind: "artist", id: await h.artistIdOfTrack("t-b1"), starred: true });
    expect(await h.call("starred", { kind: "album" })).toEqual([
      {
        kind: "album",
        id: albumIdOf("First"),
        starredAt: T0 + 40 * 60_000,
        rating: 4,
        playCount: 0,
        lastPlayedAt: null,
      },
    ]);
    await h.call("setStar", { kind: "album", id: albumIdOf("First"), starred: false });
    expect(await h.call("starred", { kind: "album" })).toEqual([]);
    const [kept] = await h.call("annotations", { kind: "album", ids: [albumIdOf("First")] });
    expect(kept).toMatchObject({ starredAt: null, rating: 4 });
    expect(await h.call("annotations", { kind: "track", ids: ["t-b1"] }, "u-bob")).toEqual([
      expect.objectContaining({ rating: null }),
    ]);
    await h.call("setRating", { kind: "track", id: "t-b1", rating: null });
    expect((await h.call("annotations", { kind: "track", ids: ["t-b1"] }))[0]!.rating).toBeNull();
  });

  it("refuses bad ratings, ids and unsigned callers with typed codes", async () => {
    expect((await h.failure("setRating", { kind: "track", id: "t-a1", rating: 6 })).code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await h.failure("setRating", { kind: "track", id: "t-a1", rating: 0 })).code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await h.failure("setStar", { kind: "track", id: "../x", starred: true })).code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await h.failure("submit", { events: [] })).code).toBe("VALIDATION_FAILED");
    expect((await h.failure("submit", { events: [playEnded(T0)] }, null)).code).toBe("UNAUTHENTICATED");
    const refused = await h.call("submit", {
      events: [{ ...playEnded(T0), playedMs: "a lot" }, playEnded(T0)],
    });
    expect(refused).toMatchObject({ accepted: 1, refused: [{ index: 0, code: "BAD_EVENT" }] });
  });

  it("saves the play queue so another device resumes it, and refuses a save from a stale device", async () => {
    expect(await h.call("loadQueue", {})).toBeNull();
    const saved = await h.call("saveQueue", {
      trackIds: ["t-a1", "t-a2", "t-b1"],
      currentIndex: 1,
      positionMs: 42_000,
      device: "laptop",
      baseRevision: 0,
    });
    expect(saved.revision).toBe(1);
    const onPhone = await h.call("loadQueue", {});
    expect(onPhone).toMatchObject({
      trackIds: ["t-a1", "t-a2", "t-b1"],
      currentIndex: 1,
      positionMs: 42_000,
    });
    await h.call("saveQueue", {
      trackIds: ["t-b1"],
      currentIndex: 0,
      positionMs: 0,
      device: "phone",
      baseRevision: 1,
    });
    const stale = await h.failure("saveQueue", {
      trackIds: ["t-a1"],
      currentIndex: 0,
      positionMs: 0,
      device: "laptop",
      baseRevision: 1,
    });
    expect([stale.code, stale.details]).toEqual(["CONFLICT", { revision: 2 }]);
    expect(
      (
        await h.failure("saveQueue", {
          trackIds: ["t-a1"],
          currentIndex: 3,
          positionMs: 0,
          device: "x",
          baseRevision: 2,
        })
      ).code,
    ).toBe("VALIDATION_FAILED");
    expect(await h.call("loadQueue", {}, "u-bob")).toBeNull();
  });

  it("ranks top tracks, albums and artists per user and for the server, by week, month and all time", async () => {
    const now = T0 + 60 * 86_400_000;
    h.clock.set(now);
    const at = (daysAgo: number) => now - daysAgo * 86_400_000;
    const [ann, bo] = [await h.artistIdOfTrack("t-a1"), await h.artistIdOfTrack("t-b1")];
    await h.call(
      "submit",
      { events: [playEnded(at(1), "t-b1"), playEnded(at(2), "t-b1"), playEnded(at(20), "t-a1")] },
      "u-alice",
    );
    await h.call(
      "submit",
      {
        events: [
          playEnded(at(1.5), "t-a2"),
          playEnded(at(25), "t-a2"),
          playEnded(at(45), "t-a1"),
          playEnded(at(50), "t-a2"),
        ],
      },
      "u-bob",
    );
    expect(await h.call("top", { kind: "track", period: "week" })).toEqual([
      { id: "t-b1", plays: 2, lastPlayedAt: at(1) },
    ]);
    expect(await h.call("top", { kind: "track", period: "month" })).toEqual([
      { id: "t-b1", plays: 2, lastPlayedAt: at(1) },
      { id: "t-a1", plays: 1, lastPlayedAt: at(20) },
    ]);
    expect(await h.call("top", { kind: "artist", period: "week", scope: "server" })).toEqual([
      { id: bo, plays: 2, lastPlayedAt: at(1) },
      { id: ann, plays: 1, lastPlayedAt: at(1.5) },
    ]);
    expect(await h.call("top", { kind: "artist", period: "month", scope: "server" })).toEqual([
      { id: ann, plays: 3, lastPlayedAt: at(1.5) },
      { id: bo, plays: 2, lastPlayedAt: at(1) },
    ]);
    expect(await h.call("top", { kind: "album", period: "all", scope: "server", limit: 1 })).toEqual([
      { id: albumIdOf("First"), plays: 5, lastPlayedAt: at(1.5) },
    ]);
    expect(await h.call("top", { kind: "track", period: "all" }, "u-bob")).toEqual([
      { id: "t-a2", plays: 3, lastPlayedAt: at(1.5) },
      { id: "t-a1", plays: 1, lastPlayedAt: at(45) },
    ]);
  });
});
