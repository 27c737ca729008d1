// The tracker and signaling under attack, over real sockets through a real server: bad-piece reports count per
// user and only after an exchange; holdings only for fetched renditions, capped per user; signals only between
// paired peers, rate-limited, and never carrying an address the receiver may not be sent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trackerContract, type ServerFrame, searchContract, userContract } from "@soundmesh/protocol";
import { WsClient, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { generateP2pLibrary } from "./p2p-library";

const password = "correct horse battery";
let server: TestServer;
let rendition: { trackId: string; profile: string };
const tokens = new Map<string, string>();
const open: WsClient[] = [];

/** A socket of `name`, seen by the server as coming from `address` (through the trusted proxy, loopback). */
async function connect(name: string, address: string): Promise<WsClient> {
  const ws = await WsClient.connect(server.url, tokens.get(name)!, 10_000, { "x-forwarded-for": address });
  open.push(ws);
  return ws;
}

/** The user's session fetches the rendition's manifest: only then may its peers announce holding it. */
async function fetchManifest(name: string): Promise<void> {
  const response = await fetch(
    `${server.url}/api/stream/${rendition.trackId}/${rendition.profile}/manifest`,
    {
      headers: { authorization: `Bearer ${tokens.get(name)}` },
    },
  );
  expect(response.status).toBe(200);
  await response.arrayBuffer();
}

async function holder(name: string, address: string): Promise<WsClient> {
  const ws = await connect(name, address);
  await fetchManifest(name);
  expect(
    await ws.call(trackerContract, "announce", { holdings: [{ ...rendition, complete: true }] }),
  ).toMatchObject({
    accepted: 1,
  });
  return ws;
}

const peerIds = (answer: { peers: Array<{ peerId: string }> }) => answer.peers.map((peer) => peer.peerId);
const query = async (ws: WsClient, wanted = rendition) =>
  peerIds(await ws.call(trackerContract, "query", wanted));
const trackerStats = () =>
  server.bus.connect({ service: "e2e", calls: ["tracker"] }).request(trackerContract, "stats", {});

let nextId = 1;
/** Sends a signal and resolves with the server's answer: `res` once relayed, `err` when refused. */
async function signal(from: WsClient, to: WsClient, data: unknown): Promise<ServerFrame> {
  const id = `sig${nextId++}`;
  from.sendRaw(JSON.stringify({ t: "signal", id, to: to.hello!.peerId, data }));
  return from.waitFor((frame) => (frame.t === "res" || frame.t === "err") && frame.id === id, 10_000);
}
const relayed = { t: "res", result: { ok: true } };

const signalsAt = (ws: WsClient) =>
  ws.frames.filter((frame): frame is Extract<ServerFrame, { t: "signal" }> => frame.t === "signal");

beforeAll(async () => {
  const library = await generateP2pLibrary(1, 5);
  // Behind a (trusted) reverse proxy on loopback, so each socket can say which network it comes from.
  server = await startServer({
    libraryFolders: [library],
    // The tracker's own caps are under test, so the access point's per-user socket and frame limits (which would
    // refuse most of one user's 100 sockets first) are raised out of the way.
    overrides: {
      security: { argon2MemoryKiB: 1024, argon2TimeCost: 1, trustProxy: "127.0.0.1" },
      connections: { maxSocketsPerUser: 200 },
      rateLimits: { perUser: { ratePerSecond: 10_000, burst: 10_000 } },
    },
  });
  const adminToken = await setupAdmin(server.url, "admin", password);
  const admin = await WsClient.connect(server.url, adminToken);
  const found = await waitUntil(
    () => admin.call(searchContract, "query", { q: "tone", kinds: ["track"] }),
    (result) => result.hits.length === 1,
    30_000,
  );
  rendition = { trackId: found.hits[0]!.id, profile: "original" };
  for (const name of ["mallory", "flood", "alice", "bob", "carol", "dave", "erin"]) {
    await admin.call(userContract, "createUser", { name, password, role: "user" });
    tokens.set(name, await login(server.url, name, password));
  }
  await admin.close();
}, 120_000);

afterAll(async () => {
  await Promise.all(open.map((ws) => ws.close()));
  await server?.close();
});

describe("bad-piece reports", () => {
  it("cannot drop a peer by one user's three sockets, nor by users who never exchanged with it", async () => {
    const alice = await holder("alice", "198.51.100.10");
    const grudges = await Promise.all([1, 2, 3].map(() => connect("mallory", "203.0.113.66")));
    for (const mallory of grudges) {
      expect(await query(mallory)).toContain(alice.hello!.peerId);
      expect(await signal(mallory, alice, { type: "offer", sdp: "v=0\r\n" })).toMatchObject(relayed);
      expect(await signal(alice, mallory, { type: "answer", sdp: "v=0\r\n" })).toMatchObject(relayed);
      await mallory.call(trackerContract, "reportBadPeer", {
        ...rendition,
        peerId: alice.hello!.peerId,
        pieceIndex: 0,
      });
    }
    const strangers = await Promise.all(
      ["bob", "carol", "dave"].map((name) => connect(name, "198.51.100.20")),
    );
    for (const stranger of strangers)
      await stranger.call(trackerContract, "reportBadPeer", {
        ...rendition,
        peerId: alice.hello!.peerId,
        pieceIndex: 0,
      });
    expect((await trackerStats()).refused.reports).toBe(3);
    expect(await query(strangers[0]!)).toContain(alice.hello!.peerId);
    expect(alice.closeCode).toBeUndefined();

    // Users who did exchange an offer and an answer with it: with mallory, the third one drops and disconnects it.
    const exchangeAndReport = async (reporter: WsClient) => {
      await query(reporter);
      expect(await signal(reporter, alice, { type: "offer", sdp: "v=0\r\n" })).toMatchObject(relayed);
      expect(await signal(alice, reporter, { type: "answer", sdp: "v=0\r\n" })).toMatchObject(relayed);
      await reporter.call(trackerContract, "reportBadPeer", {
        ...rendition,
        peerId: alice.hello!.peerId,
        pieceIndex: 0,
      });
    };
    await exchangeAndReport(strangers[0]!);
    expect(await query(strangers[2]!)).toContain(alice.hello!.peerId);
    await exchangeAndReport(strangers[1]!);
    await waitUntil(
      () => Promise.resolve(alice.closeCode),
      (code) => code === 4003,
      10_000,
    );
    expect(await query(strangers[2]!)).not.toContain(alice.hello!.peerId);
  }, 60_000);
});

describe("announcements", () => {
  it("lists no bogus id and at most the user's peers when 100 sockets of one user flood it", async () => {
    const erin = await holder("erin", "198.51.100.30");
    await fetchManifest("flood");
    const before = await trackerStats();
    const sockets = await Promise.all(Array.from({ length: 100 }, () => connect("flood", "203.0.113.66")));
    let announced = 0;
    let listed = 0;
    for (let batch = 0; batch < 2; batch++)
      await Promise.all(
        sockets.map(async (ws, n) => {
          const holdings = Array.from({ length: 500 }, (_, i) => ({
            trackId: `bogus-${n}-${batch}-${i}`,
            profile: "opus96",
            complete: true,
          }));
          holdings[0] = { ...rendition, complete: true };
          announced += holdings.length;
          const result = await ws
            .call(trackerContract, "announce", { holdings })
            .catch(() => ({ accepted: 0 }));
          listed += result.accepted;
        }),
      );
    expect(announced).toBe(100_000);
    const after = await trackerStats();
    // Only the real rendition, once per peer the user may have online (32), of 100,000 announced.
    expect(after.entries - before.entries).toBeLessThanOrEqual(32);
    expect(after.refused.peersOverCap - before.refused.peersOverCap).toBe(68);
    expect(listed).toBeLessThanOrEqual(64);
    const listener = await connect("bob", "198.51.100.40");
    expect(await query(listener, { trackId: "bogus-0-0-1", profile: "opus96" })).toEqual([]);
    // One peer per user before any user's second: the real holder is named despite the flood.
    const named = await query(listener);
    expect(named.slice(0, 2)).toContain(erin.hello!.peerId);
    await Promise.all(sockets.map((ws) => ws.close()));
    await waitUntil(trackerStats, (stats) => stats.entries === before.entries, 10_000);
  }, 120_000);
});

describe("signaling", () => {
  const line = (address: string, port = 50000, type = "host") =>
    `candidate:1 1 udp 2122260223 ${address} ${port} typ ${type}`;
  const mdns = "3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b.local";
  const candidate = (address: string, port?: number) => ({
    type: "candidate",
    candidate: { candidate: line(address, port), sdpMid: "0", sdpMLineIndex: 0 },
  });

  it("never lets an attacker's candidates aim a victim's ICE agent, nor the victim's private ones reach it", async () => {
    const victim = await holder("carol", "192.168.1.20");
    // The attacker on another network, from a public address of its own.
    const attacker = await connect("mallory", "198.51.100.7");
    expect(await signal(attacker, victim, { type: "bye" })).toMatchObject({ code: "FORBIDDEN" });
    expect(signalsAt(victim)).toEqual([]);
    await query(attacker);

    const bad = [
      "127.0.0.1",
      "::1",
      "10.1.2.3",
      "169.254.1.1",
      "redis.internal",
      "203.0.113.9",
      "198.51.100.8",
    ];
    const sdp = [
      "v=0",
      "o=- 1 2 IN IP4 127.0.0.1",
      "s=-",
      "t=0 0",
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
      "c=IN IP4 10.1.2.3",
      ...bad.map((address) => `a=${line(address, 6379)}`),
      `a=${line("198.51.100.7")}`,
      `a=${line(mdns)}`,
      "",
    ].join("\r\n");
    expect(await signal(attacker, victim, { type: "offer", sdp })).toMatchObject(relayed);
    for (const address of bad)
      expect(await signal(attacker, victim, candidate(address, 6379)), address).toMatchObject({
        code: "FORBIDDEN",
      });
    expect(await signal(attacker, victim, candidate("198.51.100.7"))).toMatchObject(relayed);
    await waitUntil(
      () => Promise.resolve(signalsAt(victim).length),
      (count) => count === 2,
      10_000,
    );
    const [offer, good] = signalsAt(victim);
    expect(offer!.data).toEqual({
      type: "offer",
      sdp: [
        "v=0",
        "o=- 1 2 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 0.0.0.0",
        `a=${line("198.51.100.7")}`,
        `a=${line(mdns)}`,
        "",
      ].join("\r\n"),
    });
    expect(good!.data).toEqual(candidate("198.51.100.7"));

    // The victim's answer: its private host addresses never reach a peer on another network.
    const answer = `v=0\r\nc=IN IP4 192.168.1.20\r\na=${line("192.168.1.20")}\r\na=${line(mdns)}\r\n`;
    expect(await signal(victim, attacker, { type: "answer", sdp: answer })).toMatchObject(relayed);
    expect(await signal(victim, attacker, candidate("192.168.1.20"))).toMatchObject({ code: "FORBIDDEN" });
    await waitUntil(
      () => Promise.resolve(signalsAt(attacker).length),
      (count) => count === 1,
      10_000,
    );
    expect(signalsAt(attacker)[0]!.data).toEqual({
      type: "answer",
      sdp: `v=0\r\nc=IN IP4 0.0.0.0\r\na=${line(mdns)}\r\n`,
    });
    expect(JSON.stringify(attacker.frames)).not.toContain("192.168.1.20");

    // A peer on the victim's own network does get its private candidates.
    const neighbour = await connect("dave", "192.168.1.30");
    await query(neighbour);
    expect(await signal(neighbour, victim, { type: "offer", sdp: "v=0\r\n" })).toMatchObject(relayed);
    expect(await signal(victim, neighbour, candidate("192.168.1.20"))).toMatchObject(relayed);
    await waitUntil(
      () => Promise.resolve(signalsAt(neighbour)),
      (signals) => signals.length === 1,
      10_000,
    );
    expect(signalsAt(neighbour)[0]!.data).toEqual(candidate("192.168.1.20"));
  }, 60_000);

  it("rate-limits signals between one pair however fast the sender sends", async () => {
    const victim = await holder("dave", "198.51.100.50");
    const attacker = await connect("erin", "198.51.100.51");
    await query(attacker);
    // 190 at once: under the socket's own budget (burst 200), over the pair's at the tracker (burst 100, 20/s).
    const startedMs = performance.now();
    for (let i = 0; i < 190; i++)
      attacker.sendRaw(
        JSON.stringify({ t: "signal", id: `flood${i}`, to: victim.hello!.peerId, data: { type: "bye" } }),
      );
    const answers = await waitUntil(
      () =>
        Promise.resolve(
          attacker.frames.filter(
            (frame) => (frame.t === "res" || frame.t === "err") && String(frame.id).startsWith("flood"),
          ),
        ),
      (frames) => frames.length === 190,
      20_000,
    );
    const elapsedSeconds = (performance.now() - startedMs) / 1000;
    const passed = answers.filter((frame) => frame.t === "res").length;
    expect(
      answers
        .filter((frame) => frame.t === "err")
        .every((frame) => frame.t === "err" && frame.code === "RATE_LIMITED"),
    ).toBe(true);
    expect(passed).toBeLessThanOrEqual(100 + Math.ceil(20 * elapsedSeconds));
    expect(passed).toBeLessThan(190);
    await waitUntil(
      () => Promise.resolve(signalsAt(victim).length),
      (count) => count === passed,
      10_000,
    );
  }, 30_000);
});
