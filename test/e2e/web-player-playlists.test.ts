// The web player in Debian's headless Chromium against a real server: playlists made, reordered, edited offline, pinned
// and following edits made elsewhere, imported and exported, smart, shared by invitation, and the More menu. No test
// depends on another or on their order: each signs in afresh and makes the playlists it uses (checked with
// `--sequence.shuffle`). One part of the web player's suite (test/e2e/web-player-*.test.ts): its own server and profile.
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WsClient, login } from "@soundmesh/test-kit";
import { requireChromium, signIn } from "@soundmesh/test-kit/browser";
import {
  catalogContract,
  eventsContract,
  playlistContract,
  searchContract,
  userContract,
  type PlaylistOperation,
} from "@soundmesh/protocol";
import { adminName, adminPassword, screenshots, startWebPlayer, type WebPlayer } from "./web-player-harness";

const hasChromium = requireChromium("web player tests");
let player: WebPlayer;
let page: Page;
const openAlbum = (title: string) => player.openAlbum(title);
const otherDevice = () => player.otherDevice();

/** A 1×1 PNG, the smallest image a cover upload takes. */
const onePixelPng =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/** "N pinned for offline" from the stats page, opened afresh so it reads the cache's state now. */
async function pinnedCount(): Promise<number> {
  await page.getByRole("button", { name: "Home", exact: true }).click();
  await page.getByRole("button", { name: "Stats for nerds" }).click();
  const text = await page.locator(".stats").innerText();
  return Number(/(\d+) pinned for offline/.exec(text)?.[1] ?? NaN);
}

/**
 * Makes a playlist of these library songs (by title) on the server, as another device of the user would, and opens
 * it in the page once it shows all of them.
 */
