// The cold path in Chromium: a long track the server has never transcoded sounds while its manifest is still growing,
// the play button and the row show that it is loading, and a track whose file is corrupt says why it cannot play.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page, type Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  chromiumArgs,
  chromiumPath,
  requireChromium,
  startServer,
  writeToneSync,
  type TestServer,
} from "@soundmesh/test-kit";

const hasChromium = requireChromium("cold-start tests");

let server: TestServer | undefined;
let library: string;
let context: BrowserContext;
let page: Page;
let profileDir: string;
const pageErrors: string[] = [];

const trackRow = (title: string) => page.locator(".tracks li", { hasText: title }).first();

describe.skipIf(!hasChromium)("cold start in Chromium", () => {
  beforeAll(async () => {
    library = mkdtempSync(join(tmpdir(), "soundmesh-cold-"));
    const album = join(library, "Cold Album");
    mkdirSync(album, { recursive: true });
    const tags = (title: string, track: number) => ({
      title,
      artist: "Cold Player",
      album: "Cold Album",
      track: String(track),
    });
    // Eight minutes: its transcode takes seconds even on a quiet machine, far longer than the first piece.
    writeToneSync(join(album, "01 Eight Minutes.flac"), {
      frequency: 330,
      seconds: 480,
      codec: ["-c:a", "flac"],
      tags: tags("Eight Minutes", 1),
    });
    writeToneSync(join(album, "02 Broken.flac"), {
      frequency: 440,
      seconds: 5,
      codec: ["-c:a", "flac"],
      tags: tags("Broken", 2),
    });
    // Nothing is transcoded ahead: every click is the cold path.
    server = await startServer({
      libraryFolders: [library],
      overrides: { transcode: { maxConcurrent: 2, maxPerUser: 4, maxQueued: 64, ahead: [] } },
    });
    profileDir = mkdtempSync(join(tmpdir(), "soundmesh-chromium-cold-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      args: [...chromiumArgs],
      headless: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (error) => pageErrors.push(`${error.name}: ${error.message}`));
    await page.goto(server.url);
    await page.getByPlaceholder("User name").fill("admin");
    await page.getByPlaceholder("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("Cold Album");
    await page
      .locator('button[data-kind="album"]', { hasText: "Cold Album" })
      .first()
      .waitFor({ timeout: 30_000 });
    await page.locator('button[data-kind="album"]', { hasText: "Cold Album" }).first().click();
    await page.getByRole("heading", { name: "Cold Album" }).waitFor();
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    for (const dir of [profileDir, library]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("sounds on a never-transcoded long track while its manifest is still growing, showing Loading until then", async () => {
    // The first manifest answer is held until the loading state has been seen; later ones pass.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let manifestPath: string | undefined;
    const hold = async (route: Route) => {
      if (manifestPath === undefined) {
        manifestPath = new URL(route.request().url()).pathname;
        await held;
      }
      await route.continue();
    };
    await page.route("**/api/stream/**/manifest*", hold);
    await trackRow("Eight Minutes").locator(".track-main").click();
    await trackRow("Eight Minutes").getByRole("img", { name: "Loading" }).waitFor();
    await page.locator(".player-bar").getByRole("button", { name: "Loading" }).waitFor();
    release();
    await page.waitForFunction(
      () => {
        const audio = document.querySelector("audio");
        return !!audio && !audio.paused && audio.currentTime > 0.2;
      },
      undefined,
      { timeout: 30_000 },
    );
    // Asked at the moment sound is heard: the transcode has not finished, so the whole wait was not paid.
    const state = await page.evaluate(async (path) => {
      const response = await fetch(`${path}?havePieces=0`);
      return (await response.json()) as { complete: boolean; pieceCount: number; durationMs: number };
    }, manifestPath!);
    expect(state.complete).toBe(false);
    expect(state.pieceCount).toBeGreaterThan(0);
    // While growing, the duration is the catalog's (the whole eight minutes), not that of the pieces so far.
    expect(state.durationMs).toBeGreaterThan(470_000);
    await page.locator(".player-bar").getByRole("button", { name: "Pause" }).waitFor();
    expect(await trackRow("Eight Minutes").getByRole("img", { name: "Loading" }).count()).toBe(0);
    await page.unroute("**/api/stream/**/manifest*", hold);
  }, 90_000);

  it("says on the row and in the player bar why a track whose file is corrupt cannot be played", async () => {
    // The catalog read it when it was sound; its bytes are now garbage, as a damaged disk would leave them.
    writeFileSync(
      join(library, "Cold Album", "02 Broken.flac"),
      Buffer.from("fLaC not really ".repeat(4_000)),
    );
    await page.evaluate(() => document.querySelector("audio")?.pause());
    await trackRow("Broken").locator(".track-main").click();
    await trackRow("Broken")
      .locator(".row-error")
      .filter({ hasText: "The track cannot be decoded" })
      .waitFor({
        timeout: 30_000,
      });
    await expect
      .poll(() => page.locator(".player-bar [role=alert]").allInnerTexts(), { timeout: 10_000 })
      .toEqual([expect.stringContaining("The track cannot be decoded")]);
  }, 60_000);

  it("raised no uncaught error in the page", () => {
    expect(pageErrors).toEqual([]);
  });
});
