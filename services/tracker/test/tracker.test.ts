// Tracker rules: 200 peers kept per rendition, 10 returned, never the asker, offline peers gone, pseudonyms only;
// holdings only for what the session fetched, counted per user; reports per user from peers that really talked.
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { peerBannedEvent, signalData, signalRelayEvent, trackerContract } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import {
  FetchLog,
  SwarmIndex,
  createTrackerService,
  defaultSwarmLimits,
  trackerManifest,
  type PeerIdentity,
  type TrackerServiceDeps,
} from "@soundmesh/service-tracker";

const track = { trackId: "t1", profile: "opus96" };
const peer = (n: number) => `p_${String(n).padStart(16, "0")}`;
const as = (userId: string, networkKey = "n"): PeerIdentity => ({
  userId,
  sessionId: `s-${userId}`,
  networkKey,
});
const fetchedAll = () => true;

describe("swarm index", () => {
  it("remembers the 200 most recent peers of a rendition", () => {
    const index = new SwarmIndex();
    for (let n = 0; n < 250; n++) {
      index.online(peer(n), as(`u${n}`, "net-a"));
      index.announce(peer(n), [{ ...track, complete: true }], fetchedAll);
    }
    expect(index.stats().entries).toBe(200);
    index.online("p_asker00000000000000", as("asker", "net-z"));
    const answer = index.query("p_asker00000000000000", track, 10);
    expect(answer.map((p) => p.peerId)).toEqual(Array.from({ length: 10 }, (_, i) => peer(249 - i)));
  });

  it("answers with at most 10 peers, never the asker", () => {
    const index = new SwarmIndex();
    for (let n = 0; n < 30; n++) {
      index.online(peer(n), as(`u${n}`));
      index.announce(peer(n), [{ ...track, complete: n % 2 === 0 }], fetchedAll);
    }
    const answer = index.query(peer(29), track, 10);
    expect(answer).toHaveLength(10);
    expect(answer.map((p) => p.peerId)).not.toContain(peer(29));
    expect(index.query(peer(0), track, 50)).toHaveLength(10);
  });

  it("drops every entry of a peer that goes offline at once", () => {
    const index = new SwarmIndex();
    index.online(peer(1), as("a"));
    index.online(peer(2), as("b"));
    index.announce(
      peer(1),
      [
        { ...track, complete: true },
        { trackId: "t2", profile: "opus96", complete: false },
      ],
      fetchedAll,
    );
    index.offline(peer(1));
    expect(index.query(peer(2), track)).toEqual([]);
    expect(index.stats()).toEqual({ onlinePeers: 1, renditions: 0, entries: 0, users: 1 });
  });

  it("puts peers on the asker's network first, then the most recent", () => {
    const index = new SwarmIndex();
    index.online(peer(1), as("a", "home"));
    index.online(peer(2), as("b", "elsewhere"));
    index.online(peer(3), as("c", "home"));
    index.online(peer(9), as("d", "home"));
    for (const n of [1, 2, 3]) index.announce(peer(n), [{ ...track, complete: true }], fetchedAll);
    expect(index.query(peer(9), track).map((p) => [p.peerId, p.sameNetwork])).toEqual([
      [peer(3), true],
      [peer(1), true],
      [peer(2), false],
    ]);
  });

  it("names one peer per user before any user's second, so one user's sockets cannot crowd others out", () => {
    const index = new SwarmIndex();
    index.online(peer(1), as("holder"));
    index.announce(peer(1), [{ ...track, complete: true }], fetchedAll);
    for (let n = 10; n < 25; n++) {
      index.online(peer(n), as("attacker"));
      index.announce(peer(n), [{ ...track, complete: true }], fetchedAll);
    }
    index.online(peer(99), as("listener"));
    const answer = index.query(peer(99), track).map((p) => p.peerId);
    expect(answer.slice(0, 2)).toEqual([peer(24), peer(1)]);
    expect(answer).toHaveLength(10);
  });

  it("lists only holdings the predicate says were fetched, and names the others back", () => {
    const index = new SwarmIndex();
    index.online(peer(1), as("a"));
    const result = index.announce(
      peer(1),
      [
        { ...track, complete: true },
        { trackId: "no-such-track", profile: "opus96", complete: true },
      ],
      (identity, key) => identity.sessionId === "s-a" && key === "t1.opus96",
    );
    expect(result).toEqual({
      accepted: 1,
      unfetched: [{ trackId: "no-such-track", profile: "opus96" }],
      overCap: 0,
    });
    expect(index.stats().renditions).toBe(1);
  });

  it("caps holdings per user across all of its peers, and peers per user", () => {
    const index = new SwarmIndex({ ...defaultSwarmLimits, holdingsPerUser: 5, peersPerUser: 2 });
    index.online(peer(1), as("a"));
    index.online(peer(2), as("a"));
    expect(() => index.online(peer(3), as("a"))).toThrow(/at most 2 peers/);
    const holdings = (from: number) =>
      Array.from({ length: 4 }, (_, i) => ({ trackId: `t${from + i}`, profile: "opus96", complete: true }));
    expect(index.announce(peer(1), holdings(0), fetchedAll)).toMatchObject({ accepted: 4, overCap: 0 });
    expect(index.announce(peer(2), holdings(10), fetchedAll)).toMatchObject({ accepted: 1, overCap: 3 });
    // Re-announcing what is already listed is not a new holding.
    expect(index.announce(peer(1), holdings(0), fetchedAll)).toMatchObject({ accepted: 4, overCap: 0 });
    index.offline(peer(1));
    expect(index.announce(peer(2), holdings(10), fetchedAll)).toMatchObject({ accepted: 4, overCap: 0 });
    index.online(peer(3), as("a"));
  });

  it("drops a peer reported by three users, not by one user's three peers nor by its own user", () => {
    const index = new SwarmIndex();
    index.online(peer(1), as("accused"));
    index.online(peer(5), as("accused"));
    for (const n of [2, 3, 4]) index.online(peer(n), as("one"));
    for (const n of [6, 7]) index.online(peer(n), as(`other${n}`));
    index.announce(peer(1), [{ ...track, complete: true }], fetchedAll);
    for (const n of [2, 3, 4, 5, 1]) expect(index.report(peer(n), peer(1))).toBe(false);
    expect(index.report(peer(6), peer(1))).toBe(false);
    expect(index.report(peer(7), peer(1))).toBe(true);
    expect(index.isOnline(peer(1))).toBe(false);
  });

  it("refuses announcements from a peer that is not online", () => {
    const index = new SwarmIndex();
    expect(() => index.announce(peer(1), [{ ...track, complete: true }], fetchedAll)).toThrow(/not online/);
  });
});

