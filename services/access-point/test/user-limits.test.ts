// Limits a user cannot walk around by opening more sockets: one frame budget per user over all their sockets, every
// frame kind paid from it, and a cap on their open sockets and on the server's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerFrame } from "@soundmesh/protocol";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { FLOOD_COOL_DOWN_MS, REFUSALS_BEFORE_CLOSE, SocketLimits } from "../src/socket-limits";
import { handshake } from "./handshake";
import { playlistContract, userContract, type AppError } from "@soundmesh/protocol";

/** 40 frames at once and next to no refill (one token every 100 s): counts are exact however slow the machine. */
const budget = { ratePerSecond: 0.01, burst: 40 };

const isRateLimited = (frame: ServerFrame): frame is Extract<ServerFrame, { t: "err" }> =>
  frame.t === "err" && frame.code === "RATE_LIMITED";

describe("per-user frame budget", () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startServer({
      overrides: { rateLimits: { perUser: budget }, connections: { maxSocketsPerUser: 20 } },
    });
    const admin = await WsClient.connect(server.url, await setupAdmin(server.url));
    for (const name of ["many", "flooder", "listener", "kinds"])
      await admin.call(userContract, "createUser", { name, password: `${name} password`, role: "user" });
    await admin.close();
    for (const name of ["many", "flooder", "listener", "kinds"])
      tokens[name] = await login(server.url, name, `${name} password`);
  });
  afterAll(async () => server?.close());

  it("gives 20 sockets of one user together no more than the user's budget", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 20 }, () => WsClient.connect(server.url, tokens.many!)),
    );
    const results = await Promise.allSettled(
      sockets.flatMap((ws) => Array.from({ length: 50 }, () => ws.call(userContract, "me"))),
    );
    const answered = results.filter((result) => result.status === "fulfilled").length;
    const limited = results.filter(
      (result) => result.status === "rejected" && (result.reason as AppError).code === "RATE_LIMITED",
    ).length;
    // A socket each used to have a budget of its own: 20 × 40 = 800 would have passed.
    expect(answered).toBeLessThanOrEqual(budget.burst);
    expect(answered).toBeGreaterThan(budget.burst / 2);
    expect(answered + limited).toBe(1_000);
    await Promise.all(sockets.map((ws) => ws.close()));
  });

  it("charges sub frames, so one user's flood of them makes few bus calls and another user is served", async () => {
    const accessCalls = () =>
      server.bus
        .edges()
        .filter((edge) => edge.callee === "playlist" && edge.method === "access")
        .reduce((sum, edge) => sum + edge.requests, 0);
    const listener = await WsClient.connect(server.url, tokens.listener!);
    const { playlist } = await listener.call(playlistContract, "create", {
      name: "Mine",
    });
    const before = accessCalls();
    const flooders = await Promise.all(
      Array.from({ length: 4 }, () => WsClient.connect(server.url, tokens.flooder!)),
    );
    // Each sub of a playlist topic asks the playlist service whether the user may see it: 2,000 would be 2,000 calls.
    for (const [n, ws] of flooders.entries())
      for (let i = 0; i < 500; i++)
        ws.sendRaw(JSON.stringify({ t: "sub", topic: `playlist.flood${n}x${String(i).padStart(4, "0")}` }));
    // The listener is served while the flood arrives; none of its requests is refused or times out.
    for (let i = 0; i < 5; i++)
      await expect(
        listener.call(playlistContract, "get", { playlistId: playlist.id }),
      ).resolves.toBeDefined();
    // A socket that keeps sending after REFUSALS_BEFORE_CLOSE refusals in a row is cut off (4029), and nothing it
    // sent past that is read: the flood costs the server a few hundred answers, not 2,000.
    await expect
      .poll(() => flooders.map((ws) => ws.closeCode), { timeout: 20_000 })
      .toEqual([4029, 4029, 4029, 4029]);
    const refused = flooders.reduce((sum, ws) => sum + ws.frames.filter(isRateLimited).length, 0);
    expect(refused).toBe(4 * REFUSALS_BEFORE_CLOSE);
    expect(accessCalls() - before).toBeLessThanOrEqual(budget.burst);
    // The flooder may not come back at once, whoever else is served meanwhile.
    const again = await handshake(server.url, tokens.flooder!);
    expect(again).toMatchObject({ status: 429, body: { code: "RATE_LIMITED" } });
    expect(
      (again.body as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds,
    ).toBeGreaterThan(0);
    await expect(listener.call(playlistContract, "get", { playlistId: playlist.id })).resolves.toBeDefined();
    await listener.close();
  });

  it("charges every frame kind: unsub, signal, ping and malformed frames spend the budget requests need", async () => {
    const ws = await WsClient.connect(server.url, tokens.kinds!);
    for (let i = 0; i < 16; i++) ws.sendRaw(JSON.stringify({ t: "unsub", topic: `playlist.nothing${i}x` }));
    for (let i = 0; i < 4; i++) ws.sendRaw(i % 2 === 0 ? "not json" : JSON.stringify({ t: "bogus" }));
    for (let i = 0; i < 16; i++)
      ws.sendRaw(
        JSON.stringify({ t: "signal", id: `s${i}`, to: "p_nobodynobodynobody00", data: { type: "bye" } }),
      );
    // A ping costs a quarter: 16 of them are the last four tokens.
    for (let i = 0; i < 16; i++) ws.sendRaw(JSON.stringify({ t: "ping" }));
    await ws.waitFor((frame) => frame.t === "err" && frame.id === "s15");
    expect(ws.frames.filter((frame) => frame.t === "err" && frame.code === "BAD_FRAME")).toHaveLength(4);
    await expect.poll(() => ws.frames.filter((frame) => frame.t === "pong").length).toBe(16);
    ws.sendRaw(JSON.stringify({ t: "ping" }));
    await ws.waitFor((frame) => isRateLimited(frame) && frame.id === null);
    const error = (await ws.call(userContract, "me").catch((e: unknown) => e)) as AppError;
    expect(error.code).toBe("RATE_LIMITED");
    // Nothing above was refused but the last ping and the request.
    expect(ws.frames.filter(isRateLimited)).toHaveLength(2);
    await ws.close();
  });
});

