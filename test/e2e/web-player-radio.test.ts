// Radio in the web player (Chromium): "Start radio" from a track fills the queue, and when the listener jumps near its
// end the radio asks again and adds tracks the queue never held; "Similar tracks" lists playable tracks; the daily
// mix of a listener with history plays. A real server on a 40-track library; the radio index is the one the job
// runner's schedule builds after the first scan.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogContract, eventsContract, recommendContract, type ListeningEvent } from "@soundmesh/protocol";
import { WsClient, login, setupAdmin, waitUntil, writeToneSync } from "@soundmesh/test-kit";
import {
  launchChromium,
  openAlbumBySearch,
  requireChromium,
  signIn,
  waitForPlayback,
  type LaunchedChromium,
} from "@soundmesh/test-kit/browser";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

const hasChromium = requireChromium("web player radio tests");
const ADMIN = { name: "admin", password: "correct horse battery" };
const ARTISTS = ["Amber Coast", "Birch Hollow", "Cinder Vale", "Dune Harbor"];
const GENRES = ["Folk", "Folk", "Techno", "Techno"];

/** Four artists, two albums each, five 4 s tracks per album: 40 tracks, titles unique. */
function generateLibrary(): string {
  const root = join(tmpdir(), "soundmesh-radio-e2e-tracks-v1");
  if (existsSync(join(root, ".complete"))) return root;
  let n = 0;
  ARTISTS.forEach((artist, a) => {
    for (const volume of [1, 2]) {
      const album = `${artist} Vol ${volume}`;
      for (let track = 1; track <= 5; track++) {
        const title = `${artist.split(" ")[0]} ${volume}-${track}`;
        const path = join(root, artist, album, `0${track} ${title}.flac`);
        mkdirSync(join(path, ".."), { recursive: true });
        writeToneSync(path, {
          frequency: 200 + 17 * n++,
          seconds: 4,
          codec: ["-c:a", "flac"],
          tags: { title, artist, album, track: String(track), genre: GENRES[a]!, date: String(2000 + a) },
        });
      }
    }
  });
  writeFileSync(join(root, ".complete"), "");
  return root;
}

/** The titles in the queue, in order. */
const queueTitles = (page: Page) =>
  page
    .locator("ol.reorderable > li .title")
    .evaluateAll((titles) => titles.map((title) => title.firstChild?.textContent?.trim() ?? ""));

