// The access point over a real socket: sign-in, throttling, the WebSocket protocol and its bad frames, health, metrics.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { homePageHtml } from "../src/home-page";
import { WsClient, login, setupAdmin, waitUntil, writeTone } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { searchContract, trackerContract, userContract, type AppError } from "@soundmesh/protocol";

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("access point", () => {
  let server: TestServer;
  let adminToken: string;

  beforeAll(async () => {
    server = await startServer({ overrides: { rateLimits: { perUser: { ratePerSecond: 1, burst: 40 } } } });
    adminToken = await setupAdmin(server.url, "admin", "correct horse battery");
  });
  afterAll(async () => server?.close());

  describe("HTTP sign-in", () => {
    it("answers a wrong password with INVALID_CREDENTIALS as problem+json", async () => {
      const response = await post(`${server.url}/api/login`, { name: "admin", password: "wrong password" });
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      expect(await response.json()).toMatchObject({ code: "INVALID_CREDENTIALS", status: 401 });
    });

    it("throttles an account after repeated wrong passwords, even for the right one", async () => {
      const ws = await WsClient.connect(server.url, adminToken);
      await ws.call(userContract, "createUser", {
        name: "victim",
        password: "victim password",
        role: "user",
      });
      await ws.close();
      const codes: string[] = [];
      for (let i = 0; i < 8; i++) {
        const response = await post(`${server.url}/api/login`, { name: "victim", password: `guess ${i}` });
        codes.push(((await response.json()) as { code: string }).code);
      }
      expect(codes.slice(0, 5).every((code) => code === "INVALID_CREDENTIALS")).toBe(true);
      expect(codes).toContain("LOGIN_THROTTLED");
      const right = await post(`${server.url}/api/login`, { name: "victim", password: "victim password" });
      expect(right.status).toBe(429);
      const body = (await right.json()) as { code: string; details: { retryAfterMs: number } };
      expect(body.code).toBe("LOGIN_THROTTLED");
      expect(body.details.retryAfterMs).toBeGreaterThan(0);
    });

    it("signs in with an HttpOnly SameSite=Strict cookie that /api/me accepts", async () => {
      const response = await post(`${server.url}/api/login`, {
        name: "admin",
        password: "correct horse battery",
      });
      expect(response.status).toBe(200);
      const cookie = response.headers.get("set-cookie") ?? "";
      expect(cookie).toMatch(/sm_session=/);
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Strict/i);
      const me = await fetch(`${server.url}/api/me`, { headers: { cookie: cookie.split(";")[0]! } });
      expect(await me.json()).toMatchObject({ name: "admin", role: "admin" });
    });

    it("refuses /api/me without credentials or with a forged token", async () => {
      const anonymous = await fetch(`${server.url}/api/me`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: "UNAUTHENTICATED" });
      const forged = await fetch(`${server.url}/api/me`, {
        headers: { authorization: `Bearer ${"x".repeat(43)}` },
      });
      expect(forged.status).toBe(401);
    });

    it("answers malformed bodies and unknown routes with typed errors", async () => {
      const notJson = await fetch(`${server.url}/api/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{",
      });
      expect(notJson.status).toBe(400);
      expect(await notJson.json()).toMatchObject({ code: "BAD_REQUEST" });
      const wrongShape = await post(`${server.url}/api/login`, { name: 42 });
      expect(await wrongShape.json()).toMatchObject({ code: "VALIDATION_FAILED" });
      const second = await post(`${server.url}/api/setup`, {
        name: "another",
        password: "long enough password",
      });
      expect(await second.json()).toMatchObject({ code: "SETUP_DONE" });
      const missing = await fetch(`${server.url}/api/nothing`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: "NOT_FOUND" });
    });

    it("logs out: the token stops working", async () => {
      const token = await login(server.url, "admin", "correct horse battery");
      const out = await post(`${server.url}/api/logout`, {}, { authorization: `Bearer ${token}` });
      expect(out.status).toBe(200);
      const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).toBe(401);
    });
  });

  describe("WebSocket", () => {
    it("refuses an upgrade without a session", async () => {
      const status = await new Promise<number>((resolve) => {
        const socket = new WebSocket(`${server.url.replace("http", "ws")}/ws`);
        socket.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        socket.on("open", () => resolve(101));
      });
      expect(status).toBe(401);
    });

    it("answers a request frame with a response frame of the same id", async () => {
      const ws = await WsClient.connect(server.url, adminToken);
      await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
      await ws.close();
    });

    it("answers not-JSON, wrong-shaped and unknown-method frames with err frames and keeps serving", async () => {
      const ws = await WsClient.connect(server.url, adminToken);
      const bystander = await WsClient.connect(server.url, adminToken);
      const errs = () => ws.frames.filter((frame) => frame.t === "err");

      ws.sendRaw("this is not json");
      await ws.waitFor(() => errs().length === 1);
      ws.sendRaw(JSON.stringify({ t: "req", method: "user.me" }));
      await ws.waitFor(() => errs().length === 2);
      ws.sendRaw(JSON.stringify({ t: "bogus" }));
      await ws.waitFor(() => errs().length === 3);
      ws.sendRaw(JSON.stringify({ t: "req", id: "unknown-1", method: "nope.nothing", params: {} }));
      const unknown = await ws.waitFor((frame) => frame.t === "err" && frame.id === "unknown-1");

      expect(errs().map((frame) => frame.t === "err" && frame.code)).toEqual([
        "BAD_FRAME",
        "BAD_FRAME",
        "BAD_FRAME",
        "UNKNOWN_METHOD",
      ]);
      expect(unknown).toMatchObject({ code: "UNKNOWN_METHOD" });
      await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
      await expect(bystander.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
      await Promise.all([ws.close(), bystander.close()]);
    });

    it("checks a request's params against the contract", async () => {
      const ws = await WsClient.connect(server.url, adminToken);
      const error = (await ws
        .call(userContract, "createUser", { name: "", password: "x" })
        .catch((e: unknown) => e)) as AppError;
      expect(error.code).toBe("VALIDATION_FAILED");
      await ws.close();
    });

    it("refuses admin methods to a plain user with FORBIDDEN", async () => {
      const admin = await WsClient.connect(server.url, adminToken);
      await admin.call(userContract, "createUser", {
        name: "plain",
        password: "plain password",
        role: "user",
      });
      const token = await login(server.url, "plain", "plain password");
      const ws = await WsClient.connect(server.url, token);
      const error = (await ws.call(userContract, "listUsers").catch((e: unknown) => e)) as AppError;
      expect(error.code).toBe("FORBIDDEN");
      await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "plain", role: "user" });
      await Promise.all([admin.close(), ws.close()]);
    });

    it("rate-limits one user's requests with RATE_LIMITED", async () => {
      const token = await login(server.url, "plain", "plain password");
      const ws = await WsClient.connect(server.url, token);
      const results = await Promise.allSettled(Array.from({ length: 60 }, () => ws.call(userContract, "me")));
      const limited = results.filter(
        (r) => r.status === "rejected" && (r.reason as AppError).code === "RATE_LIMITED",
      );
      expect(limited.length).toBeGreaterThan(0);
      expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThan(0);
      await ws.close();
    });

    it("closes a socket whose session is logged out elsewhere", async () => {
      const token = await login(server.url, "admin", "correct horse battery");
      const ws = await WsClient.connect(server.url, token);
      await post(`${server.url}/api/logout`, {}, { authorization: `Bearer ${token}` });
      await expect.poll(() => ws.closeCode, { timeout: 5_000 }).toBe(4001);
    });

    it("keeps the session a password change came through and ends the others", async () => {
      const admin = await WsClient.connect(server.url, adminToken);
      await admin.call(userContract, "createUser", {
        name: "mover",
        password: "first password",
        role: "user",
      });
      const [here, elsewhere] = [
        await login(server.url, "mover", "first password"),
        await login(server.url, "mover", "first password"),
      ];
      const [ws, other] = [
        await WsClient.connect(server.url, here),
        await WsClient.connect(server.url, elsewhere),
      ];
      await ws.call(userContract, "changePassword", {
        oldPassword: "first password",
        newPassword: "second password",
      });
      await expect.poll(() => other.closeCode, { timeout: 5_000 }).toBe(4001);
      await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "mover" });
      expect(
        (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${elsewhere}` } })).status,
      ).toBe(401);
      await Promise.all([admin.close(), ws.close()]);
    });

    it("answers ping with pong and refuses unknown push topics", async () => {
      const ws = await WsClient.connect(server.url, adminToken);
      ws.sendRaw(JSON.stringify({ t: "ping" }));
      await ws.waitFor((frame) => frame.t === "pong");
      ws.sendRaw(JSON.stringify({ t: "sub", topic: "no.such.topic" }));
      const err = await ws.waitFor((frame) => frame.t === "err" && frame.id === "sub:no.such.topic");
      expect(err).toMatchObject({ code: "NOT_FOUND" });
      await ws.close();
    });
  });

  describe("operations", () => {
    it("serves /healthz, /readyz and Prometheus /metrics with bus edges", async () => {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: "ready" });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain(
        'soundmesh_bus_requests_total{caller="access-point",callee="user",method="authenticate",outcome="ok"}',
      );
      expect(metrics).toContain("soundmesh_ws_requests_total");
      expect(metrics).toContain("process_resident_memory_bytes");
    });

    it("serves the web player (or, before it is built, the minimal sign-in page) at / and at app routes", async () => {
      const response = await fetch(`${server.url}/`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/html");
      const page = await response.text();
      expect(page.includes('<div id="root">') || page.includes("Signed in as")).toBe(true);
      expect(homePageHtml).toContain("/api/me");
    });
  });
});