describe("fetch log", () => {
  it("remembers per session, bounded per user and in total, least recently active user first", () => {
    const log = new FetchLog({ perUser: 3, total: 5 });
    for (const key of ["a", "b", "c", "d"]) log.record("u1", "s1", key);
    expect(["a", "b", "c", "d"].map((key) => log.has("u1", "s1", key))).toEqual([false, true, true, true]);
    expect(log.has("u1", "s2", "d")).toBe(false);
    log.record("u2", "s3", "x");
    log.record("u2", "s3", "y");
    log.record("u2", "s3", "z");
    expect(log.size).toBe(5);
    expect(log.has("u1", "s1", "b")).toBe(false);
    expect(log.has("u2", "s3", "x")).toBe(true);
  });
});

async function startTracker(config: TrackerServiceDeps["config"] = {}, nowMs?: () => number) {
  // The edge budget is not under test here: the 1,000,000-holding flood makes 22,000 calls at once.
  const bus = createInProcessBus({ rateLimits: { default: { ratePerSecond: 1e6, burst: 1e6 } } });
  const tracker = createTrackerService({
    logger: pino({ level: "silent" }),
    bus: bus.connect(trackerManifest),
    config,
    ...(nowMs ? { nowMs } : {}),
  });
  await tracker.start();
  const ap = bus.connect({
    service: "access-point",
    calls: ["tracker"],
    subscribes: ["tracker.signalRelay", "tracker.peerBanned"],
  });
  const online = (n: number, userId: string, networkKey = "n") =>
    ap.request(trackerContract, "peerOnline", {
      peerId: peer(n),
      userId,
      sessionId: `s-${userId}`,
      networkKey,
    });
  const fetched = (userId: string, rendition = track) =>
    ap.request(trackerContract, "renditionFetched", { ...rendition, userId, sessionId: `s-${userId}` });
  const announce = (n: number, holdings: Array<{ trackId: string; profile: string }>) =>
    ap.request(
      trackerContract,
      "announce",
      { holdings: holdings.map((h) => ({ ...h, complete: true })) },
      { peerId: peer(n) },
    );
  const query = (n: number, rendition = track) =>
    ap.request(trackerContract, "query", rendition, { peerId: peer(n) });
  const signal = (from: number, to: number, data: unknown) =>
    ap.request(
      trackerContract,
      "signal",
      { to: peer(to), data: signalData.parse(data) },
      { peerId: peer(from) },
    );
  const stats = () => ap.request(trackerContract, "stats", {});
  return { bus, tracker, ap, online, fetched, announce, query, signal, stats };
}

