// Scrobbling through the events service with the real HTTP clients against fake ListenBrainz and Last.fm servers on
// loopback (scrobble-fakes.ts), on SQLite and PostgreSQL: off by default; a sink that is down gets the plays once it
// is back, once each; a refused token marks the account and is not retried; a request that keeps failing goes to the
// dead letters after the set number of tries; the Last.fm sign-in; bad input.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@soundmesh/db";
import type { ListeningEvent } from "@soundmesh/protocol";
import { migrateCatalogStore } from "@soundmesh/service-catalog";
import { dbTargets } from "@soundmesh/test-kit";
import { migrateEventsStore } from "../src/index";
import { T0, playEnded, uuidV7 } from "./fixtures";
import { SCROBBLE_RETRY_MIN_MS, startHarness, type Harness } from "./harness";
import {
  startFakeLastFm,
  startFakeListenBrainz,
  type FakeLastFm,
  type FakeListenBrainz,
} from "./scrobble-fakes";

const targets = await dbTargets({
  prepare: async (db: Db) => {
    await migrateCatalogStore(db);
    await migrateEventsStore(db);
  },
});
afterAll(async () => {
  for (const target of targets) await target.dispose();
});

const MAX_ATTEMPTS = 3;
const started = (at: number, trackId: string): ListeningEvent => ({
  v: 1,
  id: uuidV7(at),
  at,
  trackId,
  type: "play.started",
});

