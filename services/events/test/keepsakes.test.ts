// Bookmarks, internet radio stations and shares as the events service keeps them, on SQLite and PostgreSQL:
// per user, bounded, validated at the contract, surviving a restart; stations for administrators only; shares
// unguessable, owned, and gone once expired.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@soundmesh/db";
import { eventsContract, type ParamsOf, type EventsContract } from "@soundmesh/protocol";
import { migrateCatalogStore } from "@soundmesh/service-catalog";
import { dbTargets } from "@soundmesh/test-kit";
import { migrateEventsStore } from "../src/index";
import { startHarness, type Harness } from "./harness";

const targets = await dbTargets({
  prepare: async (db: Db) => {
    await migrateCatalogStore(db);
    await migrateEventsStore(db);
  },
});
afterAll(async () => {
  for (const target of targets) await target.dispose();
});

describe.each(targets)("keepsakes on $name", (target) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(target);
  });
  afterEach(async () => {
    await h.close();
  });
  const asAdmin = <K extends keyof EventsContract["methods"]>(
    method: K,
    params: ParamsOf<EventsContract, K>,
  ) =>
    h.bus
      .connect({ service: "access-point", calls: ["events"] })
      .request(eventsContract, method, params, { userId: "u-admin", role: "admin" });

  it("keeps one bookmark per user and track, moves it on save, and survives a restart", async () => {
    const first = await h.call("saveBookmark", { trackId: "t-a1", positionMs: 61_000, comment: "the drop" });
    expect(first).toMatchObject({ trackId: "t-a1", positionMs: 61_000, comment: "the drop" });
    h.clock.set(h.clock.now() + 5_000);
    await h.call("saveBookmark", { trackId: "t-a2", positionMs: 1_000 });
    h.clock.set(h.clock.now() + 5_000);
    const moved = await h.call("saveBookmark", { trackId: "t-a1", positionMs: 90_500, comment: "later" });
    expect(moved.createdAt).toBe(first.createdAt);
    expect(moved.changedAt).toBeGreaterThan(first.changedAt);
    await h.restart();
    const mine = await h.call("bookmarks", {});
    expect(mine.map((bookmark) => [bookmark.trackId, bookmark.positionMs, bookmark.comment])).toEqual([
      ["t-a1", 90_500, "later"],
      ["t-a2", 1_000, ""],
    ]);
    expect(await h.call("bookmarks", {}, "u-bob")).toEqual([]);
    expect(await h.call("deleteBookmark", { trackId: "t-a1" }, "u-bob")).toEqual({ deleted: false });
    expect(await h.call("deleteBookmark", { trackId: "t-a1" })).toEqual({ deleted: true });
    expect((await h.call("bookmarks", {})).map((bookmark) => bookmark.trackId)).toEqual(["t-a2"]);
  });

  it("refuses bad bookmarks at the contract and anonymous callers", async () => {
    for (const params of [
      { trackId: "t-a1", positionMs: -1 },
      { trackId: "t-a1", positionMs: 25 * 3_600_000 },
      { trackId: "../etc", positionMs: 0 },
      { trackId: "t-a1", positionMs: 0, comment: "x".repeat(1_001) },
    ])
      expect((await h.failure("saveBookmark", params)).code).toBe("VALIDATION_FAILED");
    expect((await h.failure("bookmarks", {}, null)).code).toBe("UNAUTHENTICATED");
  });

  it("lets administrators keep internet radio stations, which everyone reads; http(s) only", async () => {
    const station = await asAdmin("createRadioStation", {
      name: "Night Drive",
      streamUrl: "https://radio.example/night.ogg",
      homepageUrl: null,
    });
    await asAdmin("createRadioStation", { name: "Aardvark FM", streamUrl: "http://a.example/live" });
    expect((await h.call("radioStations", {})).map((entry) => entry.name)).toEqual([
      "Aardvark FM",
      "Night Drive",
    ]);
    const updated = await asAdmin("updateRadioStation", {
      stationId: station.id,
      name: "Night Drive 2",
      streamUrl: "https://radio.example/night2.ogg",
      homepageUrl: "https://radio.example/",
    });
    expect(updated).toMatchObject({ name: "Night Drive 2", homepageUrl: "https://radio.example/" });
    expect(
      (await h.failure("createRadioStation", { name: "Mine", streamUrl: "https://x.example/" })).code,
    ).toBe("FORBIDDEN");
    expect((await h.failure("deleteRadioStation", { stationId: station.id })).code).toBe("FORBIDDEN");
    for (const streamUrl of ["javascript:alert(1)", "file:///etc/passwd", "not a url", "ftp://x.example/"])
      await expect(asAdmin("createRadioStation", { name: "Bad", streamUrl })).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    await expect(
      asAdmin("updateRadioStation", { stationId: "nosuch", name: "x", streamUrl: "https://x.example/" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await asAdmin("deleteRadioStation", { stationId: station.id })).toEqual({ deleted: true });
    expect((await h.call("radioStations", {})).map((entry) => entry.name)).toEqual(["Aardvark FM"]);
  });

  it("makes unguessable shares its owner manages; opening one counts a visit; expired is GONE", async () => {
    const now = h.clock.now();
    const share = await h.call("createShare", {
      trackIds: ["t-a1", "t-a2", "t-a1"],
      description: "for you",
      expiresAt: now + 60_000,
    });
    expect(share.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(share.trackIds).toEqual(["t-a1", "t-a2"]);
    const other = await h.call("createShare", { trackIds: ["t-b1"] });
    expect(other.id).not.toBe(share.id);
    expect(await h.call("openShare", { shareId: share.id, visit: true }, null)).toMatchObject({
      visitCount: 1,
    });
    expect((await h.call("shares", {})).map((entry) => entry.id).sort()).toEqual([share.id, other.id].sort());
    expect(await h.call("shares", {}, "u-bob")).toEqual([]);
    expect((await h.failure("deleteShare", { shareId: share.id }, "u-bob")).code).toBe("NOT_FOUND");
    expect((await h.failure("updateShare", { shareId: share.id, description: "mine" }, "u-bob")).code).toBe(
      "NOT_FOUND",
    );
    expect(await h.call("updateShare", { shareId: share.id, description: "for you, again" })).toMatchObject({
      description: "for you, again",
      expiresAt: now + 60_000,
      visitCount: 1,
    });
    h.clock.set(h.clock.now() + 60_000);
    expect((await h.failure("openShare", { shareId: share.id }, null)).code).toBe("GONE");
    await h.call("updateShare", { shareId: share.id, expiresAt: null });
    expect(await h.call("openShare", { shareId: share.id }, null)).toMatchObject({ expiresAt: null });
    expect((await h.failure("openShare", { shareId: "A".repeat(22) }, null)).code).toBe("NOT_FOUND");
    expect((await h.failure("openShare", { shareId: "short" }, null)).code).toBe("VALIDATION_FAILED");
    expect((await h.failure("createShare", { trackIds: ["t-a1"], expiresAt: h.clock.now() - 1 })).code).toBe(
      "VALIDATION_FAILED",
    );
    expect((await h.failure("createShare", { trackIds: [] })).code).toBe("VALIDATION_FAILED");
    expect(await asAdmin("deleteShare", { shareId: other.id })).toEqual({ deleted: true });
    expect(await h.call("deleteShare", { shareId: share.id })).toEqual({ deleted: true });
    expect(await h.call("shares", {})).toEqual([]);
  });
});
