// The access point's doors in Debian's Chromium: the player runs under its strict Content-Security-Policy without one
// violation, and a page on another port of the same host (the same site, so the SameSite=Strict cookie goes along)
// can neither drive the signed-in admin's WebSocket nor end the session.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, generateFixtureLibrary, login } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, type LaunchedChromium } from "@soundmesh/test-kit/browser";
import { userContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("access point browser tests");

/** What a hostile page on another port tries, in the signed-in admin's browser; it reports into window.attack. */
function attackPage(target: string): string {
  return `<!doctype html><html><body><script>
window.attack = { events: [], done: false };
const log = (event) => window.attack.events.push(event);
const socket = new WebSocket("${target.replace(/^http/, "ws")}/ws");
socket.onopen = () => {
  log("open");
  socket.send(JSON.stringify({ t: "req", id: 1, method: "user.createUser",
    params: { name: "mallory", password: "mallory password", role: "admin" } }));
};
socket.onmessage = (event) => {
  log("message " + event.data);
  if (event.data.includes('"id":1')) socket.close();
};
socket.onerror = () => log("error");
// The socket first, then the sign-out: each would succeed on its own if the server let it.
socket.onclose = (event) => {
  log("close " + event.code);
  fetch("${target}/api/logout", { method: "POST", mode: "no-cors", credentials: "include" })
    .then(() => log("logout sent"), () => log("logout failed"))
    .then(() => (window.attack.done = true));
};
</script></body></html>`;
}

async function metricValue(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}

describe.skipIf(!hasChromium)("access point in Chromium", () => {
  let server: TestServer;
  let attacker: Server;
  let browser: LaunchedChromium;
  let player: Page;
  const violations: string[] = [];
  const cspConsoleErrors: string[] = [];

  beforeAll(async () => {
    const fixture = await generateFixtureLibrary();
    server = await startServer({ libraryFolders: [fixture.root] });
    attacker = createServer((_request, response) =>
      response.writeHead(200, { "content-type": "text/html" }).end(attackPage(server.url)),
    );
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    browser = await launchChromium({ viewport: { width: 1280, height: 800 } });
    // Every violation the page's own listener sees, from before the first script runs.
    await browser.context.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener("securitypolicyviolation", (event) =>
        seen.push(
          `${event.violatedDirective} ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`,
        ),
      );
    });
    player = browser.context.pages()[0] ?? (await browser.context.newPage());
    player.on("console", (message) => {
      if (/content security policy/i.test(message.text())) cspConsoleErrors.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await server?.close();
  });

  const recordViolations = async () => {
    violations.push(
      ...(await player.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)),
    );
  };

  it("signs in, browses and plays a track under the strict CSP with no violation and no CSP console error", async () => {
    const response = await player.goto(server.url);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self';");
    await player.getByPlaceholder("User name").fill("admin");
    await player.getByPlaceholder("Password").fill("correct horse battery");
    await player.getByRole("button", { name: "Create administrator" }).click();
    await player.getByRole("heading", { name: "Recently added" }).waitFor();
    await player.locator(".grid img.cover").first().waitFor({ timeout: 30_000 });
    await player.getByRole("button", { name: "Search", exact: true }).click();
    await player.getByLabel("Search").fill("svefn");
    const hit = player.locator('button[data-kind="track"]', { hasText: "Svefn-g-englar" });
    await hit.waitFor({ timeout: 10_000 });
    await hit.click();
    await player.waitForFunction(
      () => {
        const audio = document.querySelector("audio");
        return !!audio && !audio.paused && audio.currentTime > 0.5;
      },
      undefined,
      { timeout: 20_000 },
    );
    // The stats page sets element styles from script (its byte-share bars).
    await player.getByRole("button", { name: "Stats for nerds" }).click();
    await expect.poll(() => player.locator(".stats").innerText()).toMatch(/server [1-9]\d*%/);
    await recordViolations();
    // Opened again, the page comes from the service worker's shell: the same policy, still nothing refused.
    await player.goto(server.url);
    await player.getByRole("heading", { name: "Recently added" }).waitFor();
    await recordViolations();
    expect(violations).toEqual([]);
    expect(cspConsoleErrors).toEqual([]);
  }, 90_000);

  it("refuses a page on another port the admin's socket and session; no user is made and the player goes on", async () => {
    const refusedBefore = await metricValue(server, "soundmesh_http_foreign_origin_refused_total");
    const hostile = await browser.context.newPage();
    const { port } = attacker.address() as AddressInfo;
    await hostile.goto(`http://127.0.0.1:${port}/`);
    await hostile.waitForFunction(
      () => (window as unknown as { attack: { done: boolean } }).attack.done,
      undefined,
      {
        timeout: 15_000,
      },
    );
    const { events } = await hostile.evaluate(
      () => (window as unknown as { attack: { events: string[] } }).attack,
    );
    expect(events).not.toContain("open");
    expect(events.some((event) => event.startsWith("message"))).toBe(false);
    await hostile.close();
    // Both the handshake and the logout reached the server and were refused there.
    expect(await metricValue(server, "soundmesh_http_foreign_origin_refused_total")).toBeGreaterThanOrEqual(
      refusedBefore + 2,
    );
    const admin = await WsClient.connect(
      server.url,
      await login(server.url, "admin", "correct horse battery"),
    );
    const users = await admin.call(userContract, "listUsers");
    expect(users.map((user) => user.name)).toEqual(["admin"]);
    await admin.close();
    // The admin is still signed in, and the real player still talks to its server.
    await player.goto(server.url);
    await player.getByRole("heading", { name: "Recently added" }).waitFor();
    await player.getByRole("button", { name: "Search", exact: true }).click();
    await player.getByLabel("Search").fill("svefn");
    await player
      .locator('button[data-kind="track"]', { hasText: "Svefn-g-englar" })
      .waitFor({ timeout: 10_000 });
    await recordViolations();
    expect(violations).toEqual([]);
  }, 60_000);
});