describe.each(targets)("scrobbling on $name", (target) => {
  let h: Harness;
  let lb: FakeListenBrainz;
  let fm: FakeLastFm;

  beforeEach(async () => {
    lb = await startFakeListenBrainz();
    fm = await startFakeLastFm();
    lb.tokens.set("lb-alice", "alice");
    h = await startHarness(target, {
      listenBrainzUrl: lb.url,
      lastFm: { apiUrl: `${fm.url}/2.0/`, apiKey: fm.apiKey, apiSecret: fm.secret },
      maxAttempts: MAX_ATTEMPTS,
    });
  });
  afterEach(async () => {
    await h.close();
    await lb.close();
    await fm.close();
  });

  /** Moves the clock past every back-off and sends what is due, until nothing is waiting or `rounds` ran out. */
  async function deliverAll(rounds = 10): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      h.clock.set(h.clock.now() + 16 * SCROBBLE_RETRY_MIN_MS);
      await h.service.deliverScrobbles();
    }
  }

  it("is off by default: plays are counted, nothing is sent", async () => {
    await h.call("submit", { events: [playEnded(T0 + 60_000, "t-a1")] });
    await deliverAll(2);
    expect(lb.requests).toHaveLength(0);
    expect(fm.requests).toHaveLength(0);
    const status = await h.call("scrobbleStatus", {});
    expect(status.map((s) => [s.sink, s.state, s.enabled, s.available])).toEqual([
      ["listenbrainz", "off", false, true],
      ["lastfm", "off", false, true],
    ]);
  });

  it("ListenBrainz down: plays wait in the queue and are delivered once when it is back", async () => {
    expect(await h.call("setListenBrainzToken", { token: "lb-alice" })).toMatchObject({
      state: "ok",
      enabled: true,
      username: "alice",
    });
    await lb.down();
    const at = T0 + 30 * 60_000 - 10_000;
    const play = playEnded(at, "t-a1", 200_000, 240_000);
    await h.call("submit", { events: [started(at - 200_000, "t-a1"), play] });
    await h.service.deliverScrobbles();
    const waiting = (await h.call("scrobbleStatus", {}))[0]!;
    expect(waiting).toMatchObject({ queued: 2, dead: 0 });
    expect(waiting.lastError).toMatch(/unreachable/);

    await lb.up();
    await deliverAll();
    // A retry of the same events and a restart (the log is replayed) queue nothing again.
    await h.call("submit", { events: [play] });
    await h.restart();
    await deliverAll(3);
    const scrobbles = lb.listens.filter((l) => l.type === "single");
    expect(scrobbles).toHaveLength(1);
    expect(scrobbles[0]!.listen).toMatchObject({
      listened_at: Math.floor((at - 200_000) / 1000),
      track_metadata: { artist_name: "Ann", track_name: "One", release_name: "First" },
    });
    expect(lb.listens.filter((l) => l.type === "playing_now")).toHaveLength(1);
    expect(
      lb.requests.every((r) => r.path !== "/1/submit-listens" || r.authorization === "Token lb-alice"),
    ).toBe(true);
    const status = (await h.call("scrobbleStatus", {}))[0]!;
    expect(status).toMatchObject({ queued: 0, dead: 0, lastError: null });
    expect(status.lastDeliveredAt).not.toBeNull();
  });

  it("a token ListenBrainz refuses marks the account and is not retried; a new token sends what waited", async () => {
    await h.call("setListenBrainzToken", { token: "lb-alice" });
    lb.tokens.delete("lb-alice");
    await h.call("submit", { events: [playEnded(T0 + 60_000, "t-a2")] });
    await deliverAll();
    const submits = () => lb.requests.filter((r) => r.path === "/1/submit-listens").length;
    expect(submits()).toBe(1);
    const status = (await h.call("scrobbleStatus", {}))[0]!;
    expect(status).toMatchObject({ state: "bad_token", queued: 1, dead: 0 });
    expect(status.lastError).toMatch(/401/);
    // Nothing new is queued for a refused account.
    await h.call("submit", { events: [playEnded(T0 + 120_000, "t-b1")] });
    await deliverAll(3);
    expect(submits()).toBe(1);
    expect((await h.call("scrobbleStatus", {}))[0]).toMatchObject({ queued: 1 });

    lb.tokens.set("lb-alice-2", "alice");
    await h.call("setListenBrainzToken", { token: "lb-alice-2" });
    await deliverAll();
    expect(
      lb.listens.map((l) => [l.token, (l.listen.track_metadata as { track_name: string }).track_name]),
    ).toEqual([["lb-alice-2", "Two"]]);
    expect((await h.call("scrobbleStatus", {}))[0]).toMatchObject({ state: "ok", queued: 0 });
  });

  it("a scrobble that keeps failing goes to the dead letters after the set tries, and can be retried", async () => {
    await h.call("setListenBrainzToken", { token: "lb-alice" });
    lb.failWith = 503;
    await h.call("submit", { events: [playEnded(T0 + 60_000, "t-a1")] });
    await deliverAll();
    expect(lb.requests.filter((r) => r.path === "/1/submit-listens")).toHaveLength(MAX_ATTEMPTS);
    expect((await h.call("scrobbleStatus", {}))[0]).toMatchObject({ queued: 0, dead: 1, state: "ok" });

    lb.failWith = null;
    expect(await h.call("retryDeadScrobbles", { sink: "listenbrainz" })).toMatchObject({
      queued: 1,
      dead: 0,
    });
    await deliverAll();
    expect(lb.listens).toHaveLength(1);
  });

  it("backs off between tries: nothing is sent again before the delay", async () => {
    await h.call("setListenBrainzToken", { token: "lb-alice" });
    lb.failWith = 503;
    await h.call("submit", { events: [playEnded(T0 + 60_000, "t-a1")] });
    await h.service.deliverScrobbles();
    await h.service.deliverScrobbles();
    expect(lb.requests.filter((r) => r.path === "/1/submit-listens")).toHaveLength(1);
    h.clock.set(h.clock.now() + SCROBBLE_RETRY_MIN_MS);
    await h.service.deliverScrobbles();
    expect(lb.requests.filter((r) => r.path === "/1/submit-listens")).toHaveLength(2);
    // The second delay is twice the first.
    h.clock.set(h.clock.now() + SCROBBLE_RETRY_MIN_MS);
    await h.service.deliverScrobbles();
    expect(lb.requests.filter((r) => r.path === "/1/submit-listens")).toHaveLength(2);
  });

  it("Last.fm: the sign-in, signed now-playing and scrobble requests, and a refused session key", async () => {
    const { authUrl, token } = await h.call("lastFmAuthStart", {});
    expect(authUrl).toBe(`https://www.last.fm/api/auth/?api_key=${fm.apiKey}&token=${token}`);
    expect((await h.call("scrobbleStatus", {}))[1]).toMatchObject({ state: "awaiting_approval" });
    expect((await h.failure("lastFmAuthFinish", {})).code).toBe("SCROBBLE_NOT_APPROVED");
    fm.approve(token, "alice-fm");
    expect(await h.call("lastFmAuthFinish", {})).toMatchObject({
      state: "ok",
      enabled: true,
      username: "alice-fm",
    });

    const at = h.clock.now() - 1_000;
    await h.call("submit", {
      events: [started(at - 120_000, "t-b1"), playEnded(at, "t-b1", 120_000, 240_000)],
    });
    await deliverAll(2);
    expect(fm.nowPlaying).toHaveLength(1);
    expect(fm.scrobbles).toHaveLength(1);
    expect(fm.scrobbles[0]).toMatchObject({
      method: "track.scrobble",
      artist: "Bo",
      track: "Three",
      album: "Second",
      duration: "240",
      timestamp: String(Math.floor((at - 120_000) / 1000)),
      sk: "sk-alice-fm-1",
    });

    // The user revoked soundmesh on Last.fm: error 9, the account is marked and nothing is retried.
    fm.sessions.clear();
    await h.call("submit", { events: [playEnded(at + 1_000, "t-a1")] });
    await deliverAll();
    const refused = fm.requests.filter((r) => (r.body as { method?: string }).method === "track.scrobble");
    expect(refused).toHaveLength(2);
    expect((await h.call("scrobbleStatus", {}))[1]).toMatchObject({ state: "bad_token", queued: 1 });
  });

  it("turning a sink off queues nothing new; disconnecting forgets the account", async () => {
    await h.call("setListenBrainzToken", { token: "lb-alice" });
    expect(await h.call("setScrobbling", { sink: "listenbrainz", enabled: false })).toMatchObject({
      state: "ok",
      enabled: false,
    });
    await h.call("submit", { events: [playEnded(T0 + 60_000, "t-a1")] });
    await deliverAll(2);
    expect(lb.listens).toHaveLength(0);
    expect(
      await h.call("setScrobbling", { sink: "listenbrainz", enabled: false, disconnect: true }),
    ).toMatchObject({ state: "off", username: null });
    expect((await h.failure("setScrobbling", { sink: "listenbrainz", enabled: true })).code).toBe("CONFLICT");
  });

  it("refuses bad input with typed codes", async () => {
    expect((await h.failure("setListenBrainzToken", { token: "not-a-token" })).code).toBe(
      "SCROBBLE_TOKEN_REJECTED",
    );
    expect((await h.failure("setListenBrainzToken", { token: "   " })).code).toBe("VALIDATION_FAILED");
    expect((await h.failure("lastFmAuthFinish", {})).code).toBe("CONFLICT");
    expect((await h.failure("scrobbleStatus", {}, null)).code).toBe("UNAUTHENTICATED");
    await lb.down();
    expect((await h.failure("setListenBrainzToken", { token: "lb-alice" })).code).toBe("UNAVAILABLE");
    expect((await h.call("scrobbleStatus", {}))[0]).toMatchObject({ state: "off" });
  });
});

describe.each(targets.slice(0, 1))("scrobbling without a Last.fm API key on $name", (target) => {
  it("answers SCROBBLING_NOT_CONFIGURED for Last.fm and shows it unavailable", async () => {
    const lb = await startFakeListenBrainz();
    const h = await startHarness(target, { listenBrainzUrl: lb.url, lastFm: null, maxAttempts: 3 });
    try {
      expect((await h.failure("lastFmAuthStart", {})).code).toBe("SCROBBLING_NOT_CONFIGURED");
      expect((await h.call("scrobbleStatus", {}))[1]).toMatchObject({ sink: "lastfm", available: false });
    } finally {
      await h.close();
      await lb.close();
    }
  });
});