describe.skipIf(!hasChromium)("radio in the web player", () => {
  let server: TestServer;
  let browser: LaunchedChromium;
  let page: Page;
  let client: WsClient;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const library = generateLibrary();
    server = await startServer({ libraryFolders: [library] });
    await setupAdmin(server.url, ADMIN.name, ADMIN.password);
    client = await WsClient.connect(server.url, await login(server.url, ADMIN.name, ADMIN.password));
    await waitUntil(
      () => client.call(catalogContract, "scanStatus"),
      (status) => !status.running && status.added >= 40,
      60_000,
    );
    // The schedule's first check runs after the first scan: the index of the last closed day, with every track.
    await waitUntil(
      () => client.call(recommendContract, "status", {}),
      (status) => status.loaded && status.tracks === 40,
      120_000,
      250,
    );
    browser = await launchChromium({ viewport: { width: 1280, height: 800 } });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on("pageerror", (error) => pageErrors.push(`${error.name}: ${error.message}`));
    await signIn(page, server.url, ADMIN.name, ADMIN.password);
  }, 240_000);

  afterAll(async () => {
    await client?.close();
    await browser?.close();
    await server?.close();
  });

  it("the scheduled job built the index and lists its run", async () => {
    const runs = await client.call(eventsContract, "jobs", { limit: 50 });
    const radioRuns = runs.runs.filter((run) => run.job === "rebuild-recommendation-index");
    expect(radioRuns).toHaveLength(1);
    expect(radioRuns[0]).toMatchObject({ state: "done", progress: 1, runner: "server" });
  });

  it("starts radio from a track, fills the queue, and fills it again near its end with tracks not yet queued", async () => {
    await openAlbumBySearch(page, "Amber Coast Vol 1");
    await page.getByRole("button", { name: "More actions for Amber 1-2" }).click();
    await page.getByRole("menuitem", { name: "Start radio" }).click();
    await page.getByTestId("now-title").filter({ hasText: "Amber 1-2" }).waitFor({ timeout: 20_000 });
    await waitForPlayback(page, 0.1, 30_000);

    await page.locator("nav.sidebar").getByRole("button", { name: "Queue", exact: true }).click();
    await page.getByTestId("radio-status").filter({ hasText: "Radio from Amber 1-2" }).waitFor();
    const first = await queueTitles(page);
    expect(first[0]).toBe("Amber 1-2");
    expect(first.length).toBeGreaterThanOrEqual(6);
    expect(new Set(first).size).toBe(first.length);

    // Near the end: the radio asks for more and adds only tracks the queue never held.
    await page
      .locator("ol.reorderable > li .track-main")
      .nth(first.length - 2)
      .click();
    await expect
      .poll(async () => (await queueTitles(page)).length, { timeout: 30_000 })
      .toBeGreaterThan(first.length);
    const second = await queueTitles(page);
    expect(second.slice(0, first.length)).toEqual(first);
    expect(new Set(second).size).toBe(second.length);
    expect(second.slice(first.length).some((title) => first.includes(title))).toBe(false);

    // And again: the radio keeps going.
    await page
      .locator("ol.reorderable > li .track-main")
      .nth(second.length - 1)
      .click();
    await expect
      .poll(async () => (await queueTitles(page)).length, { timeout: 30_000 })
      .toBeGreaterThan(second.length);
    const third = await queueTitles(page);
    expect(new Set(third).size).toBe(third.length);
    await page.screenshot({ path: join(process.cwd(), "test-results", "screenshots", "radio-queue.png") });

    // Playing something else ends the radio: the queue is no longer filled.
    await openAlbumBySearch(page, "Dune Harbor Vol 2");
    await page.locator(".track-main", { hasText: "Dune 2-5" }).first().click();
    await page.locator("nav.sidebar").getByRole("button", { name: "Queue", exact: true }).click();
    await expect.poll(() => queueTitles(page)).toHaveLength(5);
    expect(await page.getByTestId("radio-status").count()).toBe(0);
  }, 180_000);

  it("starts radio from an album's menu", async () => {
    await openAlbumBySearch(page, "Cinder Vale Vol 1");
    await page.getByRole("button", { name: "More album actions" }).click();
    await page.getByRole("menuitem", { name: "Start radio" }).click();
    await page.locator("nav.sidebar").getByRole("button", { name: "Queue", exact: true }).click();
    await page.getByTestId("radio-status").filter({ hasText: "Radio from Cinder Vale Vol 1" }).waitFor();
    const titles = await queueTitles(page);
    expect(titles.length).toBeGreaterThanOrEqual(4);
    // An album's radio moves on from the album itself.
    expect(titles.some((title) => title.startsWith("Cinder 1-"))).toBe(false);
  }, 60_000);

  it("lists similar tracks, playable", async () => {
    await openAlbumBySearch(page, "Birch Hollow Vol 2");
    await page.getByRole("button", { name: "More actions for Birch 2-3" }).click();
    await page.getByRole("menuitem", { name: "Similar tracks" }).click();
    await page.getByRole("heading", { name: "Like Birch 2-3" }).waitFor({ timeout: 20_000 });
    const rows = page.locator("main .tracks > li .track-main");
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(5);
    const firstTitle = (await rows
      .first()
      .locator(".title")
      .evaluate((el) => el.firstChild?.textContent))!;
    expect(firstTitle).not.toBe("Birch 2-3");
    await rows.first().click();
    await page.getByTestId("now-title").filter({ hasText: firstTitle }).waitFor({ timeout: 20_000 });
  }, 60_000);

  it("plays the daily mix of a listener with history", async () => {
    // History: this listener played Techno (Cinder Vale's second album) on another device.
    const album = await client.call(catalogContract, "albums", { limit: 50 });
    const cinder = album.items.find((entry) => entry.title === "Cinder Vale Vol 2")!;
    const { tracks: cinderTracks } = await client.call(catalogContract, "album", { albumId: cinder.id });
    const now = Date.now();
    const events: ListeningEvent[] = cinderTracks.flatMap((track, i) =>
      [0, 1].map((round) => ({
        v: 1 as const,
        id: randomUUID(),
        at: now - 60_000 * (20 - i - round * 6),
        trackId: track.id,
        type: "play.ended" as const,
        playedMs: 4_000,
        durationMs: 4_000,
        reason: "finished" as const,
      })),
    );
    const answer = await client.call(eventsContract, "submit", { events });
    expect(answer.accepted).toBe(events.length);

    await page.locator("nav.sidebar").getByRole("button", { name: "Your music" }).click();
    const mix = page.getByRole("region", { name: "Daily mix" });
    await mix.getByText("Near what you play most.").waitFor({ timeout: 20_000 });
    const rows = mix.locator(".tracks > li");
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(10);
    const firstTitle = (await rows
      .first()
      .locator(".title")
      .evaluate((el) => el.firstChild?.textContent))!;
    await mix.getByRole("button", { name: "Play daily mix" }).click();
    await page.getByTestId("now-title").filter({ hasText: firstTitle }).waitFor({ timeout: 20_000 });
    await waitForPlayback(page, 0.1, 30_000);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