describe("tracker service over the bus", () => {
  it("identifies callers only by pseudonym and refuses calls without one", async () => {
    const { ap, online, fetched, announce, query } = await startTracker();
    await expect(
      ap.request(trackerContract, "announce", { holdings: [{ ...track, complete: true }] }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(
      ap.request(trackerContract, "peerOnline", {
        peerId: "alice",
        userId: "u",
        sessionId: "s",
        networkKey: "n",
      }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await online(1, "alice");
    await online(2, "bob");
    await fetched("alice");
    await announce(1, [track]);
    const answer = await query(2);
    expect(answer.peers).toEqual([{ peerId: peer(1), sameNetwork: true, complete: true }]);
    expect(JSON.stringify(answer)).not.toMatch(/alice|user|name|session/i);
  });

  it("lists only what the session fetched: a bogus id or another session's fetch is named back, not listed", async () => {
    const { ap, online, fetched, announce, query, stats } = await startTracker();
    await online(1, "mallory");
    await online(2, "alice");
    await fetched("alice");
    // Mallory's other session fetched t1; this socket's session did not.
    await ap.request(trackerContract, "renditionFetched", {
      ...track,
      userId: "mallory",
      sessionId: "other",
    });
    const bogus = { trackId: "no-such-track", profile: "opus96" };
    expect(await announce(1, [track, bogus])).toEqual({ accepted: 0, unfetched: [track, bogus], overCap: 0 });
    expect((await query(2)).peers).toEqual([]);
    expect(await query(2, bogus)).toEqual({ peers: [] });
    await fetched("mallory");
    expect(await announce(1, [track])).toEqual({ accepted: 1, unfetched: [], overCap: 0 });
    expect((await stats()).refused.unfetchedHoldings).toBe(2);
  });

  it("keeps at most the per-user cap when 100 sockets of one user announce 1,000,000 holdings, and frees it", async () => {
    const { ap, online, fetched, announce, query, stats } = await startTracker();
    // The user really fetched 20,000 renditions (the fetch log keeps the latest 10,000) and a real holder t1.
    for (let i = 0; i < 20_000; i++) await fetched("mallory", { trackId: `m${i}`, profile: "opus96" });
    await online(1_000, "alice");
    await fetched("alice");
    await announce(1_000, [track]);
    const sockets = Array.from({ length: 100 }, (_, i) => i + 1);
    const refusedPeers = (await Promise.allSettled(sockets.map((n) => online(n, "mallory")))).filter(
      (outcome) => outcome.status === "rejected",
    );
    expect(refusedPeers).toHaveLength(100 - defaultSwarmLimits.peersPerUser);
    let announced = 0;
    let overCap = 0;
    for (let batch = 0; batch < 20; batch++)
      for (const n of sockets) {
        const holdings = Array.from({ length: 500 }, (_, i) => ({
          trackId: `m${(n * 7_919 + batch * 500 + i) % 20_000}`,
          profile: "opus96",
        }));
        if (n > 1) holdings[0] = track; // and the rendition the real holder has
        announced += holdings.length;
        const result = await announce(n, holdings).catch(() => undefined);
        overCap += result?.overCap ?? 0;
      }
    expect(announced).toBe(1_000_000);
    expect(overCap).toBeGreaterThan(0);
    const during = await stats();
    expect(during.entries).toBeLessThanOrEqual(defaultSwarmLimits.holdingsPerUser + 1);
    expect(during.fetched).toBeLessThanOrEqual(10_001);
    await online(2_000, "listener");
    expect((await query(2_000)).peers.map((p) => p.peerId)).toContain(peer(1_000));
    for (const n of sockets) await ap.request(trackerContract, "peerOffline", { peerId: peer(n) });
    expect(await stats()).toMatchObject({ entries: 1, renditions: 1, onlinePeers: 2, users: 2 });
  }, 120_000);
});

const offer = { type: "offer", sdp: "v=0\r\n" };
const answer = { type: "answer", sdp: "v=0\r\n" };

describe("bad-piece reports", () => {
  it("drops a peer only when three users whose peers exchanged with it report it, and says so", async () => {
    const { ap, online, fetched, announce, query, signal, stats } = await startTracker();
    const banned: string[] = [];
    await ap.subscribe(peerBannedEvent, ({ peerId }) => void banned.push(peerId));
    await online(1, "accused");
    await fetched("accused");
    await announce(1, [track]);
    const report = (n: number) =>
      ap.request(
        trackerContract,
        "reportBadPeer",
        { ...track, peerId: peer(1), pieceIndex: 0 },
        { peerId: peer(n) },
      );
    // One user with three sockets, each of which talked to the accused: one reporter.
    for (const n of [2, 3, 4]) {
      await online(n, "grudge");
      await query(n);
      await signal(n, 1, offer);
      await signal(1, n, answer);
      await report(n);
    }
    // Two users who never exchanged an offer and an answer with it: not reporters at all.
    for (const n of [5, 6]) {
      await online(n, `stranger${n}`);
      await query(n);
      await signal(n, 1, offer);
      await report(n);
    }
    expect((await query(2)).peers).toHaveLength(1);
    expect((await stats()).refused.reports).toBe(2);
    // Two more users who did exchange with it: three users in all.
    for (const n of [7, 8]) {
      await online(n, `victim${n}`);
      await query(n);
      await signal(n, 1, offer);
      await signal(1, n, answer);
      await report(n);
    }
    await vi.waitFor(() => expect(banned).toEqual([peer(1)]));
    expect((await query(2)).peers).toEqual([]);
  });
});

describe("signal pairing", () => {
  it("relays only between peers the tracker paired: named in an answer, a holder looked up, or the one who signalled", async () => {
    const { ap, online, fetched, announce, query, signal, stats } = await startTracker();
    const delivered: Array<[string, string]> = [];
    await ap.subscribe(signalRelayEvent, ({ from, to }) => void delivered.push([from, to]));
    for (const n of [1, 2, 3]) await online(n, `user${n}`);
    // Nobody named anybody yet: refused, nothing delivered, whether or not the addressee is online.
    await expect(signal(1, 2, offer)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(signal(1, 77, offer)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(signal(1, 1, offer)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await fetched("user2");
    await announce(2, [track]);
    expect((await query(1)).peers.map((p) => p.peerId)).toEqual([peer(2)]);
    await signal(1, 2, offer);
    // The addressee may answer the one who signalled it, and nobody else.
    await signal(2, 1, answer);
    await expect(signal(2, 3, offer)).rejects.toMatchObject({ code: "FORBIDDEN" });
    // 2-hop: peer 3 holds t1 but was not in peer 1's answer (it announced later); it holds what peer 1 looked up.
    await fetched("user3");
    await announce(3, [track]);
    await signal(1, 3, offer);
    await vi.waitFor(() => expect(delivered).toHaveLength(3));
    expect(delivered).toEqual([
      [peer(1), peer(2)],
      [peer(2), peer(1)],
      [peer(1), peer(3)],
    ]);
    await ap.request(trackerContract, "peerOffline", { peerId: peer(2) });
    await expect(signal(1, 2, { type: "bye" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await stats()).refused.signals).toBe(4);
  });

  it("rate-limits signals per pair and per user, refilling with the clock", async () => {
    let nowMs = 0;
    const { online, fetched, announce, query, signal } = await startTracker(
      {
        signals: {
          perPair: { ratePerSecond: 1, burst: 3 },
          perUser: { ratePerSecond: 1, burst: 5 },
        },
      },
      () => nowMs,
    );
    for (const n of [1, 2, 3, 4]) await online(n, n === 1 ? "talker" : `user${n}`);
    for (const n of [2, 3, 4]) {
      await fetched(`user${n}`);
      await announce(n, [track]);
    }
    await query(1);
    const bye = { type: "bye" };
    for (let i = 0; i < 3; i++) await signal(1, 2, bye);
    await expect(signal(1, 2, bye)).rejects.toMatchObject({ code: "RATE_LIMITED" });
    // The user's budget (5) is shared by its pairs: 3 spent on peer 2, then 1 on peer 3 (the refused one cost too).
    await signal(1, 3, bye);
    await expect(signal(1, 4, bye)).rejects.toMatchObject({ code: "RATE_LIMITED" });
    nowMs += 2_000;
    await signal(1, 4, bye);
    await signal(1, 2, bye);
  });

  it("keeps private candidates to peers on the sender's network and drops loopback ones always", async () => {
    const { ap, online, fetched, announce, query, signal } = await startTracker();
    const delivered: unknown[] = [];
    await ap.subscribe(signalRelayEvent, ({ data }) => void delivered.push(data));
    await online(1, "asker", "home");
    await online(2, "neighbour", "home");
    await online(3, "far", "elsewhere");
    for (const n of [2, 3]) {
      await fetched(n === 2 ? "neighbour" : "far");
      await announce(n, [track]);
    }
    await query(1);
    const line = (address: string) => `candidate:1 1 udp 2122260223 ${address} 5000 typ host`;
    const candidate = (address: string) => ({
      type: "candidate",
      candidate: { candidate: line(address), sdpMid: "0" },
    });
    await signal(1, 2, candidate("192.168.1.20"));
    await expect(signal(1, 3, candidate("192.168.1.20"))).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(signal(1, 2, candidate("127.0.0.1"))).rejects.toMatchObject({ code: "FORBIDDEN" });
    const sdp = `v=0\r\nc=IN IP4 192.168.1.20\r\na=${line("192.168.1.20")}\r\na=${line("fd00::2")}\r\n`;
    await signal(1, 3, { type: "offer", sdp });
    await vi.waitFor(() => expect(delivered).toHaveLength(2));
    expect(delivered).toEqual([
      candidate("192.168.1.20"),
      { type: "offer", sdp: "v=0\r\nc=IN IP4 0.0.0.0\r\n" },
    ]);
  });
});
describe("client statistics", () => {
  it("adds up reported counters, keeps neighbour counts of online peers only, and refuses bad reports", async () => {
    const bus = createInProcessBus();
    const tracker = createTrackerService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(trackerManifest),
    });
    await tracker.start();
    const ap = bus.connect({ service: "access-point", calls: ["tracker"] });
    for (const n of [1, 2])
      await ap.request(trackerContract, "peerOnline", {
        peerId: peer(n),
        userId: `u${n}`,
        sessionId: `s${n}`,
        networkKey: "n",
      });
    const report = {
      cacheBytes: 10,
      peerBytes: 700,
      serverBytes: 300,
      uploadedBytes: 50,
      neighbours: 3,
      stutters: 0,
    };
    await ap.request(trackerContract, "reportStats", report, { peerId: peer(1) });
    await ap.request(trackerContract, "reportStats", { ...report, neighbours: 2 }, { peerId: peer(2) });
    await ap.request(
      trackerContract,
      "reportStats",
      { ...report, peerBytes: 0, neighbours: 1 },
      { peerId: peer(1) },
    );
    expect(await ap.request(trackerContract, "stats", {})).toMatchObject({
      clientBytes: { cache: 30, peer: 1_400, server: 900 },
      uploadedBytes: 150,
      neighbours: 3,
    });
    await ap.request(trackerContract, "peerOffline", { peerId: peer(1) });
    expect(await ap.request(trackerContract, "stats", {})).toMatchObject({ neighbours: 2 });
    await expect(ap.request(trackerContract, "reportStats", report)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(
      ap.request(trackerContract, "reportStats", { ...report, peerBytes: -5 }, { peerId: peer(2) }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await tracker.stop();
  });
});

describe("signal payloads", () => {
  it("accept what a browser's ICE agent writes and refuse anything carrying a chosen address otherwise", () => {
    const good = [
      { type: "offer", sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" },
      {
        type: "candidate",
        candidate: {
          candidate:
            "candidate:842163049 1 udp 1677729535 1a2b3c4d-0000-1111-2222-333344445555.local 54400 typ host generation 0",
          sdpMid: "0",
          sdpMLineIndex: 0,
        },
      },
      { type: "candidate", candidate: { candidate: "", sdpMid: "0" } },
      { type: "candidate", candidate: null },
      { type: "bye" },
    ];
    for (const data of good) expect(signalData.safeParse(data).success, JSON.stringify(data)).toBe(true);
    const bad = [
      { type: "offer", sdp: "connect to 10.0.0.1:22" },
      { type: "answer", sdp: "v=0\r\n<script>" },
      { type: "candidate", candidate: { candidate: "10.0.0.1:22" } },
      { type: "candidate", candidate: { candidate: "candidate:1 1 udp 1 10.0.0.1 22 typ direct" } },
      { type: "connect", host: "10.0.0.1", port: 22 },
      { type: "offer", sdp: `v=0\r\n${"a=x\r\n".repeat(8_000)}` },
    ];
    for (const data of bad)
      expect(signalData.safeParse(data).success, JSON.stringify(data).slice(0, 80)).toBe(false);
  });
});
