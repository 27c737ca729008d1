// Clients' networks: which addresses count as one LAN for P2P, and X-Forwarded-For believed only from a
// configured proxy (for LAN grouping and per-address login throttling alike).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, setupAdmin, waitUntil, writeTone } from "@soundmesh/test-kit";
import { startServer, type StartServerOptions, type TestServer } from "@soundmesh/test-kit/server";
import { networkOf, throttleAddressOf } from "../src/client-network";
import { searchContract, trackerContract } from "@soundmesh/protocol";

describe("networkOf", () => {
  it("groups private IPv4 addresses by /24 and keeps public ones apart", () => {
    expect(networkOf("192.168.1.10")).toBe(networkOf("192.168.1.200"));
    expect(networkOf("192.168.1.10")).not.toBe(networkOf("192.168.2.10"));
    expect(networkOf("10.0.5.1")).toBe(networkOf("10.0.5.99"));
    expect(networkOf("172.16.0.1")).toBe(networkOf("172.16.0.2"));
    expect(networkOf("169.254.7.1")).toBe(networkOf("169.254.7.2"));
    // 172.32/12 is public: each address is its own network (one NAT shows the server one address).
    expect(networkOf("172.32.0.1")).not.toBe(networkOf("172.32.0.2"));
    expect(networkOf("203.0.113.7")).toBe("v4:203.0.113.7");
    expect(networkOf("203.0.113.7")).not.toBe(networkOf("203.0.113.8"));
  });

  it("reads IPv4-mapped IPv6 as IPv4, groups IPv6 by /64, and counts every loopback as one machine", () => {
    expect(networkOf("::ffff:192.168.1.10")).toBe(networkOf("192.168.1.11"));
    expect(networkOf("2001:db8:1:2::10")).toBe(networkOf("2001:0db8:0001:0002:ffff:0:0:1"));
    expect(networkOf("2001:db8:1:2::10")).not.toBe(networkOf("2001:db8:1:3::10"));
    expect(networkOf("fe80::1%eth0")).toBe(networkOf("fe80::2"));
    expect(networkOf("::ffff:1.2.3.4")).toBe("v4:1.2.3.4");
    expect(networkOf("127.0.0.1")).toBe("loopback");
    expect(networkOf("::1")).toBe("loopback");
    expect(networkOf("::ffff:127.0.0.1")).toBe("loopback");
    expect(networkOf("not an address")).toBe("other:not an address");
  });

  it("counts sign-in failures per IPv4 address and per IPv6 /64", () => {
    expect(throttleAddressOf("192.168.1.10")).not.toBe(throttleAddressOf("192.168.1.11"));
    expect(throttleAddressOf("::ffff:192.168.1.10")).toBe("192.168.1.10");
    expect(throttleAddressOf("2001:db8:1:2::10")).toBe(throttleAddressOf("2001:db8:1:2:dead:beef:0:1"));
    expect(throttleAddressOf("2001:db8:1:2::10")).not.toBe(throttleAddressOf("2001:db8:1:3::10"));
    expect(throttleAddressOf("::1")).toBe("::1");
  });
});

/**
 * A server with one track whose manifest the admin's session has fetched, so its peers may announce holding it
 * (the tracker lists only renditions a session fetched).
 */
