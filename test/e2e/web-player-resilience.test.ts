// The web player in Debian's headless Chromium against a real server: a session ended elsewhere, a server restart mid-
// track, a track chosen while the server is down, and offline playback of a pinned album.
// One part of the web player's suite (test/e2e/web-player-*.test.ts): its own server, profile and sign-in.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { audioTime, requireChromium, seekTo, waitForPlayback } from "@soundmesh/test-kit/browser";
import { screenshots, startWebPlayer, type WebPlayer } from "./web-player-harness";

const hasChromium = requireChromium("web player tests");
let player: WebPlayer;
let page: Page;
const waitForTime = (atLeastSec: number, timeoutMs?: number) => waitForPlayback(page, atLeastSec, timeoutMs);
const openAlbum = (title: string) => player.openAlbum(title);
const playRow = (title: string) => player.playRow(title);

describe.skipIf(!hasChromium)("web player in Chromium: sessions and outages", () => {
  beforeAll(async () => {
    player = await startWebPlayer("signed-in");
    page = player.page;
    await player.libraryScanned();
    // As a listener's library would be after a while: seeks far into a track read renditions made ahead.
    await player.libraryTranscoded();
  }, 180_000);

  afterAll(async () => {
    await player?.close();
  });

  it("returns to sign-in with the reason when the session is ended elsewhere, and signs in again", async () => {
    const cookie = (await player.browser.context.cookies()).find((c) => /session/i.test(c.name));
    expect(cookie).toBeDefined();
    // Signed out from another device: the same session ended through the API, not by this page.
    const response = await fetch(`${player.url}/api/logout`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: `${cookie!.name}=${cookie!.value}` },
      body: "{}",
    });
    expect(response.ok).toBe(true);
    await page.getByText("Your session has ended: sign in again.").waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(screenshots, "session-ended.png") });
    await page.getByPlaceholder("User name").fill("admin");
    await page.getByPlaceholder("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 10_000 });
  }, 30_000);

  it("keeps playing through a server restart mid-track and fetches the rest from the new server", async () => {
    await openAlbum("Long Track");
    await playRow("Ninety");
    await waitForTime(0.5);
    await player.stopServer();
    await page.getByText("Connection lost: reconnecting…").waitFor();
    const whileDown = await audioTime(page);
    await waitForTime(whileDown + 1);
    await player.startServer();
    await page.getByText("Connection lost: reconnecting…").waitFor({ state: "detached", timeout: 20_000 });
    // 75 s is past the 60 s the player fetched ahead before the restart: these pieces come from the new server.
    await seekTo(page, 75);
    await waitForTime(76, 20_000);
  }, 90_000);

  it("starts a track chosen while the server is down as soon as the server is back", async () => {
    await openAlbum("Ágætis byrjun");
    await player.stopServer();
    await playRow("Starálfur");
    await page.getByText("The server cannot be reached: retrying…").waitFor({ timeout: 10_000 });
    await player.startServer();
    await waitForTime(0.3, 30_000);
    await page.getByText("The server cannot be reached: retrying…").waitFor({ state: "detached" });
  }, 60_000);

  it("pins an album for offline use and plays it with the server stopped", async () => {
    // Each step's time is printed: a run that times out says which step it was stuck in.
    const started = Date.now();
    const step = (name: string) => console.log(`offline test: ${name} at ${Date.now() - started} ms`);
    await openAlbum("Gapless Suite");
    await page.getByRole("button", { name: "Make available offline" }).click();
    step("pin clicked");
    await page.locator('[data-offline="ready"]').waitFor({ timeout: 30_000 });
    step("album ready offline");
    await page.evaluate(() => document.querySelector("audio")?.pause());
    expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
    // Chromium's own check: with its manifest, icon and service worker the player installs as an app.
    const cdp = await page.context().newCDPSession(page);
    const { installabilityErrors } = (await cdp.send("Page.getInstallabilityErrors")) as {
      installabilityErrors: Array<{ errorId: string }>;
    };
    expect(installabilityErrors.map((e) => e.errorId)).toEqual([]);
    await cdp.detach();
    await player.stopServer();
    step("server stopped");
    await page.reload();
    await page.getByText("Offline: music you made available offline still plays").waitFor();
    step("reloaded offline");
    // The icon and the manifest come from the service worker's copy.
    const offlineFiles = await page.evaluate(async () =>
      Promise.all(["/icon.svg", "/manifest.webmanifest"].map(async (path) => (await fetch(path)).status)),
    );
    expect(offlineFiles).toEqual([200, 200]);
    await page.locator(".offline-list .track-main", { hasText: "Gapless Suite" }).click();
    await page.getByTestId("now-title").filter({ hasText: "Part One" }).waitFor();
    await waitForTime(0.5);
    step("played offline");
    await page.screenshot({ path: join(screenshots, "offline.png") });
  }, 60_000);

  it("raised no uncaught error in the page through the whole part", () => {
    expect(player.pageErrors).toEqual([]);
  });
});
