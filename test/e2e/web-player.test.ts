// The web player in Debian's headless Chromium against a real server: set-up, search, play, seek, a measured gapless
// boundary, cached replay with no request, playlists (a pinned one following edits made elsewhere; invitations and
// blocks; the More menu), a server restart mid-track, offline pinned playback, and screenshots.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlaylistOperation } from "@soundmesh/protocol";
import { WsClient, fixtureTracks, generateFixtureLibrary, login, writeToneSync } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { chromiumArgs, chromiumPath, requireChromium } from "@soundmesh/test-kit/browser";
import { catalogContract, playlistContract, searchContract, userContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("web player tests");

/** A 1×1 PNG, the smallest image a cover upload takes. */
const onePixelPng =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

const screenshots = join(process.cwd(), "test-results", "screenshots");
let server: TestServer | undefined;
let dataDir: string;
let port: number;
let context: BrowserContext;
let page: Page;
let profileDir: string;
let libraries: string[];
/** Cover requests the server answered 404: the catalog says which albums have art, so there should be none. */
const coverMisses: string[] = [];
/** Uncaught errors in the page over the whole session (track changes, reloads, a server restart). */
const pageErrors: string[] = [];

/** Longer tracks than the shared fixtures: three 10 s parts for the gapless boundary and 90 s for seeks. */
function generateLongTracks(): string {
  const root = join(tmpdir(), "soundmesh-web-player-tracks-v1");
  if (existsSync(join(root, ".complete"))) return root;
  const tracks = [
    ["Gapless Suite/01 Part One.flac", "Part One", 10, 1],
    ["Gapless Suite/02 Part Two.flac", "Part Two", 10, 2],
    ["Gapless Suite/03 Part Three.flac", "Part Three", 10, 3],
    ["Long Track/01 Ninety.flac", "Ninety", 90, 1],
  ] as const;
  for (const [file, title, seconds, number] of tracks) {
    const path = join(root, "Long Player", file);
    mkdirSync(join(path, ".."), { recursive: true });
    const album = file.split("/")[0]!;
    writeToneSync(path, {
      frequency: 300 + number * 50,
      seconds,
      codec: ["-c:a", "flac"],
      tags: { title, artist: "Long Player", album, track: String(number), genre: "Ambient" },
    });
  }
  writeFileSync(join(root, ".complete"), "");
  return root;
}

async function start(): Promise<TestServer> {
  return startServer({ dataDir, libraryFolders: libraries, overrides: { port } });
}

const audioTime = () => page.evaluate(() => document.querySelector("audio")?.currentTime ?? 0);

async function waitForTime(atLeastSec: number, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const audio = document.querySelector("audio");
      return !!audio && !audio.paused && audio.currentTime > t;
    },
    atLeastSec,
    { timeout: timeoutMs },
  );
}

async function openAlbum(title: string): Promise<void> {
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByLabel("Search").fill(title);
  await page.locator('button[data-kind="album"]', { hasText: title }).first().click();
  await page.getByRole("heading", { name: title }).waitFor();
}

