// Smart playlists on the owner's listening (play counts, rating, stars, last played) with the real events service on
// the same bus and database: plays go in through events.submit and marks through setStar / setRating, the playlist
// service asks events.annotations as the owner, and follows events.listeningChanged. Contradictory or malformed
// rules are refused with VALIDATION_FAILED and change nothing.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ServiceBus } from "@soundmesh/bus";
import { eventsContract, type ListeningEvent } from "@soundmesh/protocol";
import {
  createEventsService,
  createFileEventLog,
  createSqlHistoryStore,
  eventsManifest,
  migrateEventsStore,
  type EventsService,
} from "@soundmesh/service-events";
import { dbTargets, waitUntil } from "@soundmesh/test-kit";
import { preparePlaylistDb, startHarness, userOf, type Harness, type UserName } from "./harness";

const DAY_MS = 86_400_000;
const targets = await dbTargets({
  prepare: async (db) => {
    await preparePlaylistDb(db);
    await migrateEventsStore(db);
  },
});

describe.each(targets)("smart playlists on listening, $name", (target) => {
  let h: Harness;
  let events: EventsService;
  let listener: ServiceBus;
  let dir: string;
  afterAll(() => target.dispose());

  beforeEach(async () => {
    h = await startHarness(target);
    dir = mkdtempSync(join(tmpdir(), "soundmesh-smart-listening-"));
    const logger = pino({ level: "silent" });
    events = createEventsService({
      logger,
      bus: h.bus.connect(eventsManifest),
      log: createFileEventLog({
        dir,
        clock: h.clock,
        allowedLatenessMs: 10 * 60_000,
        dedupWindowMs: 365 * DAY_MS,
        logger,
      }),
      history: createSqlHistoryStore(h.db),
      clock: h.clock,
      dedupWindowMs: 365 * DAY_MS,
      closeIntervalMs: 0,
    });
    await events.start();
    listener = h.bus.connect({ service: "access-point", calls: ["events"] });
  });
  afterEach(async () => {
    await h.close();
    await events.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const as = (who: UserName) => ({ userId: userOf(who).id, role: "user" as const });

  /** Plays heard whole, `daysAgo` before the harness's clock. */
  async function play(who: UserName, plays: Array<[trackId: string, daysAgo: number]>): Promise<void> {
    const submitted: ListeningEvent[] = plays.map(([trackId, daysAgo]) => ({
      v: 1,
      id: randomUUID(),
      at: h.clock.now() - daysAgo * DAY_MS,
      trackId,
      type: "play.ended",
      playedMs: 200_000,
      durationMs: 200_000,
      reason: "finished",
    }));
    const answer = await listener.request(eventsContract, "submit", { events: submitted }, as(who));
    expect(answer.accepted).toBe(plays.length);
  }

  async function listening(): Promise<void> {
    // alice: So What three times (last 2 days ago), Airbag once 40 days ago, Acknowledgement rated 5, Paranoid
    // Android starred; Freddie Freeloader never touched.
    await play("alice", [
      ["t-blue1", 10],
      ["t-blue1", 5],
      ["t-blue1", 2],
      ["t-okc1", 40],
    ]);
    await listener.request(
      eventsContract,
      "setRating",
      { kind: "track", id: "t-love1", rating: 5 },
      as("alice"),
    );
    await listener.request(
      eventsContract,
      "setRating",
      { kind: "track", id: "t-blue2", rating: 2 },
      as("alice"),
    );
    await listener.request(
      eventsContract,
      "setStar",
      { kind: "track", id: "t-okc2", starred: true },
      as("alice"),
    );
  }

  const tracksOf = async (rules: Record<string, unknown>, who: UserName = "alice") =>
    (await h.call("createSmart", { name: `Smart ${randomUUID().slice(0, 8)}`, rules }, who)).items.map(
      (item) => item.trackId,
    );

  it("selects and orders by play count, last played, rating and stars, per owner", async () => {
    await listening();
    expect(await tracksOf({ minPlays: 2, order: "mostPlayed" })).toEqual(["t-blue1"]);
    expect(await tracksOf({ minPlays: 1, order: "mostPlayed" })).toEqual(["t-blue1", "t-okc1"]);
    expect(await tracksOf({ playedWithinDays: 30, order: "recentlyPlayed" })).toEqual(["t-blue1"]);
    expect(await tracksOf({ minPlays: 1, order: "recentlyPlayed" })).toEqual(["t-blue1", "t-okc1"]);
    // Not played in 30 days: never played counts as not; by artist (the catalog's order).
    expect(await tracksOf({ notPlayedWithinDays: 30 })).toEqual(["t-love1", "t-blue2", "t-okc1", "t-okc2"]);
    expect(await tracksOf({ maxPlays: 0, genres: ["Rock"] })).toEqual(["t-okc2"]);
    expect(await tracksOf({ minRating: 4 })).toEqual(["t-love1"]);
    expect(await tracksOf({ minRating: 1, order: "rating" })).toEqual(["t-love1", "t-blue2"]);
    expect(await tracksOf({ starredOnly: true })).toEqual(["t-okc2"]);
    // Catalog rules and listening rules together, and the limit after the listening order.
    expect(await tracksOf({ genres: ["Jazz"], minPlays: 1 })).toEqual(["t-blue1"]);
    expect(await tracksOf({ order: "mostPlayed", limit: 2 })).toEqual(["t-blue1", "t-okc1"]);
    // Bob has not listened to anything: the same rules are his own, and empty.
    expect(await tracksOf({ minPlays: 1 }, "bob")).toEqual([]);
    expect(await tracksOf({ starredOnly: true }, "bob")).toEqual([]);
  });

  it("follows the owner's new plays, stars and ratings", async () => {
    await listening();
    const heavy = await h.call("createSmart", {
      name: "Played",
      rules: { minPlays: 1, order: "mostPlayed" },
    });
    const liked = await h.call("createSmart", { name: "Liked", rules: { minRating: 4 } });
    const items = async (playlistId: string) =>
      (await h.call("get", { playlistId })).items.map((item) => item.trackId);
    await play("alice", [
      ["t-okc2", 1],
      ["t-okc2", 0],
      ["t-okc2", 0],
      ["t-okc2", 0],
    ]);
    await waitUntil(
      () => items(heavy.playlist.id),
      (ids) => ids[0] === "t-okc2",
    );
    expect(await items(heavy.playlist.id)).toEqual(["t-okc2", "t-blue1", "t-okc1"]);
    await listener.request(
      eventsContract,
      "setRating",
      { kind: "track", id: "t-okc1", rating: 4 },
      as("alice"),
    );
    await waitUntil(
      () => items(liked.playlist.id),
      (ids) => ids.includes("t-okc1"),
    );
    expect(await items(liked.playlist.id)).toEqual(["t-love1", "t-okc1"]);
    // Someone else's plays change nothing of alice's.
    const revision = (await h.call("get", { playlistId: heavy.playlist.id })).playlist.revision;
    await play("bob", [["t-love1", 0]]);
    await h.service.refreshSmartPlaylists();
    expect((await h.call("get", { playlistId: heavy.playlist.id })).playlist.revision).toBe(revision);
  });

  it("refuses contradictory and malformed rules with VALIDATION_FAILED and changes nothing", async () => {
    const bad: Array<Record<string, unknown>> = [
      { minPlays: 5, maxPlays: 2 },
      { playedWithinDays: 7, notPlayedWithinDays: 30 },
      { maxPlays: 0, playedWithinDays: 10 },
      { maxPlays: 0, order: "recentlyPlayed" },
      { yearFrom: 2000, yearTo: 1990 },
      { minRating: 6 },
      { minRating: 0 },
      { minPlays: -1 },
      { playedWithinDays: 0 },
      { starredOnly: "yes" },
      { order: "loudest" },
    ];
    for (const rules of bad) {
      const error = await h.failure("createSmart", { name: "Bad", rules: rules });
      expect(error.code, JSON.stringify(rules)).toBe("VALIDATION_FAILED");
    }
    expect(await h.call("list", {})).toHaveLength(0);
    const good = await h.call("createSmart", { name: "Good", rules: { minPlays: 1 } });
    for (const rules of bad.slice(0, 3)) {
      const error = await h.failure("setSmartRules", { playlistId: good.playlist.id, rules: rules });
      expect(error.code).toBe("VALIDATION_FAILED");
    }
    const after = await h.call("get", { playlistId: good.playlist.id });
    expect(after.playlist.smartRules).toMatchObject({ minPlays: 1, maxPlays: null });
    expect(after.playlist.revision).toBe(good.playlist.revision);
  });
});
