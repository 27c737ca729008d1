// Nothing lost when the library looks different, as a person sees it in Chromium: a playlist item whose file went
// away stays, greyed and "Unavailable" with what it was, and heals when the file comes back; the admin page says why a
// scan stopped and lets the admin confirm a mass removal.
import { mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ScanStatus, TrackRecord } from "@soundmesh/protocol";
import { WsClient, setupAdmin, waitUntil, writeWav } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, type LaunchedChromium, signIn } from "@soundmesh/test-kit/browser";
import { catalogContract, playlistContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("library safety tests");
const work = mkdtempSync(join(tmpdir(), "soundmesh-keep-"));
const library = join(work, "music");
const parked = join(work, "parked");
const fileOf = (i: number) => `${String(i).padStart(2, "0")} Song.wav`;

let server: TestServer | undefined;
let chromium: LaunchedChromium | undefined;
let admin: WsClient;
let page: Page;
let playlistId: string;
let tracks: TrackRecord[];

/** Scans and waits until that scan has ended. */
async function scan(): Promise<ScanStatus> {
  const { scanId } = await admin.call(catalogContract, "scan", {});
  return waitUntil(
    () => admin.call(catalogContract, "scanStatus", {}),
    (status) => status.scanId === scanId && !status.running,
    30_000,
  );
}

const item = (title: string) => page.locator(".track-main", { hasText: title });

describe.skipIf(!hasChromium)("a library that looks different, in Chromium", () => {
  beforeAll(async () => {
    mkdirSync(join(library, "Keepers"), { recursive: true });
    mkdirSync(parked);
    for (let i = 1; i <= 12; i++)
      writeWav(join(library, "Keepers", fileOf(i)), {
        title: `Keeper ${i}`,
        artist: "The Safe Hands",
        album: "Keepers",
        seed: i,
        seconds: 2,
      });
    server = await startServer({ libraryFolders: [library] });
    const token = await setupAdmin(server.url);
    admin = await WsClient.connect(server.url, token);
    await waitUntil(
      () => admin.call(catalogContract, "scanStatus", {}),
      (status) => !status.running && status.added === 12,
      30_000,
    );
    const albums = await admin.call(catalogContract, "albums", {});
    tracks = (await admin.call(catalogContract, "album", { albumId: albums.items[0]!.id })).tracks;
    const created = await admin.call(playlistContract, "create", {
      name: "Keep these",
      trackIds: tracks.slice(0, 3).map((track) => track.id),
    });
    playlistId = created.playlist.id;
    await waitUntil(
      () =>
        admin.call(playlistContract, "trackSnapshots", {
          playlistId,
          trackIds: tracks.slice(0, 3).map((track) => track.id),
        }),
      (snapshots) => snapshots.length === 3,
    );
    chromium = await launchChromium({ viewport: { width: 1280, height: 800 } });
    page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    await signIn(page, server.url, "admin", "correct horse battery");
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await admin?.close();
    await chromium?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("greys out an item whose file went away, says what it was, skips it on play, and heals it", async () => {
    await page.goto(`${server!.url}/#/playlist/${playlistId}`);
    await item("Keeper 2").waitFor();
    // Pinned for offline: the pin follows the library too.
    await page.getByRole("button", { name: "More playlist actions" }).click();
    await page.getByRole("menuitemcheckbox", { name: "Make available offline" }).click();
    const heading = page.locator("section p.muted", { hasText: "available offline" });
    await heading.waitFor({ timeout: 30_000 });
    renameSync(join(library, "Keepers", fileOf(2)), join(parked, fileOf(2)));
    expect(await scan()).toMatchObject({ removed: 1, problem: null });
    // The page hears catalog.changed: the item stays, greyed, with its title, artist and album.
    const gone = item("Keeper 2");
    await expect.poll(() => gone.getAttribute("class")).toContain("unavailable");
    expect(await gone.innerText()).toMatch(/Keeper 2\s*The Safe Hands · Keepers · Unavailable/);
    expect(await gone.isDisabled()).toBe(true);
    await expect.poll(() => page.getByTestId("unavailable-count").innerText()).toContain("1 unavailable");
    // The offline pin keeps what can play and says what is missing.
    await expect.poll(() => heading.innerText()).toMatch(/available offline · 1 unavailable/);
    // Playing skips it: adding the playlist to the queue adds the two songs that can play.
    await page.getByRole("button", { name: "Add to queue", exact: true }).click();
    await page.goto(`${server!.url}/#/queue`);
    await expect
      .poll(() => page.locator("main .track-main .title").allInnerTexts())
      .toEqual([expect.stringContaining("Keeper 1"), expect.stringContaining("Keeper 3")]);
    await page.goto(`${server!.url}/#/playlist/${playlistId}`);
    await gone.waitFor();

    // The file comes back, renamed and in another folder: same id, so the item heals.
    mkdirSync(join(library, "Moved"));
    renameSync(join(parked, fileOf(2)), join(library, "Moved", "renamed.wav"));
    expect(await scan()).toMatchObject({ added: 1, removed: 0 });
    await expect.poll(() => gone.getAttribute("class")).not.toContain("unavailable");
    expect(await page.getByTestId("unavailable-count").count()).toBe(0);
  });

  it("says on the admin page why a scan stopped, and removes only once the admin confirms", async () => {
    for (let i = 3; i <= 12; i++) renameSync(join(library, "Keepers", fileOf(i)), join(parked, fileOf(i)));
    expect((await scan()).problem).toMatchObject({ code: "MASS_REMOVAL_REFUSED", wouldRemove: 10 });
    await page.locator("nav.sidebar").getByRole("button", { name: "Admin" }).click();
    const problem = page.getByTestId("scan-problem");
    await expect
      .poll(() => problem.innerText())
      .toMatch(/stopped and removed nothing: the scan would remove 10/);
    expect(await problem.getAttribute("data-code")).toBe("MASS_REMOVAL_REFUSED");
    expect((await admin.call(catalogContract, "albums", {})).total).toBe(1);
    await problem.getByRole("button", { name: "Remove 10 tracks that are gone" }).click();
    await waitUntil(
      () => admin.call(catalogContract, "scanStatus", {}),
      (status) => !status.running && status.removed === 10 && status.problem === null,
      30_000,
    );
    await expect.poll(() => problem.count()).toBe(0);
    await page.goto(`${server!.url}/#/playlist/${playlistId}`);
    await expect.poll(() => page.getByTestId("unavailable-count").innerText()).toContain("1 unavailable");
    await expect.poll(() => item("Keeper 3").getAttribute("class")).toContain("unavailable");
  });
});
