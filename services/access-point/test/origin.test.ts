// Cross-site request forgery through the session cookie: a page of another origin (another port of the same host is
// the same site, so the browser sends the SameSite=Strict cookie) may neither open /ws nor change state over the API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { handshake } from "./handshake";
import { STUB_TOKEN, startStubAccessPoint } from "./stub-access-point";

const post = (url: string, headers: Record<string, string>, body: unknown = {}) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

describe("Origin checks", () => {
  let server: TestServer;
  let token: string;
  let own: string;

  beforeAll(async () => {
    server = await startServer({
      overrides: { security: { allowedOrigins: ["https://music.example.org"] } },
    });
    token = await setupAdmin(server.url);
    own = new URL(server.url).origin;
  });
  afterAll(async () => server?.close());

  it("refuses a WebSocket handshake from another origin with 403 before the upgrade", async () => {
    const port = Number(new URL(server.url).port);
    const foreign = [
      `http://127.0.0.1:${port + 1}`, // another port of the same host: the same site
      `http://localhost:${port}`, // another name for this machine is another origin
      `https://127.0.0.1:${port}`, // another scheme
      "null", // a sandboxed frame or a file: page
      "not an origin",
      "https://music.example.org.evil.test",
    ];
    for (const origin of foreign) {
      const answer = await handshake(server.url, token, { origin });
      expect(answer, origin).toMatchObject({ status: 403, body: { code: "FORBIDDEN" } });
    }
    // The session itself is untouched.
    await expect((await WsClient.connect(server.url, token)).close()).resolves.toBeUndefined();
  });

  it("accepts the server's own origin, a listed reverse-proxy origin, and clients that send none", async () => {
    expect((await handshake(server.url, token, { origin: own })).status).toBe(101);
    expect((await handshake(server.url, token, { origin: "https://music.example.org" })).status).toBe(101);
    expect((await handshake(server.url, token, {})).status).toBe(101);
  });

  it("refuses state-changing API requests from another origin, and lets reads and its own pages through", async () => {
    const session = await login(server.url, "admin", "correct horse battery");
    const evil = { origin: `http://127.0.0.1:${Number(new URL(server.url).port) + 1}` };
    const logout = await post(`${server.url}/api/logout`, { ...evil, authorization: `Bearer ${session}` });
    expect(logout.status).toBe(403);
    expect(await logout.json()).toMatchObject({ code: "FORBIDDEN" });
    const signIn = await post(`${server.url}/api/login`, evil, {
      name: "admin",
      password: "correct horse battery",
    });
    expect(signIn.status).toBe(403);
    expect(signIn.headers.get("set-cookie")).toBeNull();
    // The session the forged logout named still works; a read with a foreign Origin is only a read.
    const me = await fetch(`${server.url}/api/me`, {
      headers: { ...evil, authorization: `Bearer ${session}` },
    });
    expect(me.status).toBe(200);
    // The player's own pages send their origin on every POST.
    const ownLogin = await post(
      `${server.url}/api/login`,
      { origin: own },
      {
        name: "admin",
        password: "correct horse battery",
      },
    );
    expect(ownLogin.status).toBe(200);
    const ownLogout = await post(`${server.url}/api/logout`, {
      origin: own,
      authorization: `Bearer ${session}`,
    });
    expect(ownLogout.status).toBe(200);
    expect(
      (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${session}` } })).status,
    ).toBe(401);
  });
});

// Only the access point is needed here: it on the in-process bus with the stub user service, no whole server.
describe("Origin checks behind a reverse proxy", () => {
  const forwarded = {
    origin: "https://music.example.org",
    "x-forwarded-host": "music.example.org",
    "x-forwarded-proto": "https",
    "x-forwarded-for": "203.0.113.7",
  };

  it("takes the forwarded host and scheme as the server's origin only from a trusted proxy", async () => {
    const trusting = await startStubAccessPoint({ trustProxy: "127.0.0.1" });
    const untrusting = await startStubAccessPoint();
    const [trustingToken, untrustingToken] = [STUB_TOKEN, STUB_TOKEN];
    try {
      expect((await handshake(trusting.url, trustingToken, forwarded)).status).toBe(101);
      // A forwarded host names the origin only for the proxy's own hop: a page on another origin is still refused.
      const other = { ...forwarded, origin: "https://evil.example.org" };
      expect((await handshake(trusting.url, trustingToken, other)).status).toBe(403);
      // Without trustProxy the headers are anybody's: the Host (127.0.0.1:port) is the origin.
      expect((await handshake(untrusting.url, untrustingToken, forwarded)).status).toBe(403);
      const own = { origin: new URL(untrusting.url).origin, "x-forwarded-host": "music.example.org" };
      expect((await handshake(untrusting.url, untrustingToken, own)).status).toBe(101);
    } finally {
      await Promise.all([trusting.close(), untrusting.close()]);
    }
  });
});
