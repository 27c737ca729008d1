// A credential's end reaches its live sockets, over a real server and real sockets: expiry (with a re-check, so a
// session that slid elsewhere stays), the session cookie sliding with its session, revoked API tokens, demotion.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { WsClient, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { fastSecurity, startServer, type TestServer } from "@soundmesh/test-kit/server";
import { AppError, catalogContract, userContract } from "@soundmesh/protocol";

const password = "correct horse battery";

async function signIn(baseUrl: string, name: string, secret = password) {
  const response = await fetch(`${baseUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password: secret }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { token: string; expiresAt: number };
  return { ...body, cookie: `sm_session=${body.token}` };
}

/** The Expires of the session cookie among Set-Cookie headers, or undefined when none sets it. */
function cookieExpiry(setCookie: string | string[] | null | undefined): number | undefined {
  const headers = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const header = headers.find((value) => value.startsWith("sm_session="));
  const expires = header && /Expires=([^;]+)/i.exec(header)?.[1];
  return expires ? Date.parse(expires) : undefined;
}

/** Waits until the wall clock reaches `atMs`: how a test gets into the second half of a session's life. */
const clockReaches = (atMs: number) => waitUntil(Date.now, (now) => now >= atMs, atMs - Date.now() + 10_000);

async function errorCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  throw new Error("the request succeeded");
}

describe("sessions that expire while their socket is open", () => {
  const ttlMs = 4_000;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ overrides: { security: { ...fastSecurity, sessionTtlMs: ttlMs } } });
    await setupAdmin(server.url, "admin", password);
  });
  afterAll(async () => server?.close());

  it("closes an idle socket with 4001 once its session expires", async () => {
    const session = await signIn(server.url, "admin");
    const ws = await WsClient.connect(server.url, session.token);
    await expect.poll(() => ws.closeCode, { timeout: ttlMs + 10_000 }).toBe(4001);
    expect(ws.closeReason).toBe("session expired");
    // Not before the session's end (the server's clock and ours are the same machine's).
    expect(Date.now()).toBeGreaterThanOrEqual(session.expiresAt);
    const me = await fetch(`${server.url}/api/me`, { headers: { cookie: session.cookie } });
    expect(me.status).toBe(401);
  });

  it("keeps a socket whose session slid meanwhile, and re-sets the cookie with the new expiry", async () => {
    const session = await signIn(server.url, "admin");
    const ws = await WsClient.connect(server.url, session.token);
    // In the first half of its life a request does not renew the session, and no cookie is sent back.
    const early = await fetch(`${server.url}/api/me`, { headers: { cookie: session.cookie } });
    expect(early.status).toBe(200);
    expect(cookieExpiry(early.headers.getSetCookie())).toBeUndefined();
    await clockReaches(session.expiresAt - ttlMs / 2 + 100);
    const renewing = await fetch(`${server.url}/api/me`, { headers: { cookie: session.cookie } });
    expect(renewing.status).toBe(200);
    const setCookie = renewing.headers.getSetCookie().find((value) => value.startsWith("sm_session="));
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toContain(`sm_session=${session.token}`);
    const renewedUntil = cookieExpiry(setCookie)!;
    expect(renewedUntil).toBeGreaterThanOrEqual(session.expiresAt + 1_000);
    // Past the first expiry the socket is still open and answers.
    await clockReaches(session.expiresAt + 500);
    await expect(ws.call(userContract, "me")).resolves.toMatchObject({ name: "admin" });
    expect(ws.closeCode).toBeUndefined();
    await ws.close();
  });

  it("re-sets the cookie on a WebSocket upgrade that renews the session, never for a bearer token", async () => {
    const session = await signIn(server.url, "admin");
    await clockReaches(session.expiresAt - ttlMs / 2 + 100);
    const upgrade = (headers: Record<string, string>) =>
      new Promise<string[] | undefined>((resolve, reject) => {
        const socket = new WebSocket(`${server.url.replace(/^http/, "ws")}/ws`, { headers });
        socket.once("upgrade", (response) => {
          resolve(response.headers["set-cookie"]);
          socket.close();
        });
        socket.once("error", reject);
      });
    const setCookie = await upgrade({ cookie: session.cookie });
    expect(cookieExpiry(setCookie)).toBeGreaterThanOrEqual(session.expiresAt + 1_000);
    const other = await signIn(server.url, "admin");
    await clockReaches(other.expiresAt - ttlMs / 2 + 100);
    expect(await upgrade({ authorization: `Bearer ${other.token}` })).toBeUndefined();
    const viaBearer = await fetch(`${server.url}/api/me`, {
      headers: { authorization: `Bearer ${other.token}` },
    });
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.headers.getSetCookie()).toEqual([]);
  });
});

describe("standing changes made through the player reach the sockets at once", () => {
  let server: TestServer;
  let admin: WsClient;
  beforeAll(async () => {
    server = await startServer();
    admin = await WsClient.connect(server.url, await setupAdmin(server.url, "admin", password));
  });
  afterAll(async () => {
    await admin?.close();
    await server?.close();
  });

  it("closes the socket of a revoked API token, and of all but the kept ones on sign-out everywhere", async () => {
    await admin.call(userContract, "createUser", { name: "tess", password: "tess password", role: "user" });
    const tess = await WsClient.connect(server.url, await login(server.url, "tess", "tess password"));
    const make = (label: string) => tess.call(userContract, "createApiToken", { label });
    const [revoked, dropped, kept] = [await make("a"), await make("b"), await make("c")];
    const sockets = await Promise.all(
      [revoked, dropped, kept].map((token) => WsClient.connect(server.url, token.token)),
    );
    await tess.call(userContract, "revokeApiToken", { id: revoked.id });
    await expect.poll(() => sockets[0]!.closeCode, { timeout: 5_000 }).toBe(4001);
    expect(sockets[1]!.closeCode).toBeUndefined();
    await expect(
      tess.call(userContract, "revokeAllSessions", { keepApiTokenIds: [kept.id] }),
    ).resolves.toEqual({
      revoked: 1,
      revokedApiTokens: 1,
    });
    await expect.poll(() => sockets[1]!.closeCode, { timeout: 5_000 }).toBe(4001);
    await expect.poll(() => tess.closeCode, { timeout: 5_000 }).toBe(4001);
    await expect(sockets[2]!.call(userContract, "me")).resolves.toMatchObject({ name: "tess" });
    await sockets[2]!.close();
  });

  it("closes a demoted admin's sockets, API token ones too; reconnected, they are refused admin methods", async () => {
    await admin.call(userContract, "createUser", { name: "dora", password: "dora password", role: "admin" });
    const session = await WsClient.connect(server.url, await login(server.url, "dora", "dora password"));
    const { token } = await session.call(userContract, "createApiToken", { label: "ops" });
    const viaToken = await WsClient.connect(server.url, token);
    await expect(viaToken.call(userContract, "listUsers")).resolves.toBeDefined();
    await admin.call(userContract, "setRole", { name: "dora", role: "user" });
    await expect.poll(() => session.closeCode, { timeout: 5_000 }).toBe(4001);
    await expect.poll(() => viaToken.closeCode, { timeout: 5_000 }).toBe(4001);
    // The API token survives a role change; a new socket on it has the new role.
    const again = await WsClient.connect(server.url, token);
    expect(await errorCodeOf(again.call(userContract, "listUsers"))).toBe("FORBIDDEN");
    expect(await errorCodeOf(again.call(catalogContract, "scan", { full: false }))).toBe("FORBIDDEN");
    await again.close();
  });
});