async function startWithTrack(options: StartServerOptions = {}) {
  const library = mkdtempSync(join(tmpdir(), "soundmesh-network-"));
  await writeTone(join(library, "tone.flac"), { frequency: 330, seconds: 2, codec: ["-c:a", "flac"] });
  const server = await startServer({ ...options, libraryFolders: [library] });
  const token = await setupAdmin(server.url, "admin", "correct horse battery");
  const ws = await WsClient.connect(server.url, token);
  const found = await waitUntil(
    () => ws.call(searchContract, "query", { q: "tone", kinds: ["track"] }),
    (result) => result.hits.length === 1,
    30_000,
  );
  await ws.close();
  const rendition = { trackId: found.hits[0]!.id, profile: "original" };
  const manifest = await fetch(`${server.url}/api/stream/${rendition.trackId}/original/manifest`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(manifest.status).toBe(200);
  await manifest.arrayBuffer();
  const close = async () => {
    await server.close();
    rmSync(library, { recursive: true, force: true });
  };
  return { server, token, rendition, close };
}

async function sameNetworkSeen(
  { server, token, rendition }: Awaited<ReturnType<typeof startWithTrack>>,
  holderAddress: string,
  askerAddress: string,
): Promise<boolean> {
  const connect = (address: string) =>
    WsClient.connect(server.url, token, 5_000, { "x-forwarded-for": address });
  const [holder, asker] = [await connect(holderAddress), await connect(askerAddress)];
  await holder.call(trackerContract, "announce", { holdings: [{ ...rendition, complete: true }] });
  // The previous call's holder may still be leaving the tracker: wait for this one alone.
  const { peers } = await waitUntil(
    () => asker.call(trackerContract, "query", rendition),
    (answer) => answer.peers.length === 1 && answer.peers[0]!.peerId === holder.hello!.peerId,
    5_000,
  );
  await Promise.all([holder.close(), asker.close()]);
  return peers[0]!.sameNetwork;
}

const loginFrom = async (server: TestServer, address: string, name: string, password: string) => {
  const response = await fetch(`${server.url}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-forwarded-for": address },
    body: JSON.stringify({ name, password }),
  });
  return ((await response.json()) as { code?: string; token?: string }).code ?? "OK";
};

describe("behind a trusted reverse proxy", () => {
  let started: Awaited<ReturnType<typeof startWithTrack>>;
  let server: TestServer;
  beforeAll(async () => {
    started = await startWithTrack({ overrides: { security: { trustProxy: "127.0.0.1" } } });
    server = started.server;
  }, 60_000);
  afterAll(async () => started?.close());

  it("offers peers on the client's LAN first, by the address the proxy saw", async () => {
    expect(await sameNetworkSeen(started, "192.168.1.10", "192.168.1.11")).toBe(true);
    expect(await sameNetworkSeen(started, "192.168.1.10", "203.0.113.7")).toBe(false);
    expect(await sameNetworkSeen(started, "198.51.100.4", "198.51.100.4")).toBe(true);
  });

  it("throttles sign-in by the client's address, so one guesser does not lock out everybody behind the proxy", async () => {
    const codes: string[] = [];
    for (let i = 0; i < 24; i++) codes.push(await loginFrom(server, "203.0.113.66", `nobody${i}`, "guess"));
    expect(codes.slice(0, 20).every((code) => code === "INVALID_CREDENTIALS")).toBe(true);
    expect(codes.slice(20)).toContain("LOGIN_THROTTLED");
    expect(await loginFrom(server, "203.0.113.66", "admin", "correct horse battery")).toBe("LOGIN_THROTTLED");
    expect(await loginFrom(server, "198.51.100.9", "admin", "correct horse battery")).toBe("OK");
  });

  it("counts an IPv6 guesser by its /64, however many addresses it takes from it", async () => {
    const codes: string[] = [];
    for (let i = 0; i < 24; i++)
      codes.push(await loginFrom(server, `2001:db8:77:1::${(i + 1).toString(16)}`, `nobody${i}`, "guess"));
    expect(codes.slice(20)).toContain("LOGIN_THROTTLED");
    expect(await loginFrom(server, "2001:db8:77:2::1", "admin", "correct horse battery")).toBe("OK");
  });
});

describe("without a trusted proxy", () => {
  let started: Awaited<ReturnType<typeof startWithTrack>>;
  let server: TestServer;
  beforeAll(async () => {
    started = await startWithTrack();
    server = started.server;
  }, 60_000);
  afterAll(async () => started?.close());

  it("ignores X-Forwarded-For: a client cannot choose its address", async () => {
    // Both sockets come from loopback whatever they claim: one machine, one network.
    expect(await sameNetworkSeen(started, "192.168.1.10", "203.0.113.7")).toBe(true);
    const codes: string[] = [];
    for (let i = 0; i < 21; i++) codes.push(await loginFrom(server, `203.0.113.${i}`, `nobody${i}`, "guess"));
    expect(codes.at(-1)).toBe("LOGIN_THROTTLED");
  });
});