describe("open sockets", () => {
  let server: TestServer;
  let adminToken: string;
  let userToken: string;

  beforeAll(async () => {
    // The default 16 per user, and a server that takes 17 in all.
    server = await startServer({ overrides: { connections: { maxSockets: 17 } } });
    adminToken = await setupAdmin(server.url);
    const admin = await WsClient.connect(server.url, adminToken);
    await admin.call(userContract, "createUser", {
      name: "second",
      password: "second password",
      role: "user",
    });
    await admin.close();
    userToken = await login(server.url, "second", "second password");
  });
  afterAll(async () => server?.close());

  it("refuses a user's 17th socket and the server's 18th with 429 RATE_LIMITED before the upgrade", async () => {
    const mine = await Promise.all(
      Array.from({ length: 16 }, () => WsClient.connect(server.url, adminToken)),
    );
    // Every session and token of the user counts: a fresh sign-in does not make room.
    const again = await login(server.url, "admin", "correct horse battery");
    expect(await handshake(server.url, again)).toMatchObject({
      status: 429,
      body: { code: "RATE_LIMITED", details: { maxSocketsPerUser: 16 } },
    });
    const other = await WsClient.connect(server.url, userToken);
    expect(await handshake(server.url, userToken)).toMatchObject({
      status: 429,
      body: { code: "RATE_LIMITED" },
    });
    // A closed socket gives its place back.
    await mine.pop()!.close();
    await expect
      .poll(async () => (await handshake(server.url, userToken)).status, { timeout: 5_000 })
      .toBe(101);
    await expect
      .poll(() => server.registry.getSingleMetricAsString("soundmesh_ws_connections"), { timeout: 5_000 })
      .toMatch(/soundmesh_ws_connections 16$/m);
    await Promise.all([...mine, other].map((ws) => ws.close()));
  });
});

describe("cool-down after a flood", () => {
  it("refuses the user's sockets for FLOOD_COOL_DOWN_MS, then takes them again; other users are not affected", () => {
    let nowMs = 1_000_000;
    const limits = new SocketLimits(
      {
        userRateLimit: { ratePerSecond: 1, burst: 1 },
        maxSocketsPerUser: 4,
        maxSockets: 10,
        inFlightBytesPerSocket: 1024 * 1024,
        inFlightBytesTotal: 4 * 1024 * 1024,
      },
      () => nowMs,
    );
    limits.coolDown("flooder");
    expect(() => limits.reserveSocket("flooder")).toThrow(
      expect.objectContaining({ code: "RATE_LIMITED", details: { retryAfterSeconds: 10 } }),
    );
    expect(() => limits.reserveSocket("other")).not.toThrow();
    nowMs += FLOOD_COOL_DOWN_MS - 1;
    expect(() => limits.reserveSocket("flooder")).toThrow(expect.objectContaining({ code: "RATE_LIMITED" }));
    nowMs += 1;
    expect(() => limits.reserveSocket("flooder")).not.toThrow();
  });
});
