// STUN/TURN servers handed to clients: TURN REST credentials (what coturn's use-auth-secret checks), the hello frame
// that carries them, and the sender filter letting relayed candidates name the TURN server's address only.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filterSignal, serverFrame, type IceServer } from "@soundmesh/protocol";
import { WsClient } from "@soundmesh/test-kit";
import { iceServerAddresses, iceServersFor, iceUrlHost, type IceConfig } from "../src/index";
import { senderPolicy } from "../src/peer-registry";
import { STUB_TOKEN, startStubAccessPoint, type StubAccessPoint } from "./stub-access-point";

const secret = "a shared secret of some length";
const ice: IceConfig = {
  stunUrls: ["stun:198.18.0.1:3478"],
  turn: { urls: ["turn:198.18.0.1:3478?transport=udp", "turn:[2001:db8::7]:3478"], secret, ttlSeconds: 600 },
};

describe("ICE servers", () => {
  it("makes TURN credentials per the TURN REST convention: expiry:pseudonym, base64 HMAC-SHA1", () => {
    const servers = iceServersFor(ice, "p_abc", 1_700_000_000_500);
    expect(servers).toEqual([
      { urls: ["stun:198.18.0.1:3478"] },
      {
        urls: ["turn:198.18.0.1:3478?transport=udp", "turn:[2001:db8::7]:3478"],
        username: "1700000600:p_abc",
        credential: createHmac("sha1", secret).update("1700000600:p_abc").digest("base64"),
      },
    ]);
    // Every frame the access point sends passes the frame schema the clients check.
    expect(
      serverFrame.safeParse({
        t: "hello",
        sessionId: "s",
        peerId: "p",
        user: { id: "u", name: "n" },
        iceServers: servers,
      }).success,
    ).toBe(true);
    expect(iceServersFor(undefined, "p", 0)).toEqual([]);
    expect(iceServersFor({ stunUrls: [] }, "p", 0)).toEqual([]);
  });

  it("reads the host of stun:/turn: URLs and keeps only addresses", () => {
    expect(iceUrlHost("turn:198.18.0.1:3478?transport=tcp")).toBe("198.18.0.1");
    expect(iceUrlHost("turns:[2001:db8::7]:5349")).toBe("2001:db8::7");
    expect(iceUrlHost("stun:stun.example.org")).toBe("stun.example.org");
    expect(iceServerAddresses({ stunUrls: ["stun:stun.example.org"], turn: ice.turn })).toEqual([
      "198.18.0.1",
      "2001:db8::7",
    ]);
  });

  it("lets a relayed candidate name the TURN server's address, and no other public address", () => {
    const policy = senderPolicy("203.0.113.9", () => [], iceServerAddresses(ice));
    const candidate = (address: string, type: string) => ({
      type: "candidate" as const,
      candidate: {
        candidate: `candidate:1 1 udp 41885439 ${address} 50000 typ ${type} raddr 203.0.113.9 rport 1`,
        sdpMid: "0",
      },
    });
    expect(filterSignal(candidate("198.18.0.1", "relay"), policy)).toBeDefined();
    expect(filterSignal(candidate("203.0.113.9", "srflx"), policy)).toBeDefined();
    expect(filterSignal(candidate("198.51.100.4", "relay"), policy)).toBeUndefined();
    expect(
      filterSignal(
        candidate("198.18.0.1", "relay"),
        senderPolicy("203.0.113.9", () => []),
      ),
    ).toBeUndefined();
  });

  describe("renewal on a long-lived socket", () => {
    let server: StubAccessPoint;
    const shortLived: IceConfig = { ...ice, turn: { ...ice.turn!, ttlSeconds: 2 } };
    beforeAll(async () => {
      server = await startStubAccessPoint({ ice: shortLived });
    });
    afterAll(() => server.close());

    it("sends fresh TURN credentials before the last expire, and the client takes them for its next peers", async () => {
      const client = await WsClient.connect(server.url, STUB_TOKEN);
      try {
        const turnOf = (servers: readonly IceServer[] = []) =>
          servers.find((entry) => entry.urls[0]!.startsWith("turn:"))!;
        const first = turnOf(client.hello!.iceServers);
        const renewed = await client.waitFor((frame) => frame.t === "ice", 10_000);
        if (renewed.t !== "ice") throw new Error("not an ice frame");
        const turn = turnOf(renewed.iceServers);
        expect(turn.username).toMatch(new RegExp(`^\\d+:${client.hello!.peerId}$`));
        expect(Number(turn.username!.split(":")[0])).toBeGreaterThan(Number(first.username!.split(":")[0]));
        expect(turn.credential).toBe(createHmac("sha1", secret).update(turn.username!).digest("base64"));
        // The session client keeps them for the next peer connections.
        expect(turnOf(client.hello!.iceServers)).toEqual(turn);
        // Again while the socket stays open.
        await client.waitFor((frame) => frame.t === "ice" && frame !== renewed, 10_000);
      } finally {
        await client.close();
      }
    });
  });

  describe("the hello frame", () => {
    let server: StubAccessPoint;
    beforeAll(async () => {
      server = await startStubAccessPoint({ ice });
    });
    afterAll(() => server.close());

    it("carries fresh TURN credentials for the connection's own pseudonym", async () => {
      const client = await WsClient.connect(server.url, STUB_TOKEN);
      try {
        const hello = client.hello!;
        const turn = hello.iceServers?.find((entry) => entry.urls[0]!.startsWith("turn:"));
        expect(turn?.username).toMatch(new RegExp(`^\\d+:${hello.peerId}$`));
        const expiry = Number(turn!.username!.split(":")[0]);
        expect(expiry).toBeGreaterThan(Date.now() / 1000);
        expect(expiry).toBeLessThanOrEqual(Date.now() / 1000 + 600);
        expect(turn?.credential).toBe(createHmac("sha1", secret).update(turn!.username!).digest("base64"));
      } finally {
        await client.close();
      }
    });
  });
});
