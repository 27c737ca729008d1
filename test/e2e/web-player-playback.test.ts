// The web player in Debian's headless Chromium against a real server: set-up, search, play, the next track by itself, a
// long queue, seek and a measured gapless boundary, cached replay with no request, a phone-sized screen.
// One part of the web player's suite (test/e2e/web-player-*.test.ts): its own server, profile and sign-in.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { requireChromium, seekTo, waitForPlayback } from "@soundmesh/test-kit/browser";
import { screenshots, startWebPlayer, type WebPlayer } from "./web-player-harness";

const hasChromium = requireChromium("web player tests");
let player: WebPlayer;
let page: Page;
const waitForTime = (atLeastSec: number, timeoutMs?: number) => waitForPlayback(page, atLeastSec, timeoutMs);
const openAlbum = (title: string) => player.openAlbum(title);
const playRow = (title: string) => player.playRow(title);

describe.skipIf(!hasChromium)("web player in Chromium: playback", () => {
  beforeAll(async () => {
    player = await startWebPlayer("first-run");
    page = player.page;
  }, 120_000);

  afterAll(async () => {
    await player?.close();
  });

  it("sets up the first admin, lists albums with covers, finds a track as you type and plays it", async () => {
    await page.goto(player.url);
    await page.getByPlaceholder("User name").fill("admin");
    await page.getByPlaceholder("Password").fill("correct horse battery");
    await page.screenshot({ path: join(screenshots, "sign-in.png") });
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
    await page.getByText("Ágætis byrjun").first().waitFor({ timeout: 30_000 });
    await page.locator(".grid img.cover").first().waitFor();
    // Albums the catalog knows have no art show the placeholder without asking the server for a cover.
    expect(await page.locator(".grid .cover.placeholder").count()).toBeGreaterThan(0);
    expect(player.coverMisses).toEqual([]);
    await page.screenshot({ path: join(screenshots, "home.png") });

    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("svefn");
    const hit = page.locator('button[data-kind="track"]', { hasText: "Svefn-g-englar" });
    await hit.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(screenshots, "search.png") });
    await hit.click();

    await page.getByTestId("now-title").filter({ hasText: "Svefn-g-englar" }).waitFor();
    await waitForTime(0.5);
    await page.screenshot({ path: join(screenshots, "playing.png") });
    // The OS sees what plays (Media Session), and the space bar pauses and resumes.
    expect(await page.evaluate(() => navigator.mediaSession.metadata?.title)).toBe("Svefn-g-englar");
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press("Space");
    await page.waitForFunction(() => document.querySelector("audio")?.paused === true);
    await page.keyboard.press("Space");
    await page.waitForFunction(() => document.querySelector("audio")?.paused === false);

    await page.getByRole("button", { name: "Stats for nerds" }).click();
    const stats = await page.locator(".stats").innerText();
    expect(stats).toMatch(/server [1-9]\d*%/);
    expect(stats).toMatch(/start latency of the last plays: \d+ ms/);
    await page.screenshot({ path: join(screenshots, "stats.png") });
  }, 90_000);

  it("opens an album from its artist, plays from a track, and the next track follows by itself", async () => {
    await openAlbum("Double Album");
    await page.getByRole("link", { name: "The Testers" }).click();
    await page.getByRole("heading", { name: "The Testers" }).waitFor();
    await page.screenshot({ path: join(screenshots, "artist.png") });
    await page.getByText("Double Album").first().click();
    await page.getByRole("heading", { name: "Double Album" }).waitFor();
    await page.screenshot({ path: join(screenshots, "album.png") });
    await playRow("Disc 1 Song 2");
    await page.getByTestId("now-title").filter({ hasText: "Disc 2 Song 1" }).waitFor({ timeout: 15_000 });
  }, 60_000);

  it("opens a long queue at the playing track, not at its top", async () => {
    await openAlbum("Double Album");
    for (let i = 0; i < 10; i++)
      await page.getByRole("button", { name: "Add to queue", exact: true }).click();
    await openAlbum("Long Track");
    await page.getByRole("button", { name: "Add Ninety to the queue" }).click();
    await page.locator(".player-bar").getByRole("button", { name: "Queue", exact: true }).click();
    const ninety = page.locator("ol.reorderable li", { hasText: "Ninety" }).last();
    await ninety.locator(".track-main").click();
    await page.getByTestId("now-title").filter({ hasText: "Ninety" }).waitFor();
    await page.getByRole("button", { name: "Home", exact: true }).click();
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
    await page.locator(".player-bar").getByRole("button", { name: "Queue", exact: true }).click();
    const playing = page.locator("[data-playing]", { hasText: "Ninety" });
    await playing.waitFor();
    const isInView = () =>
      playing.evaluate((row) => {
        const box = row.getBoundingClientRect();
        return (
          box.top >= 0 && box.bottom <= document.querySelector(".player-bar")!.getBoundingClientRect().top
        );
      });
    await expect.poll(isInView).toBe(true);
  }, 60_000);

  it("seeks far ahead, then crosses into the next track gaplessly: one buffered range, no stall, a measured gap", async () => {
    await openAlbum("Gapless Suite");
    await playRow("Part One");
    await waitForTime(0.2);
    const seekStarted = Date.now();
    await seekTo(page, 7);
    await waitForTime(7.05);
    const seekMs = Date.now() - seekStarted;
    expect(seekMs).toBeLessThan(5_000);

    // Watch the boundary at 10 s from inside the page: stalls, and the wall-clock time the media clock skips.
    await page.evaluate(() => {
      const audio = document.querySelector("audio")!;
      const probe = { waiting: 0, samples: [] as Array<[number, number]>, contiguous: false };
      (window as unknown as { probe: typeof probe }).probe = probe;
      audio.addEventListener("waiting", () => (probe.waiting += 1));
      const sample = () => {
        probe.samples.push([performance.now(), audio.currentTime]);
        const ranges = audio.buffered;
        for (let i = 0; i < ranges.length; i++)
          if (ranges.start(i) <= 9.5 && ranges.end(i) >= 10.5) probe.contiguous = true;
        if (audio.currentTime < 11) setTimeout(sample, 5);
      };
      sample();
    });
    await page.getByTestId("now-title").filter({ hasText: "Part Two" }).waitFor({ timeout: 15_000 });
    await waitForTime(11);
    const probe = await page.evaluate(
      () =>
        (
          window as unknown as {
            probe: { waiting: number; samples: Array<[number, number]>; contiguous: boolean };
          }
        ).probe,
    );
    const before = probe.samples.filter(([, t]) => t >= 9 && t < 10).at(0)!;
    const after = probe.samples.filter(([, t]) => t > 10.2).at(-1)!;
    // Wall time minus media time across the boundary: what a listener hears as silence (plus sampling noise).
    const gapMs = after[0] - before[0] - (after[1] - before[1]) * 1000;
    console.log(`seek ${seekMs} ms; gap at the boundary ${gapMs.toFixed(1)} ms`);
    expect(probe.contiguous).toBe(true);
    expect(probe.waiting).toBe(0);
    expect(gapMs).toBeLessThan(100);
    await page.locator(".player-bar").getByRole("button", { name: "Queue", exact: true }).click();
    await page.getByRole("heading", { name: "Queue" }).waitFor();
    await page.screenshot({ path: join(screenshots, "queue.png") });
  }, 60_000);

  it("replays a cached track after a reload without a single audio request", async () => {
    const audioRequests: string[] = [];
    const onRequest = (request: { url(): string }) => {
      if (request.url().includes("/api/stream/")) audioRequests.push(request.url());
    };
    page.on("request", onRequest);
    await page.reload();
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("svefn");
    await page.locator('button[data-kind="track"]', { hasText: "Svefn-g-englar" }).click();
    await page.getByTestId("now-title").filter({ hasText: "Svefn-g-englar" }).waitFor();
    await waitForTime(0.5);
    page.off("request", onRequest);
    expect(audioRequests).toEqual([]);
    await page.getByRole("button", { name: "Stats for nerds" }).click();
    expect(await page.locator(".stats").innerText()).toMatch(/cache 100%/);
  }, 60_000);

  it("lays out on a phone-sized screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(screenshots, "phone.png") });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // The menu is one row, and every control in the player bar is a 44 px touch target.
    const menuHeight = await page
      .locator("nav.sidebar")
      .evaluate((nav) => nav.getBoundingClientRect().height);
    expect(menuHeight).toBeLessThanOrEqual(60);
    const smallControls = await page.locator(".player-bar button").evaluateAll((buttons) =>
      buttons
        .map((button) => ({ name: button.getAttribute("aria-label"), box: button.getBoundingClientRect() }))
        .filter(({ box }) => box.width < 44 || box.height < 44)
        .map(({ name, box }) => `${name}: ${Math.round(box.width)}x${Math.round(box.height)}`),
    );
    expect(smallControls).toEqual([]);
    // Every page stays reachable: the row scrolls to an item off screen.
    await page.locator("nav.sidebar").getByRole("button", { name: "Sign out" }).scrollIntoViewIfNeeded();
    expect(await page.locator("nav.sidebar").getByRole("button", { name: "Sign out" }).isVisible()).toBe(
      true,
    );
  });

  it("raised no uncaught error in the page through the whole part", () => {
    expect(player.pageErrors).toEqual([]);
  });
});