async function openNewPlaylist(name: string, titles: string[]): Promise<string> {
  const other = await otherDevice();
  let playlistId: string;
  try {
    const trackIds: string[] = [];
    for (const title of titles) {
      const { hits } = await other.call(searchContract, "query", { q: title, kinds: ["track"] });
      const hit = hits.find((h) => h.title === title);
      if (!hit) throw new Error(`The fixture library has no song called ${title}`);
      trackIds.push(hit.id);
    }
    playlistId = (await other.call(playlistContract, "create", { name, trackIds })).playlist.id;
  } finally {
    await other.close();
  }
  await page.goto(`${player.url}/#/playlist/${playlistId}`);
  await expect.poll(() => page.getByLabel("Playlist name").inputValue()).toBe(name);
  await expect
    .poll(() => page.locator(".tracks .track-main .title").allInnerTexts())
    .toHaveLength(titles.length);
  return playlistId;
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

describe.skipIf(!hasChromium)("web player in Chromium: playlists", () => {
  beforeAll(async () => {
    player = await startWebPlayer("signed-in");
    page = player.page;
    await player.libraryScanned();
  }, 120_000);

  afterAll(async () => {
    await player?.close();
  });

  // Each test starts signed out of the last one's session, at the home page, and signs in with the form.
  beforeEach(async () => {
    await page.context().clearCookies();
    await signIn(page, player.url, adminName, adminPassword);
  }, 30_000);

  // No uncaught error in the page during any test.
  afterEach(() => {
    expect(player.pageErrors).toEqual([]);
  });

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
    const playlistId = await openNewPlaylist("Drag Mix", ["Disc 1 Song 2", "Disc 1 Song 1", "Disc 2 Song 1"]);
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
    const playlistId = await openNewPlaylist("Offline Mix", [
      "Disc 2 Song 1",
      "Disc 1 Song 2",
      "Disc 1 Song 1",
    ]);
    const rows = page.locator(".tracks .track-main .title");
    const titles = async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]);
    const expected = ["Disc 1 Song 1", "Disc 2 Song 1", "Disc 1 Song 2"];
    await player.stopServer();
    await page.getByText("Connection lost: reconnecting…").waitFor();
    await page.locator(".tracks li", { hasText: "Disc 1 Song 1" }).dragTo(page.locator(".tracks li").first());
    expect(await titles()).toEqual(expected);
    await page.getByText("saving…").waitFor();
    await page.reload();
    await page.getByText("Offline: music you made available offline still plays").waitFor();
    await player.startServer();
    // Back online by itself, on the same page: the kept edit is sent, and the server holds it.
    await page
      .getByText("Offline: music you made available offline still plays")
      .waitFor({ state: "detached", timeout: 20_000 });
    await expectServerOrder(playlistId, expected);
    await expect.poll(titles).toEqual(expected);
    await page.getByText("saving…").waitFor({ state: "detached" });
  }, 60_000);

  it("keeps a pinned playlist's offline copy in step with edits made elsewhere, pushed or missed while closed", async () => {
    const playlistId = await openNewPlaylist("Pinned Mix", [
      "Disc 1 Song 1",
      "Disc 1 Song 2",
      "Disc 2 Song 1",
    ]);
    const playlistUrl = page.url();
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

  it("makes a smart playlist from the owner's listening (rating, plays) in the editor, and follows new plays", async () => {
    const other = await otherDevice();
    try {
      const idOf = async (title: string) => {
        const { hits } = await other.call(searchContract, "query", { q: title, kinds: ["track"] });
        const hit = hits.find((h) => h.title === title);
        if (!hit) throw new Error(`The fixture library has no song called ${title}`);
        return hit.id;
      };
      const [breezy, sunny, onlySong] = [await idOf("Breezy"), await idOf("Sunny"), await idOf("Only Song")];
      // Plays heard whole, as the player reports them (ids made by the client, times now).
      const play = async (trackId: string, times: number) => {
        const events = Array.from({ length: times }, () => ({
          v: 1,
          id: randomUUID(),
          at: Date.now(),
          trackId,
          type: "play.ended",
          playedMs: 60_000,
          durationMs: 60_000,
          reason: "finished",
        }));
        expect((await other.call(eventsContract, "submit", { events })).accepted).toBe(times);
      };
      await play(sunny, 2);
      await play(breezy, 1);
      await other.call(eventsContract, "setRating", { kind: "track", id: onlySong, rating: 5 });
      await other.call(eventsContract, "setRating", { kind: "track", id: breezy, rating: 4 });

      await page.getByRole("button", { name: "Playlists", exact: true }).click();
      await page.getByRole("button", { name: "New smart playlist" }).click();
      const form = page.getByRole("form", { name: "Smart playlist rules" });
      await form.getByLabel("Name").fill("Loved and played");
      await form.getByLabel("Rated at least").selectOption("4");
      await form.getByLabel("Order").selectOption("title");
      await form.getByRole("button", { name: "Create smart playlist" }).click();
      await page.getByRole("heading", { name: "Loved and played" }).waitFor();
      const rows = page.locator(".tracks .track-main .title");
      const titles = async () => (await rows.allInnerTexts()).map((text) => text.split("\n")[0]);
      await expect.poll(titles).toEqual(["Breezy", "Only Song"]);
      expect(await page.getByTestId("smart-rules").innerText()).toContain("rated ★★★★ or more");

      // Plays instead of ratings: the editor shows the rules it has, and takes the change.
      await page.getByRole("button", { name: "Edit rules" }).click();
      expect(await form.getByLabel("Rated at least").inputValue()).toBe("4");
      await form.getByLabel("Rated at least").selectOption("");
      await form.getByLabel("Played at least (times)").fill("2");
      await form.getByRole("button", { name: "Save rules" }).click();
      await expect.poll(titles).toEqual(["Sunny"]);
      expect(await page.getByTestId("smart-rules").innerText()).toContain("played at least 2 times");

      // Listening elsewhere changes what it holds, without a reload.
      await play(breezy, 1);
      await expect.poll(titles, { timeout: 20_000 }).toEqual(["Breezy", "Sunny"]);
      await page.screenshot({ path: join(screenshots, "smart-playlist-listening.png") });
    } finally {
      await other.close();
    }
  }, 90_000);

  it("answers invitations to collaborate, blocks and unblocks their sender, and invites from the playlist page", async () => {
    const admin = await otherDevice();
    await admin.call(userContract, "createUser", { name: "guest", password: "guest password" });
    await admin.close();
    const guest = await WsClient.connect(player.url, await login(player.url, "guest", "guest password"));
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
      const playlistId = await openNewPlaylist("Invite Mix", ["Disc 1 Song 1"]);
      await page.getByLabel("User name to invite").fill("guest");
      await page.getByRole("button", { name: "Invite", exact: true }).click();
      const waiting = page.getByRole("list", { name: "Waiting invitations" });
      await waiting.getByText("guest: invited, not answered yet").waitFor();
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
        await page.goto(`${player.url}/#/playlist/${playlist.id}`);
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
});
