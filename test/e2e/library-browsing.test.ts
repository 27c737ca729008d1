// Browsing the real-world fixture library in Debian's headless Chromium: Artists and Albums in the navigation with
// their sort choices, a page for every credited artist (albums and "appears on"), album pages with disc headings,
// year and length, the player bar's links to each credited artist, search grouped by kind with a search hit added to a
// playlist in one click, and no request for a cover an album does not have.
import { join } from "node:path";
import type { Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRandomId } from "@soundmesh/playlist-model";
import {
  WsClient,
  generateRealWorldLibrary,
  setupAdmin,
  waitUntil,
  type RealWorldLibrary,
} from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, type LaunchedChromium, signIn } from "@soundmesh/test-kit/browser";
import { catalogContract, playlistContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("library browsing tests");
const screenshots = join(process.cwd(), "test-results", "screenshots");

let fixture: RealWorldLibrary;
let server: TestServer | undefined;
let chromium: LaunchedChromium | undefined;
let page: Page;
let adminToken: string;
/** Every answer to a cover request since the page first loaded. */
const coverResponses: Array<{ path: string; status: number }> = [];

const nav = (name: string) => page.locator("nav.sidebar").getByRole("button", { name, exact: true });

async function openAlbum(title: string): Promise<void> {
  await nav("Albums").click();
  await page.locator(".grid .card", { hasText: title }).first().click();
  await page.getByRole("heading", { name: title, level: 2 }).waitFor();
}

describe.skipIf(!hasChromium)("library browsing in Chromium", () => {
  beforeAll(async () => {
    fixture = await generateRealWorldLibrary();
    server = await startServer({ libraryFolders: [fixture.root] });
    adminToken = await setupAdmin(server.url);
    const admin = await WsClient.connect(server.url, adminToken);
    try {
      await waitUntil(
        () => admin.call(catalogContract, "scanStatus", {}),
        (status) => !status.running && status.added === fixture.audioFiles,
        30_000,
      );
    } finally {
      await admin.close();
    }
    chromium = await launchChromium({ viewport: { width: 1280, height: 800 } });
    page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    page.on("response", (response: Response) => {
      const { pathname } = new URL(response.url());
      if (pathname.startsWith("/api/cover/"))
        coverResponses.push({ path: pathname, status: response.status() });
    });
    await signIn(page, server.url, "admin", "correct horse battery");
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  it("lists every credited artist and every album from the navigation, sorted as chosen", async () => {
    await nav("Artists").click();
    const artists = page.locator(".artist-list li strong");
    await artists.first().waitFor();
    const names = await artists.allInnerTexts();
    // Track-only artists are artists too; the library folder's own name ("Music") is not one.
    expect(names).toEqual(expect.arrayContaining(["Ilse Varn", "Mara Lind", "Shiroux Dou", "Tomo"]));
    expect(names).not.toContain("Music");
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" })));
    await page.screenshot({ path: join(screenshots, "artists.png") });

    await nav("Albums").click();
    const cards = page.locator(".grid .card strong");
    await cards.first().waitFor();
    await page.getByLabel("Sort by").selectOption("year");
    // Newest first: Tide Lines was first released in 2015 (its tracks say 2019), Harbour Nights in 2012.
    await expect.poll(() => cards.allInnerTexts()).toEqual(expect.arrayContaining(["Tide Lines"]));
    await expect
      .poll(async () => (await cards.allInnerTexts()).slice(0, 2))
      .toEqual(["Tide Lines", "Harbour Nights"]);
    expect(await cards.count()).toBe(8);
    await page.screenshot({ path: join(screenshots, "albums.png") });
    // The choice is kept for the next visit.
    await nav("Home").click();
    await nav("Albums").click();
    await expect
      .poll(async () => (await cards.allInnerTexts()).slice(0, 2))
      .toEqual(["Tide Lines", "Harbour Nights"]);
    await expect(page.getByLabel("Sort by").inputValue()).resolves.toBe("year");
  });

  it("gives an artist credited only on tracks a page with the albums they appear on", async () => {
    await nav("Artists").click();
    await page.locator(".artist-list a", { hasText: "Mara Lind" }).click();
    await page.getByRole("heading", { name: "Mara Lind", level: 2 }).waitFor();
    const own = page.getByRole("region", { name: "Albums" });
    const appearsOn = page.getByRole("region", { name: "Appears on" });
    await expect.poll(() => own.locator(".card strong").allInnerTexts()).toEqual(["Duets"]);
    await expect.poll(() => appearsOn.locator(".card strong").allInnerTexts()).toEqual(["Tide Lines"]);
    await page.screenshot({ path: join(screenshots, "artist.png") });

    await nav("Artists").click();
    await page.locator(".artist-list a", { hasText: "Ilse Varn" }).click();
    await page.getByRole("heading", { name: "Ilse Varn", level: 2 }).waitFor();
    await expect.poll(() => appearsOn.locator(".card strong").allInnerTexts()).toEqual(["Sketches"]);
    expect(await own.count()).toBe(0);
  });

  it("shows an album's discs under headings, with its year and total length", async () => {
    await openAlbum("Far Fields");
    await expect
      .poll(() => page.locator(".tracks .section-heading").allInnerTexts())
      .toEqual(["Disc 1", "Disc 2"]);
    expect(await page.locator(".tracks .track-main .title").count()).toBe(4);
    await page.screenshot({ path: join(screenshots, "album-discs.png") });

    await openAlbum("Tide Lines");
    // One album although two tracks lack the album-artist tag; the most common year and genre; 5.6 s in all.
    await expect(page.getByTestId("album-details").innerText()).resolves.toBe(
      "Shiroux Dou · 2015 · Ambient · 4 songs, 6 s",
    );
    expect(await page.locator(".tracks .section-heading").count()).toBe(0);
  });

  it("links the player bar to each artist the playing track credits", async () => {
    await openAlbum("Sketches");
    await page.locator(".track-main", { hasText: "Draft" }).click();
    await page.getByTestId("now-title").filter({ hasText: "Draft" }).waitFor();
    const credits = page.getByTestId("now-artists").locator("a");
    await expect.poll(() => credits.allInnerTexts()).toEqual(["Tomo", "Ilse Varn"]);
    await credits.filter({ hasText: "Ilse Varn" }).click();
    await page.getByRole("heading", { name: "Ilse Varn", level: 2 }).waitFor();
    await page.evaluate(() => document.querySelector("audio")?.pause());
  });

  it("searches by kind, finds a short word with a typo, and says plainly when nothing matches", async () => {
    await nav("Search").click();
    await page.getByLabel("Search").fill("shiroux duo");
    const artistHits = page.getByRole("region", { name: "Artists" }).locator('button[data-kind="artist"]');
    await expect.poll(() => artistHits.allInnerTexts()).toEqual([expect.stringContaining("Shiroux Dou")]);
    await page.getByLabel("Search").fill("tide");
    await page.getByRole("region", { name: "Albums" }).getByText("Tide Lines").waitFor();
    await page.getByRole("region", { name: "Songs" }).getByText("Spring Tide").waitFor();
    await page.screenshot({ path: join(screenshots, "search-groups.png") });
    await page.getByLabel("Search").fill("zzqqxx");
    await page.getByRole("status").filter({ hasText: "Nothing matches “zzqqxx”." }).waitFor();
    expect(await page.locator(".hit-group").count()).toBe(0);
  });

  it("adds a search hit to a playlist in one click, offering the playlist last added to first", async () => {
    await nav("Search").click();
    await page.getByLabel("Search").fill("tide");
    const songs = page.getByRole("region", { name: "Songs" });
    const addHit = async (title: string, choose: string, newName?: string) => {
      // One click opens the picker.
      await songs.getByRole("button", { name: `Add ${title} to a playlist` }).click();
      const items = page.getByRole("menuitem");
      await items.filter({ hasText: "New playlist…" }).waitFor();
      const offered = await items.allInnerTexts();
      if (newName) page.once("dialog", (dialog) => void dialog.accept(newName));
      await items.filter({ hasText: choose }).click();
      await page
        .getByRole("status")
        .filter({ hasText: `Added to ${newName ?? choose}` })
        .first()
        .waitFor();
      return offered;
    };
    await addHit("Spring Tide", "New playlist…", "Beach");
    await addHit("Low Water", "New playlist…", "Night");
    // Night, made last, was last added to.
    expect(await addHit("Slack", "Beach")).toEqual(["Night", "Beach", "New playlist…"]);
    // Night changes elsewhere after Beach was used here: Beach, last added to in this browser, still comes first.
    const admin = await WsClient.connect(server!.url, adminToken);
    try {
      const lists = await admin.call(playlistContract, "list", {});
      const night = lists.find((p) => p.name === "Night")!;
      await admin.call(playlistContract, "edit", {
        playlistId: night.id,
        baseRevision: night.revision,
        operations: [{ opId: newRandomId(), operation: { type: "rename", name: "Night Swim" } }],
      });
      expect(await addHit("Neap", "Beach")).toEqual(["Beach", "Night Swim", "New playlist…"]);
      const beach = (await admin.call(playlistContract, "list", {})).find((p) => p.name === "Beach")!;
      const snapshot = await admin.call(playlistContract, "get", {
        playlistId: beach.id,
      });
      expect(snapshot.items).toHaveLength(3);
    } finally {
      await admin.close();
    }
  });

  it("asks for no cover an album does not have, over several track changes", async () => {
    const title = page.getByTestId("now-title");
    /** A track change from the album page: the row played, and the player bar showing it. */
    const play = async (track: string) => {
      await page.locator(".track-main", { hasText: track }).click();
      await title.filter({ hasText: track }).waitFor();
    };
    // An album without art: four track changes, and the player bar shows the placeholder.
    await openAlbum("Tide Lines");
    for (const track of ["Low Water", "Spring Tide", "Slack", "Neap"]) await play(track);
    await page.locator(".player-bar .cover.placeholder").waitFor();
    // An album with art: its cover is asked for and shown, on its page and in the player bar.
    await openAlbum("Duets");
    for (const track of ["Together", "Alone"]) await play(track);
    await page.locator(".player-bar img.cover").waitFor();
    await page.evaluate(() => document.querySelector("audio")?.pause());
    await expect.poll(() => coverResponses.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect(coverResponses.filter((r) => r.status !== 200 && r.status !== 304)).toEqual([]);
    expect(new Set(coverResponses.map((r) => r.path.split("/")[3]))).toHaveProperty("size", 1);
  });
});