/** Moves the seek slider as a user would: React sees the input event of a value set by the native setter. */
async function seekTo(seconds: number): Promise<void> {
  await page.evaluate((value) => {
    const input = document.querySelector<HTMLInputElement>('input[aria-label="Seek"]')!;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(input, String(value));
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, seconds);
}

/** "N pinned for offline" from the stats page, opened afresh so it reads the cache's state now. */
async function pinnedCount(): Promise<number> {
  await page.getByRole("button", { name: "Home", exact: true }).click();
  await page.getByRole("button", { name: "Stats for nerds" }).click();
  const text = await page.locator(".stats").innerText();
  return Number(/(\d+) pinned for offline/.exec(text)?.[1] ?? NaN);
}

/** A second signed-in client on the WebSocket, as another device of the same user. */
async function otherDevice(): Promise<WsClient> {
  return WsClient.connect(server!.url, await login(server!.url, "admin", "correct horse battery"));
}

/** Waits until the server holds the playlist in this order of titles, as another device of the user sees it. */
async function expectServerOrder(playlistId: string, expected: string[]): Promise<void> {
  const other = await otherDevice();
  try {
    const serverTitles = async () => {
      const { items } = await other.call(playlistContract, "get", { playlistId });
      const tracks = await other.call(catalogContract, "tracks", {
        trackIds: items.map((item) => item.trackId),
      });
      return items.map((item) => tracks.find((track) => track.id === item.trackId)?.title);
    };
    await expect.poll(serverTitles, { timeout: 10_000 }).toEqual(expected);
  } finally {
    await other.close();
  }
}

const trackRow = (title: string) => page.locator(".track-main", { hasText: title }).first();

/** Plays a track from the open page; what played before is paused first, so its clock cannot answer for this one. */
async function playRow(title: string): Promise<void> {
  await page.evaluate(() => document.querySelector("audio")?.pause());
  await trackRow(title).click();
  await page.getByTestId("now-title").filter({ hasText: title }).waitFor();
}

describe.skipIf(!hasChromium)("web player in Chromium", () => {
  beforeAll(async () => {
    const fixture = await generateFixtureLibrary();
    libraries = [fixture.root, generateLongTracks()];
    dataDir = mkdtempSync(join(tmpdir(), "soundmesh-web-e2e-"));
    port = 0;
    server = await start();
    port = Number(new URL(server.url).port);
    profileDir = mkdtempSync(join(tmpdir(), "soundmesh-chromium-"));
    mkdirSync(screenshots, { recursive: true });
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      args: [...chromiumArgs],
      headless: true,
      viewport: { width: 1280, height: 800 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(`${error.name}: ${error.message}`));
    page.on("response", (response) => {
      if (response.url().includes("/api/cover/") && response.status() === 404)
        coverMisses.push(response.url());
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    for (const dir of [profileDir, dataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("sets up the first admin, lists albums with covers, finds a track as you type and plays it", async () => {
    await page.goto(server!.url);
    await page.getByPlaceholder("User name").fill("admin");
    await page.getByPlaceholder("Password").fill("correct horse battery");
    await page.screenshot({ path: join(screenshots, "sign-in.png") });
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
    await page.getByText("Ágætis byrjun").first().waitFor({ timeout: 30_000 });
    await page.locator(".grid img.cover").first().waitFor();
    // Albums the catalog knows have no art show the placeholder without asking the server for a cover.
    expect(await page.locator(".grid .cover.placeholder").count()).toBeGreaterThan(0);
    expect(coverMisses).toEqual([]);
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
    await seekTo(7);
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

  it("shows the admin area with a scan's and a whole-library transcode's live progress, and the settings", async () => {
    await page.getByRole("button", { name: "Admin" }).click();
    await page.getByRole("heading", { name: "Administration" }).waitFor();
    await page.getByTestId("scan-status").waitFor();
    await page.getByRole("button", { name: "Full rescan" }).click();
    // The first scan added the library; the rescan's pushed progress ends with nothing added.
    await expect
      .poll(() => page.getByTestId("scan-status").innerText(), { timeout: 20_000 })
      .toMatch(/Idle · added 0 · updated \d+/);
    expect(await page.getByText("Full scan started.").count()).toBe(0);
    await page.getByText("not an audio file").first().waitFor();
    // Transcoding the whole library ahead: pushed progress until every track's rendition is ready.
    await page.getByRole("button", { name: "Whole library" }).click();
    await expect
      .poll(() => page.getByTestId("transcode-status").innerText(), { timeout: 60_000 })
      .toMatch(/^Done: (\d+) of \1 ready$/m);
    const ready = Number(/Done: (\d+)/.exec(await page.getByTestId("transcode-status").innerText())![1]);
    // Every track of both folders (the fixture's and the four long ones), in the one profile made ahead.
    expect(ready).toBe(fixtureTracks.length + 4);
    await page.screenshot({ path: join(screenshots, "admin.png"), fullPage: true });
    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByLabel("ReplayGain").selectOption("album");
    await page.screenshot({ path: join(screenshots, "settings.png") });
  }, 60_000);

  it("makes a playlist from an album, reorders, renames and trims it, and the edits survive a reload", async () => {
    await openAlbum("Double Album");
    page.once("dialog", (dialog) => void dialog.accept("Road Trip"));
    await page.getByRole("button", { name: "Add 4 songs to a playlist" }).click();
    await page.getByRole("menuitem", { name: "New playlist…" }).click();
    await page.getByText("Added to Road Trip").waitFor();
    await page.getByRole("button", { name: "Playlists", exact: true }).click();
    await page.getByRole("link", { name: /Road Trip/ }).click();
    const rows = page.locator(".tracks .track-main .title");
    await expect.poll(() => rows.allInnerTexts()).toHaveLength(4);
    await page.getByRole("button", { name: "Move Disc 1 Song 1 down" }).click();
    await page.getByRole("button", { name: "Remove Disc 2 Song 2 from the playlist" }).click();
    await page.getByLabel("Playlist name").fill("Road Trip Mix");
    await page.getByLabel("Playlist name").press("Enter");
    await page.getByText("saving…").waitFor({ state: "detached" });
    await page.screenshot({ path: join(screenshots, "playlist.png") });
    await page.reload();
    await expect.poll(() => page.getByLabel("Playlist name").inputValue()).toBe("Road Trip Mix");
    await expect
      .poll(async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]))
      .toEqual(["Disc 1 Song 2", "Disc 1 Song 1", "Disc 2 Song 1"]);
    await page.evaluate(() => document.querySelector("audio")?.pause());
    await page.locator("main").getByRole("button", { name: "Play", exact: true }).click();
    await page.getByTestId("now-title").filter({ hasText: "Disc 1 Song 2" }).waitFor();
    // Search as you type finds the user's playlists too.
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("road tr");
    await page.locator('button[data-kind="playlist"]', { hasText: "Road Trip Mix" }).click();
    await expect.poll(() => page.getByLabel("Playlist name").inputValue()).toBe("Road Trip Mix");
  }, 60_000);

  it("reorders a playlist by dragging, and the new order is the server's after a reload", async () => {
    const playlistId = /#\/playlist\/([^/?]+)/.exec(page.url())![1]!;
    const rows = page.locator(".tracks .track-main .title");
    const titles = async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]);
    await expect.poll(titles).toEqual(["Disc 1 Song 2", "Disc 1 Song 1", "Disc 2 Song 1"]);
    const expected = ["Disc 2 Song 1", "Disc 1 Song 2", "Disc 1 Song 1"];
    const row = (title: string) => page.locator(".tracks li", { hasText: title });
    await row("Disc 2 Song 1").dragTo(row("Disc 1 Song 2"));
    // Shown at once (the drop was taken as a move, not a click), and the drag is over: no row is a drop target.
    expect(await titles()).toEqual(expected);
    await page.locator(".tracks li[data-drop-target]").waitFor({ state: "detached" });
    // "saving…" may come and go before anyone looks, so waiting for it to vanish proves nothing: wait until the
    // server holds the new order, as another device sees it, before reloading.
    await expectServerOrder(playlistId, expected);
    await page.reload();
    await expect.poll(titles).toEqual(expected);
  }, 30_000);

  it("keeps an edit made while the server is down across a reload, and sends it once the server is back", async () => {
    const playlistId = /#\/playlist\/([^/?]+)/.exec(page.url())![1]!;
    const rows = page.locator(".tracks .track-main .title");
    const titles = async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]);
    const expected = ["Disc 1 Song 1", "Disc 2 Song 1", "Disc 1 Song 2"];
    await server!.close();
    server = undefined;
    await page.getByText("Connection lost: reconnecting…").waitFor();
    await page.locator(".tracks li", { hasText: "Disc 1 Song 1" }).dragTo(page.locator(".tracks li").first());
    expect(await titles()).toEqual(expected);
    await page.getByText("saving…").waitFor();
    await page.reload();
    await page.getByText("Offline: music you made available offline still plays").waitFor();
    server = await start();
    // Back online by itself, on the same page: the kept edit is sent, and the server holds it.
    await page
      .getByText("Offline: music you made available offline still plays")
      .waitFor({ state: "detached", timeout: 20_000 });
    await expectServerOrder(playlistId, expected);
    await expect.poll(titles).toEqual(expected);
    await page.getByText("saving…").waitFor({ state: "detached" });
  }, 60_000);

  it("keeps a pinned playlist's offline copy in step with edits made elsewhere, pushed or missed while closed", async () => {
    const playlistUrl = page.url();
    const playlistId = /#\/playlist\/([^/?]+)/.exec(playlistUrl)![1]!;
    await page.getByRole("button", { name: "More playlist actions" }).click();
    await page.getByRole("menuitemcheckbox", { name: "Make available offline" }).click();
    // The closed menu keeps the item (hidden); the heading says so too.
    await page.locator('[data-offline="ready"]').waitFor({ state: "attached", timeout: 20_000 });
    await page.locator("section p.muted", { hasText: "available offline" }).waitFor();
    expect(await pinnedCount()).toBe(3);
    const other = await otherDevice();
    try {
      const edit = async (opId: string, operation: PlaylistOperation) => {
        const { playlist } = await other.call(playlistContract, "get", { playlistId });
        await other.call(playlistContract, "edit", {
          playlistId,
          baseRevision: playlist.revision,
          operations: [{ opId, operation }],
        });
      };
      const { hits } = await other.call(searchContract, "query", {
        q: "Sunny",
        kinds: ["track"],
      });
      const sunny = hits.find((hit) => hit.title === "Sunny")!;
      // Added on another device while this app is open: the push brings it, and it is downloaded and pinned.
      await edit("e2e-add-sunny", {
        type: "insert",
        afterItemId: "end",
        items: [{ itemId: "e2e-item-sunny", trackId: sunny.id }],
      });
      await expect.poll(pinnedCount, { timeout: 15_000 }).toBe(4);
      // Removed while the app is closed: seen when it opens again, and unpinned (left to the LRU).
      await page.goto("about:blank");
      await edit("e2e-remove-sunny", { type: "remove", itemIds: ["e2e-item-sunny"] });
      await page.goto(playlistUrl);
      await expect.poll(pinnedCount, { timeout: 15_000 }).toBe(3);
    } finally {
      await other.close();
    }
  }, 60_000);

  it("imports an M3U file with a report of what did not match, exports it, and changes its cover", async () => {
    await page.getByRole("button", { name: "Playlists", exact: true }).click();
    const importInput = page.getByLabel("Import a playlist file (M3U, M3U8 or XSPF)");
    // A file that is not what its name says is refused with the server's reason, and makes nothing.
    await importInput.setInputFiles({
      name: "notes.xspf",
      mimeType: "application/xspf+xml",
      buffer: Buffer.from("just some notes"),
    });
    await page
      .getByRole("alert")
      .filter({ hasText: "Could not import notes.xspf: Not an XSPF playlist" })
      .waitFor();
    const m3u = [
      "#EXTM3U",
      "#EXTINF:1,The Testers - Disc 1 Song 1",
      "The Testers/Double Album/CD1/01 Disc 1 Song 1.mp3",
      "#EXTINF:1,Alpha - Sunny",
      "D:\\Old PC\\Music\\sunny (renamed).ogg",
      "#EXTINF:200,Nobody - Not In The Library",
      "elsewhere/missing.mp3",
    ].join("\r\n");
    await importInput.setInputFiles({
      name: "Imported Mix.m3u",
      mimeType: "audio/x-mpegurl",
      buffer: Buffer.from(m3u),
    });
    const report = page.locator(".import-report");
    await expect
      .poll(() => report.innerText())
      .toMatch(
        /Made Imported Mix from the file: 2 of 3 entries matched \(1 by path, 1 by artist and title\)/,
      );
    expect(await report.innerText()).toContain("#3: Nobody – Not In The Library · elsewhere/missing.mp3");
    await page.screenshot({ path: join(screenshots, "playlist-import.png") });
    await report.getByRole("link", { name: "Imported Mix" }).click();
    const rows = page.locator(".tracks .track-main .title");
    await expect
      .poll(async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]))
      .toEqual(["Disc 1 Song 1", "Sunny"]);

    // Exported as files the browser downloads, with paths relative to the library folders.
    const more = page.getByRole("button", { name: "More playlist actions" });
    const exported = async (item: string) => {
      await more.click();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("menuitem", { name: item }).click(),
      ]);
      return { name: download.suggestedFilename(), text: readFileSync(await download.path(), "utf8") };
    };
    const m3u8 = await exported("Export M3U8");
    expect(m3u8.name).toBe("Imported Mix.m3u8");
    expect(m3u8.text).toContain("The Testers/Double Album/CD1/01 Disc 1 Song 1.mp3");
    expect(m3u8.text).toContain("Compilations/Summer Hits/01 Sunny.ogg");
    const xspf = await exported("Export XSPF");
    expect(xspf.name).toBe("Imported Mix.xspf");
    expect(xspf.text).toMatch(/<title>Sunny<\/title>/);

    // A 1×1 PNG as the cover: stored as a JPEG and shown; then back to the mosaic.
    await page.getByLabel("Upload a cover image (JPEG, PNG or WebP)").setInputFiles({
      name: "cover.png",
      mimeType: "image/png",
      buffer: Buffer.from(onePixelPng, "base64"),
    });
    const removeCover = page.locator('[role="menuitem"]', { hasText: "Remove cover" });
    await removeCover.waitFor({ state: "attached" });
    await page.waitForFunction(() => {
      const image = document.querySelector<HTMLImageElement>(".playlist-cover img");
      return !!image && image.complete && image.naturalWidth === 300;
    });
    await page.screenshot({ path: join(screenshots, "playlist-cover.png") });
    await more.click();
    await removeCover.click();
    await removeCover.waitFor({ state: "detached" });
  }, 60_000);

  it("makes a smart playlist from rules, which its owner changes and nobody edits by hand", async () => {
    await page.getByRole("button", { name: "Playlists", exact: true }).click();
    await page.getByRole("button", { name: "New smart playlist" }).click();
    const form = page.getByRole("form", { name: "Smart playlist rules" });
    await form.getByLabel("Name").fill("Pop picks");
    // The library's genres are offered as toggles; picking one fills the field.
    const genreToggle = form.getByRole("group", { name: "Genres in the library" }).getByRole("button", {
      name: "Pop",
      exact: true,
    });
    await genreToggle.click();
    expect(await genreToggle.getAttribute("aria-pressed")).toBe("true");
    expect(await form.getByLabel("Genres", { exact: true }).inputValue()).toBe("Pop");
    await form.getByLabel("Order").selectOption("title");
    await page.screenshot({ path: join(screenshots, "smart-playlist-new.png") });
    await form.getByRole("button", { name: "Create smart playlist" }).click();
    await page.getByRole("heading", { name: "Pop picks" }).waitFor();
    const rows = page.locator(".tracks .track-main .title");
    const titles = async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]);
    await expect.poll(titles).toEqual(["Breezy", "Sunny"]);
    expect(await page.getByTestId("smart-rules").innerText()).toContain("Pop · ordered by title");
    // Its items follow the rules: no moving, removing or renaming by hand.
    expect(await page.locator(".tracks .remove, .tracks .row-actions, .title-input").count()).toBe(0);
    await page.getByRole("button", { name: "Edit rules" }).click();
    await form.getByLabel("Genres", { exact: true }).fill("Jazz");
    // Artists are suggested from the library as their name is typed.
    await form.getByLabel("Artists", { exact: true }).fill("solo ar");
    await form
      .getByRole("group", { name: "Matching artists" })
      .getByRole("button", { name: "Solo Artist" })
      .click();
    expect(await form.getByLabel("Artists", { exact: true }).inputValue()).toBe("Solo Artist, ");
    await form.getByRole("button", { name: "Save rules" }).click();
    await expect.poll(titles).toEqual(["Only Song"]);
    expect(await page.getByTestId("smart-rules").innerText()).toContain("Jazz · by Solo Artist");
    await page.screenshot({ path: join(screenshots, "smart-playlist.png") });
  }, 60_000);

  it("answers invitations to collaborate, blocks and unblocks their sender, and invites from the playlist page", async () => {
    const admin = await otherDevice();
    await admin.call(userContract, "createUser", { name: "guest", password: "guest password" });
    await admin.close();
    const guest = await WsClient.connect(server!.url, await login(server!.url, "guest", "guest password"));
    try {
      const make = async (name: string) =>
        (await guest.call(playlistContract, "create", { name })).playlist.id;
      const shared = await make("Guest Mix");
      await page.getByRole("button", { name: "Playlists", exact: true }).click();
      await guest.call(playlistContract, "invite", { playlistId: shared, userName: "admin" });
      // Pushed to the open page; accepted, the playlist joins the list.
      const invitations = page.getByRole("list", { name: "Invitations" });
      await invitations.getByText("guest invites you to collaborate on Guest Mix").waitFor();
      await page.screenshot({ path: join(screenshots, "playlist-invitation.png") });
      await invitations.getByRole("button", { name: "Accept" }).click();
      await page.getByRole("link", { name: /Guest Mix/ }).waitFor();
      await invitations.waitFor({ state: "detached" });

      // Blocked from the invitation itself: it goes, and so does the next one, unseen; guest sees them waiting.
      const spam = await make("Spam");
      await guest.call(playlistContract, "invite", { playlistId: spam, userName: "admin" });
      await invitations.getByRole("button", { name: "Block guest" }).click();
      await invitations.waitFor({ state: "detached" });
      await guest.call(playlistContract, "invite", {
        playlistId: await make("More spam"),
        userName: "admin",
      });
      expect(await guest.call(playlistContract, "sentInvitations", { playlistId: spam })).toHaveLength(1);
      await page.getByRole("button", { name: "Settings" }).click();
      const blocked = page.getByRole("list", { name: "Blocked users" });
      await blocked.getByText("guest", { exact: true }).waitFor();
      await page.getByRole("button", { name: "Playlists", exact: true }).click();
      await page.getByRole("link", { name: /Guest Mix/ }).waitFor();
      expect(await invitations.count()).toBe(0);
      await page.getByRole("button", { name: "Settings" }).click();
      await blocked.getByRole("button", { name: "Unblock guest" }).click();
      await page.getByText("You block no one.").waitFor();

      // The owner's side: "Invite", the invitation waiting until guest accepts, then guest a collaborator.
      await page.getByRole("button", { name: "Playlists", exact: true }).click();
      await page.getByRole("link", { name: /Road Trip Mix/ }).click();
      await page.getByLabel("User name to invite").fill("guest");
      await page.getByRole("button", { name: "Invite", exact: true }).click();
      const waiting = page.getByRole("list", { name: "Waiting invitations" });
      await waiting.getByText("guest: invited, not answered yet").waitFor();
      const playlistId = /#\/playlist\/([^/?]+)/.exec(page.url())![1]!;
      await guest.call(playlistContract, "acceptInvitation", { playlistId });
      await waiting.waitFor({ state: "detached" });
      await page.getByRole("button", { name: "guest ✕" }).waitFor();
    } finally {
      await guest.close();
    }
  }, 60_000);

  it("keeps a playlist's rare actions in a More menu driven by keys, where Delete still asks, on a phone too", async () => {
    const other = await otherDevice();
    try {
      for (const [width, height] of [
        [1280, 800],
        [390, 844],
      ] as const) {
        await page.setViewportSize({ width, height });
        const name = `Throwaway ${width}`;
        const { playlist } = await other.call(playlistContract, "create", { name });
        await page.goto(`${server!.url}/#/playlist/${playlist.id}`);
        await expect.poll(() => page.getByLabel("Playlist name").inputValue()).toBe(name);
        await page.screenshot({ path: join(screenshots, `playlist-actions-${width}.png`) });
        // Play, Shuffle, Add to queue and More: in one row, within the screen.
        const row = page.getByRole("group", { name: "Playlist actions" });
        const boxes = await row.locator("button:visible").evaluateAll((buttons) =>
          buttons.map((button) => {
            const { top, bottom, right } = button.getBoundingClientRect();
            return { name: button.textContent, top, bottom, right };
          }),
        );
        expect(boxes.map((box) => box.name)).toEqual(["Play", "Shuffle", "Add to queue", "More ▾"]);
        // One line: every button starts before any ends, and none passes the screen's edge.
        expect(Math.max(...boxes.map((box) => box.top))).toBeLessThan(
          Math.min(...boxes.map((box) => box.bottom)),
        );
        expect(Math.max(...boxes.map((box) => box.right))).toBeLessThanOrEqual(width);

        // The keyboard: Enter opens at the first item, arrows and End move (wrapping), Escape returns to More.
        const more = page.getByRole("button", { name: "More playlist actions" });
        const focused = () => page.evaluate(() => document.activeElement?.textContent ?? "");
        expect(await more.getAttribute("aria-haspopup")).toBe("menu");
        await more.focus();
        await page.keyboard.press("Enter");
        expect(await more.getAttribute("aria-expanded")).toBe("true");
        const menu = page.getByRole("menu", { name: "More playlist actions" });
        // Opened (the first item has focus), then measured.
        await expect.poll(focused).toBe("Make available offline");
        const menuBox = (await menu.boundingBox())!;
        expect(menuBox.x).toBeGreaterThanOrEqual(0);
        expect(menuBox.x + menuBox.width).toBeLessThanOrEqual(width);
        // Scrolled into sight whole, above the player bar.
        const barTop = (await page.locator(".player-bar").boundingBox())!.y;
        expect(menuBox.y + menuBox.height).toBeLessThanOrEqual(barTop);
        await page.screenshot({ path: join(screenshots, `playlist-menu-${width}.png`) });
        await page.keyboard.press("ArrowDown");
        expect(await focused()).toBe("Export M3U8");
        await page.keyboard.press("End");
        expect(await focused()).toBe("Delete…");
        await page.keyboard.press("ArrowDown");
        expect(await focused()).toBe("Make available offline");
        await page.keyboard.press("Escape");
        await menu.waitFor({ state: "hidden" });
        expect(await more.getAttribute("aria-expanded")).toBe("false");
        expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe(
          "More playlist actions",
        );
        // Tab leaves the open menu and closes it.
        await page.keyboard.press("ArrowDown");
        await expect.poll(focused).toBe("Make available offline");
        await page.keyboard.press("Tab");
        await menu.waitFor({ state: "hidden" });

        // Delete asks first: refused, nothing goes; confirmed, the playlist is gone.
        const answer = (isSure: boolean) =>
          new Promise<string>((resolve) =>
            page.once("dialog", (dialog) => {
              resolve(dialog.message());
              void (isSure ? dialog.accept() : dialog.dismiss());
            }),
          );
        const declined = answer(false);
        await more.click();
        await page.getByRole("menuitem", { name: "Delete…" }).click();
        expect(await declined).toBe(`Delete the playlist "${name}"?`);
        // The chosen item closed the menu back onto its button.
        await menu.waitFor({ state: "hidden" });
        await expect
          .poll(() => page.evaluate(() => document.activeElement?.getAttribute("aria-label")))
          .toBe("More playlist actions");
        expect((await other.call(playlistContract, "get", { playlistId: playlist.id })).playlist.name).toBe(
          name,
        );
        const confirmed = answer(true);
        await more.click();
        await page.getByRole("menuitem", { name: "Delete…" }).click();
        await confirmed;
        await page.waitForURL(/#\/playlists/);
        await expect(other.call(playlistContract, "get", { playlistId: playlist.id })).rejects.toThrow();
      }
    } finally {
      await other.close();
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  }, 60_000);

  it("returns to sign-in with the reason when the session is ended elsewhere, and signs in again", async () => {
    const cookie = (await context.cookies()).find((c) => /session/i.test(c.name));
    expect(cookie).toBeDefined();
    // Signed out from another device: the same session ended through the API, not by this page.
    const response = await fetch(`${server!.url}/api/logout`, {
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
    await server!.close();
    server = undefined;
    await page.getByText("Connection lost: reconnecting…").waitFor();
    const whileDown = await audioTime();
    await waitForTime(whileDown + 1);
    server = await start();
    await page.getByText("Connection lost: reconnecting…").waitFor({ state: "detached", timeout: 20_000 });
    // 75 s is past the 60 s the player fetched ahead before the restart: these pieces come from the new server.
    await seekTo(75);
    await waitForTime(76, 20_000);
  }, 90_000);

  it("starts a track chosen while the server is down as soon as the server is back", async () => {
    await openAlbum("Ágætis byrjun");
    await server!.close();
    server = undefined;
    await playRow("Starálfur");
    await page.getByText("The server cannot be reached: retrying…").waitFor({ timeout: 10_000 });
    server = await start();
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
    await server!.close();
    server = undefined;
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

  it("raised no uncaught error in the page through the whole session", () => {
    expect(pageErrors).toEqual([]);
  });
});