describe("graceful shutdown", () => {
  it("closes client sockets with 1001 (go elsewhere) and stops listening", async () => {
    const server = await startServer();
    const token = await setupAdmin(server.url);
    const ws = await WsClient.connect(server.url, token);
    await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
    await server.close();
    await expect.poll(() => ws.closeCode, { timeout: 5_000 }).toBe(1001);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe("peer signaling", () => {
  let server: TestServer;
  let token: string;
  let trackId: string;
  let library: string;
  const rendition = () => ({ trackId, profile: "original" });
  /** Fetching the manifest is what lets this session's peers announce the rendition. */
  const fetchManifest = async (bearer: string) => {
    const response = await fetch(`${server.url}/api/stream/${trackId}/original/manifest`, {
      headers: { authorization: `Bearer ${bearer}` },
    });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  };
  beforeAll(async () => {
    library = mkdtempSync(join(tmpdir(), "soundmesh-ap-signal-"));
    await writeTone(join(library, "tone.flac"), { frequency: 440, seconds: 2, codec: ["-c:a", "flac"] });
    server = await startServer({ libraryFolders: [library] });
    token = await setupAdmin(server.url, "admin", "correct horse battery");
    const ws = await WsClient.connect(server.url, token);
    const found = await waitUntil(
      () => ws.call(searchContract, "query", { q: "tone", kinds: ["track"] }),
      (result) => result.hits.length === 1,
      30_000,
    );
    trackId = found.hits[0]!.id;
    await ws.close();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    rmSync(library, { recursive: true, force: true });
  });

  it("long-polls a manifest with havePieces, and refuses a query that is not a count of pieces", async () => {
    const url = `${server.url}/api/stream/${trackId}/opus96/manifest`;
    const headers = { authorization: `Bearer ${token}` };
    const first = await fetch(`${url}?havePieces=0`, { headers });
    expect(first.status).toBe(200);
    const growing = (await first.json()) as { pieceCount: number; pieceHashes: string[]; complete: boolean };
    expect(growing.pieceCount).toBeGreaterThan(0);
    const complete = await fetch(url, { headers });
    const final = (await complete.json()) as { pieceHashes: string[]; complete: boolean };
    expect(final.complete).toBe(true);
    expect(final.pieceHashes.slice(0, growing.pieceCount)).toEqual(growing.pieceHashes);
    // Asking for more than a complete rendition has: the answer comes at once, unchanged.
    const beyond = await fetch(`${url}?havePieces=1000`, { headers });
    expect(beyond.headers.get("etag")).toBe(complete.headers.get("etag"));
    for (const query of [
      "havePieces=abc",
      "havePieces=-1",
      "havePieces=1.5",
      "havePieces=2000000",
      "other=1",
    ]) {
      const refused = await fetch(`${url}?${query}`, { headers });
      expect(refused.status, query).toBe(400);
      expect(((await refused.json()) as { code: string }).code).toBe("VALIDATION_FAILED");
    }
  });

  it("gives each session a pseudonym that reveals neither the user nor the session", async () => {
    const ws = await WsClient.connect(server.url, token);
    const { peerId, sessionId, user } = ws.hello!;
    expect(peerId).toMatch(/^p_[A-Za-z0-9_-]{22}$/);
    expect(peerId).not.toContain(sessionId);
    expect(peerId.toLowerCase()).not.toContain(user.name);
    await ws.close();
  });

  it("delivers signals only between peers the tracker paired, from the sender's pseudonym", async () => {
    const other = await login(server.url, "admin", "correct horse battery");
    const third = await login(server.url, "admin", "correct horse battery");
    const [a, b, c] = (await Promise.all(
      [token, other, third].map((t) => WsClient.connect(server.url, t)),
    )) as [WsClient, WsClient, WsClient];
    a.sendRaw(JSON.stringify({ t: "signal", id: "early", to: b.hello!.peerId, data: { type: "bye" } }));
    expect(await a.waitFor((frame) => frame.t === "err" && frame.id === "early")).toMatchObject({
      code: "FORBIDDEN",
    });
    await fetchManifest(other);
    await b.call(trackerContract, "announce", { holdings: [{ ...rendition(), complete: true }] });
    await a.call(trackerContract, "query", rendition());
    a.sendRaw(
      JSON.stringify({ t: "signal", to: b.hello!.peerId, data: { type: "offer", sdp: "v=0\r\ns=test" } }),
    );
    const received = await b.waitFor((frame) => frame.t === "signal");
    expect(received).toEqual({
      t: "signal",
      from: a.hello!.peerId,
      data: { type: "offer", sdp: "v=0\r\ns=test" },
    });
    b.sendRaw(
      JSON.stringify({ t: "signal", to: a.hello!.peerId, data: { type: "answer", sdp: "v=0\r\ns=back" } }),
    );
    await a.waitFor((frame) => frame.t === "signal");
    // c never looked anything up: it may not signal b, and b's signals never reach it.
    c.sendRaw(JSON.stringify({ t: "signal", id: "c1", to: b.hello!.peerId, data: { type: "bye" } }));
    expect(await c.waitFor((frame) => frame.t === "err" && frame.id === "c1")).toMatchObject({
      code: "FORBIDDEN",
    });
    b.sendRaw(JSON.stringify({ t: "signal", id: "b1", to: c.hello!.peerId, data: { type: "bye" } }));
    expect(await b.waitFor((frame) => frame.t === "err" && frame.id === "b1")).toMatchObject({
      code: "FORBIDDEN",
    });
    expect(c.frames.filter((frame) => frame.t === "signal")).toEqual([]);
    await Promise.all([a, b, c].map((ws) => ws.close()));
  });

  it("answers a signal to an unknown pseudonym or with a foreign payload with an err frame", async () => {
    const ws = await WsClient.connect(server.url, token);
    ws.sendRaw(
      JSON.stringify({ t: "signal", id: "s1", to: "p_nobodynobodynobody00", data: { type: "bye" } }),
    );
    expect(await ws.waitFor((frame) => frame.t === "err" && frame.id === "s1")).toMatchObject({
      code: "FORBIDDEN",
    });
    ws.sendRaw(
      JSON.stringify({
        t: "signal",
        id: "s2",
        to: ws.hello!.peerId,
        data: { type: "connect", host: "10.0.0.1" },
      }),
    );
    expect(await ws.waitFor((frame) => frame.t === "err" && frame.id === "s2")).toMatchObject({
      code: "BAD_FRAME",
    });
    ws.sendRaw(JSON.stringify({ t: "signal", id: "s3", to: ws.hello!.peerId, data: { type: "bye" } }));
    expect(await ws.waitFor((frame) => frame.t === "err" && frame.id === "s3")).toMatchObject({
      code: "BAD_REQUEST",
    });
    await ws.close();
  });

  it("lists a peer only under renditions its session fetched, and forgets it when the socket closes", async () => {
    const holderToken = await login(server.url, "admin", "correct horse battery");
    const holder = await WsClient.connect(server.url, holderToken);
    const asker = await WsClient.connect(
      server.url,
      await login(server.url, "admin", "correct horse battery"),
    );
    const holdings = [
      { ...rendition(), complete: true },
      { trackId: "no-such-track", profile: "opus96", complete: true },
    ];
    expect(await holder.call(trackerContract, "announce", { holdings })).toEqual({
      accepted: 0,
      unfetched: holdings.map(({ trackId: id, profile }) => ({ trackId: id, profile })),
      overCap: 0,
    });
    const missing = await fetch(`${server.url}/api/stream/no-such-track/opus96/manifest`, {
      headers: { authorization: `Bearer ${holderToken}` },
    });
    expect(missing.status).toBe(404);
    await fetchManifest(holderToken);
    expect(await holder.call(trackerContract, "announce", { holdings })).toMatchObject({
      accepted: 1,
      unfetched: [{ trackId: "no-such-track", profile: "opus96" }],
    });
    const found = await asker.call(trackerContract, "query", rendition());
    expect(found.peers).toEqual([{ peerId: holder.hello!.peerId, sameNetwork: true, complete: true }]);
    await holder.close();
    await expect
      .poll(async () => (await asker.call(trackerContract, "query", rendition())).peers)
      .toEqual([]);
    await asker.close();
  });
});

describe("HTTP rate limit", () => {
  let server: TestServer;
  beforeAll(async () => {
    // One token every 10 s: nothing refills during the test, however slow the machine.
    server = await startServer({
      overrides: { rateLimits: { perUserHttp: { ratePerSecond: 0.1, burst: 5 } } },
    });
  });
  afterAll(async () => server?.close());

  const me = (bearer: string) =>
    fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } });

  it("answers a user past their budget with 429 RATE_LIMITED and Retry-After, whichever session they use", async () => {
    // Set-up and sign-ins are paid by the address (three of its five tokens), the rest by each user.
    const token = await setupAdmin(server.url, "admin", "correct horse battery");
    const admin = await WsClient.connect(server.url, token);
    await admin.call(userContract, "createUser", { name: "other", password: "other password", role: "user" });
    await admin.close();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await me(token)).status);
    // The socket's upgrade was the admin's first request; four more, then the bucket is empty.
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const secondSession = await login(server.url, "admin", "correct horse battery");
    const limited = await me(secondSession);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("10");
    expect(await limited.json()).toMatchObject({ code: "RATE_LIMITED", status: 429 });
    // Health is not the API, and this machine's scrapers read /metrics: never limited.
    for (let i = 0; i < 10; i++) expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(Number(/^soundmesh_http_rate_limited_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
    // Another user has a budget of their own.
    const other = await login(server.url, "other", "other password");
    expect((await me(other)).status).toBe(200);
  });

  it("charges tokens that do not verify to the address, which stops checking them once its budget is spent", async () => {
    const lookups = () =>
      server.bus
        .edges()
        .filter((edge) => edge.caller === "access-point" && edge.method === "authenticate")
        .reduce((sum, edge) => sum + edge.requests, 0);
    const before = lookups();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await me(randomBytes(32).toString("base64url"))).status);
    // The address had two tokens left after the sign-ins above: two were looked up (by the limit, then by the
    // route) and answered 401; every later one 429 without a lookup.
    const unauthenticated = statuses.filter((status) => status === 401).length;
    expect(unauthenticated).toBeLessThanOrEqual(2);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(28);
    expect(lookups() - before).toBeLessThanOrEqual(2 * unauthenticated);
  });
});
