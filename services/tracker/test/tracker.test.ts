// Tracker rules: 200 peers kept per rendition, 10 returned, never the asker, offline peers gone, pseudonyms only.
import pino from "pino";
import { describe, expect, it } from "vitest";
import { signalData, signalRelayEvent, trackerContract } from "@soundmesh/protocol";
import { createInProcessBus } from "@soundmesh/bus";
import { SwarmIndex, createTrackerService, trackerManifest } from "@soundmesh/service-tracker";

const track = { trackId: "t1", profile: "opus96" };
const peer = (n: number) => `p_${String(n).padStart(16, "0")}`;

describe("swarm index", () => {
  it("remembers the 200 most recent peers of a rendition", () => {
    const index = new SwarmIndex();
    for (let n = 0; n < 250; n++) {
      index.online(peer(n), "net-a");
      index.announce(peer(n), [{ ...track, complete: true }]);
    }
    expect(index.stats().entries).toBe(200);
    index.online("p_asker00000000000000", "net-z");
    const answer = index.query("p_asker00000000000000", track, 10);
    expect(answer.map((p) => p.peerId)).toEqual(Array.from({ length: 10 }, (_, i) => peer(249 - i)));
  });

  it("answers with at most 10 peers, never the asker", () => {
    const index = new SwarmIndex();
    for (let n = 0; n < 30; n++) {
      index.online(peer(n), "net");
      index.announce(peer(n), [{ ...track, complete: n % 2 === 0 }]);
    }
    const answer = index.query(peer(29), track, 10);
    expect(answer).toHaveLength(10);
    expect(answer.map((p) => p.peerId)).not.toContain(peer(29));
    expect(index.query(peer(0), track, 50)).toHaveLength(10);
  });

  it("drops every entry of a peer that goes offline at once", () => {
    const index = new SwarmIndex();
    index.online(peer(1), "n");
    index.online(peer(2), "n");
    index.announce(peer(1), [
      { ...track, complete: true },
      { trackId: "t2", profile: "opus96", complete: false },
    ]);
    index.offline(peer(1));
    expect(index.query(peer(2), track)).toEqual([]);
    expect(index.stats()).toEqual({ onlinePeers: 1, renditions: 0, entries: 0 });
  });

  it("puts peers on the asker's network first, then the most recent", () => {
    const index = new SwarmIndex();
    index.online(peer(1), "home");
    index.online(peer(2), "elsewhere");
    index.online(peer(3), "home");
    index.online(peer(9), "home");
    for (const n of [1, 2, 3]) index.announce(peer(n), [{ ...track, complete: true }]);
    expect(index.query(peer(9), track).map((p) => [p.peerId, p.sameNetwork])).toEqual([
      [peer(3), true],
      [peer(1), true],
      [peer(2), false],
    ]);
  });

  it("drops a peer reported by three distinct peers, not by one peer reporting thrice", () => {
    const index = new SwarmIndex();
    for (const n of [1, 2, 3, 4]) index.online(peer(n), "n");
    index.announce(peer(1), [{ ...track, complete: true }]);
    expect(index.report(peer(2), peer(1))).toBe(false);
    expect(index.report(peer(2), peer(1))).toBe(false);
    expect(index.report(peer(1), peer(1))).toBe(false);
    expect(index.report(peer(3), peer(1))).toBe(false);
    expect(index.report(peer(4), peer(1))).toBe(true);
    expect(index.isOnline(peer(1))).toBe(false);
  });

  it("refuses announcements from a peer that is not online", () => {
    const index = new SwarmIndex();
    expect(() => index.announce(peer(1), [{ ...track, complete: true }])).toThrow(/not online/);
  });
});

describe("tracker service over the bus", () => {
  async function start() {
    const bus = createInProcessBus();
    const tracker = createTrackerService({
      logger: pino({ level: "silent" }),
      bus: bus.connect(trackerManifest),
    });
    await tracker.start();
    const ap = bus.connect({
      service: "access-point",
      calls: ["tracker"],
      subscribes: ["tracker.signalRelay"],
    });
    return { bus, tracker, ap };
  }

  it("identifies callers only by pseudonym and refuses calls without one", async () => {
    const { ap } = await start();
    await expect(
      ap.request(trackerContract, "announce", { holdings: [{ ...track, complete: true }] }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(
      ap.request(trackerContract, "peerOnline", { peerId: "alice", networkKey: "n" }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await ap.request(trackerContract, "peerOnline", { peerId: peer(1), networkKey: "n" });
    await ap.request(trackerContract, "peerOnline", { peerId: peer(2), networkKey: "n" });
    await ap.request(
      trackerContract,
      "announce",
      { holdings: [{ ...track, complete: true }] },
      { peerId: peer(1) },
    );
    const answer = await ap.request(trackerContract, "query", track, { peerId: peer(2) });
    expect(answer.peers).toEqual([{ peerId: peer(1), sameNetwork: true, complete: true }]);
    expect(JSON.stringify(answer)).not.toMatch(/user|name|session/i);
  });

  it("relays a signal to an online peer and refuses one to an unknown pseudonym", async () => {
    const { ap } = await start();
    await ap.request(trackerContract, "peerOnline", { peerId: peer(1), networkKey: "n" });
    await ap.request(trackerContract, "peerOnline", { peerId: peer(2), networkKey: "n" });
    const relayed = new Promise((resolve) => void ap.subscribe(signalRelayEvent, resolve));
    await ap.request(
      trackerContract,
      "signal",
      { to: peer(2), data: { type: "offer", sdp: "v=0" } },
      { peerId: peer(1) },
    );
    await expect(relayed).resolves.toEqual({
      to: peer(2),
      from: peer(1),
      data: { type: "offer", sdp: "v=0" },
    });
    await expect(
      ap.request(trackerContract, "signal", { to: peer(7), data: { type: "bye" } }, { peerId: peer(1) }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      ap.request(
        trackerContract,
        "signal",
        { to: peer(2), data: { type: "connect", host: "10.0.0.1", port: 22 } as never },
        { peerId: peer(1) },
      ),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
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
      await ap.request(trackerContract, "peerOnline", { peerId: peer(n), networkKey: "n" });
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
