// What the access point shows and to whom: /metrics only to this machine, admins or the metrics token; the player's
// pages with a strict Content-Security-Policy and the usual protective headers; audio addressed by strict indexes.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { startStubAccessPoint } from "./stub-access-point";
import { userContract } from "@soundmesh/protocol";

const METRICS_TOKEN = "metrics-token-".padEnd(40, "x");

describe("/metrics access", () => {
  let proxied: TestServer;
  let direct: TestServer;
  let adminToken: string;
  let userToken: string;

  beforeAll(async () => {
    // A reverse proxy on this machine forwards clients from elsewhere (X-Forwarded-For).
    proxied = await startServer({
      overrides: { security: { trustProxy: "127.0.0.1", metricsToken: METRICS_TOKEN } },
    });
    direct = await startServer();
    adminToken = await setupAdmin(proxied.url);
    const admin = await WsClient.connect(proxied.url, adminToken);
    await admin.call(userContract, "createUser", { name: "plain", password: "plain password", role: "user" });
    await admin.close();
    userToken = await login(proxied.url, "plain", "plain password");
  });
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  const scrape = (server: TestServer, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/metrics`, { headers });
  const fromAfar = { "x-forwarded-for": "203.0.113.9" };

  it("answers clients on this machine, an admin's token and the metrics token, wherever they are", async () => {
    const local = await scrape(proxied);
    expect(local.status).toBe(200);
    expect(await local.text()).toContain("soundmesh_ws_connections");
    expect((await scrape(proxied, { "x-forwarded-for": "127.0.0.1" })).status).toBe(200);
    expect((await scrape(proxied, { ...fromAfar, authorization: `Bearer ${adminToken}` })).status).toBe(200);
    expect((await scrape(proxied, { ...fromAfar, authorization: `Bearer ${METRICS_TOKEN}` })).status).toBe(
      200,
    );
  });

  it("refuses anonymous and non-admin clients from elsewhere with 401 and 403", async () => {
    const anonymous = await scrape(proxied, fromAfar);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: "UNAUTHENTICATED" });
    const wrongToken = await scrape(proxied, { ...fromAfar, authorization: `Bearer ${"y".repeat(40)}` });
    expect(wrongToken.status).toBe(401);
    const plain = await scrape(proxied, { ...fromAfar, authorization: `Bearer ${userToken}` });
    expect(plain.status).toBe(403);
    expect(await plain.json()).toMatchObject({ code: "FORBIDDEN" });
    // Again within seconds: the identity checked a moment ago is taken from memory, and still not an admin's.
    const again = await scrape(proxied, { ...fromAfar, authorization: `Bearer ${userToken}` });
    expect(again.status).toBe(403);
    expect(await again.json()).toMatchObject({ code: "FORBIDDEN" });
  });

  it("does not count a request a proxy forwarded as local when the proxy is not trusted", async () => {
    expect((await scrape(direct)).status).toBe(200);
    // Without trustProxy the forwarded address is not believed, and the request is not taken as this machine's.
    for (const header of ["x-forwarded-for", "x-real-ip", "forwarded", "via"]) {
      const value =
        header === "forwarded" ? "for=203.0.113.9" : header === "via" ? "1.1 proxy" : "203.0.113.9";
      expect((await scrape(direct, { [header]: value })).status, header).toBe(401);
    }
  });
});

describe("security headers", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ overrides: { security: { secureCookies: true } } });
  });
  afterAll(async () => server?.close());

  const directivesOf = (policy: string | null) =>
    Object.fromEntries(
      (policy ?? "").split(";").map((part) => {
        const [name = "", ...sources] = part.trim().split(/\s+/);
        return [name, sources];
      }),
    );

  it("serves the player, its client-side routes and its assets under a strict CSP with nosniff, no referrer and HSTS", async () => {
    const page = await fetch(`${server.url}/`);
    const html = await page.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset, "the built player's script").toBeDefined();
    for (const path of ["/", "/some/client/route", asset!, "/api/setup"]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status, path).toBe(200);
      const csp = directivesOf(response.headers.get("content-security-policy"));
      expect(csp["default-src"], path).toEqual(["'self'"]);
      expect(csp["script-src"], path).toEqual(["'self'"]);
      expect(csp["style-src"], path).toEqual(["'self'"]);
      expect(csp["connect-src"], path).toEqual(["'self'", server.url.replace(/^http/, "ws")]);
      expect(csp["frame-ancestors"], path).toEqual(["'none'"]);
      expect(csp["object-src"], path).toEqual(["'none'"]);
      expect(csp["base-uri"], path).toEqual(["'self'"]);
      expect(csp["form-action"], path).toEqual(["'self'"]);
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(response.headers.get("x-frame-options"), path).toBe("DENY");
      expect(response.headers.get("strict-transport-security"), path).toBe("max-age=31536000");
    }
    // Cookies are Secure here, as HSTS promises.
    const setup = await fetch(`${server.url}/api/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "admin", password: "correct horse battery" }),
    });
    expect(setup.headers.get("set-cookie")).toMatch(/;\s*Secure/i);
  });

  it("sends no HSTS while cookies are not Secure (plain HTTP)", async () => {
    const plain = await startStubAccessPoint();
    try {
      const response = await fetch(`${plain.url}/healthz`);
      expect(response.headers.get("strict-transport-security")).toBeNull();
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    } finally {
      await plain.close();
    }
  });

  it("lets the minimal page (no player built) run its own inline script and style, and nothing else inline", async () => {
    const minimal = await startStubAccessPoint();
    try {
      const response = await fetch(`${minimal.url}/`);
      const html = await response.text();
      const csp = directivesOf(response.headers.get("content-security-policy"));
      const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
      const script = /<script type="module">([\s\S]*?)<\/script>/.exec(html)![1]!;
      const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
      expect(csp["script-src"]).toEqual(["'self'", hash(script)]);
      expect(csp["style-src"]).toEqual(["'self'", hash(style)]);
      expect(csp["frame-ancestors"]).toEqual(["'none'"]);
    } finally {
      await minimal.close();
    }
  });
});

describe("numeric path parameters", () => {
  it("takes a piece index only as plain decimal digits: ' 1', '0x10', '1e3' and others answer 400 VALIDATION_FAILED", async () => {
    const server = await startServer();
    try {
      const token = await setupAdmin(server.url);
      const piece = (index: string) =>
        fetch(`${server.url}/api/stream/abcdefgh/opus96/pieces/${index}`, {
          headers: { authorization: `Bearer ${token}` },
        });
      for (const index of ["%201", "1%20", "0x10", "1e3", "+1", "-1", "1.0", "0b1", "99999999", "1000001"]) {
        const response = await piece(index);
        expect(response.status, index).toBe(400);
        expect(await response.json(), index).toMatchObject({ code: "VALIDATION_FAILED" });
      }
      // A well-formed index gets as far as the storage service, which knows no such track.
      for (const index of ["0", "1", "007", "1000000"]) expect((await piece(index)).status, index).toBe(404);
    } finally {
      await server.close();
    }
  });
});
