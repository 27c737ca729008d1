// The cold path in Chromium: a long track the server has never transcoded sounds while its manifest is still growing,
// the play button and the row show that it is loading, and a track whose file is corrupt says why it cannot play.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page, type Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeToneSync } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { chromiumArgs, chromiumPath, requireChromium } from "@soundmesh/test-kit/browser";

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
    // Ten minutes, for a seek to three quarters of a track the server has never transcoded. The broken track comes
    // last: skipping it ends the queue, so its error stays on screen.
    writeToneSync(join(album, "02 Ten Minutes.flac"), {
      frequency: 550,
      seconds: 600,
      codec: ["-c:a", "flac"],
      tags: tags("Ten Minutes", 2),
    });
    writeToneSync(join(album, "03 Broken.flac"), {
      frequency: 440,
      seconds: 5,
      codec: ["-c:a", "flac"],
      tags: tags("Broken", 3),
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

  it("plays a seek to three quarters of a never-transcoded track from there, while the whole rendition is still made", async () => {
    // The growing manifest's updates are held back: to the player the transcode is still near the start, however
    // fast this machine makes it, so the seek is past what it has reached.
    let releaseGrowth: () => void = () => undefined;
    const growthHeld = new Promise<void>((resolve) => (releaseGrowth = resolve));
    const offsetAsked: string[] = [];
    let wholePath: string | undefined;
    const holdGrowth = async (route: Route) => {
      const url = new URL(route.request().url());
      if (url.pathname.includes("/from/")) offsetAsked.push(url.pathname);
      else if (url.searchParams.get("havePieces") === "0") wholePath ??= url.pathname;
      else if (Number(url.searchParams.get("havePieces") ?? 0) > 0) await growthHeld;
      // The player gives up a long-poll of the rendition it leaves for the offset one: that request is gone.
      await route.continue().catch(() => undefined);
    };
    await page.route("**/api/stream/**/manifest*", holdGrowth);
    try {
      await page.evaluate(() => document.querySelector("audio")?.pause());
      await trackRow("Ten Minutes").locator(".track-main").click();
      await page.waitForFunction(
        () => {
          const audio = document.querySelector("audio");
          return !!audio && !audio.paused && audio.currentTime > 0.2 && audio.currentTime < 10;
        },
        undefined,
        { timeout: 30_000 },
      );
      const decodedBefore = await page.evaluate(
        () =>
          (document.querySelector("audio") as HTMLAudioElement & { webkitAudioDecodedByteCount: number })
            .webkitAudioDecodedByteCount,
      );
      // The seek slider moved as a user would, to 450 s of 600.
      await page.evaluate(() => {
        const input = document.querySelector<HTMLInputElement>('input[aria-label="Seek"]')!;
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(input, "450");
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
      // It plays on from there: the clock moves past the seek point and more audio is decoded.
      await page.waitForFunction(
        (before) => {
          const audio = document.querySelector("audio") as HTMLAudioElement & {
            webkitAudioDecodedByteCount: number;
          };
          return (
            !audio.paused &&
            audio.currentTime > 451 &&
            audio.currentTime < 470 &&
            audio.webkitAudioDecodedByteCount > before
          );
        },
        decodedBefore,
        { timeout: 30_000 },
      );
      expect(offsetAsked.length).toBeGreaterThan(0);
      for (const path of offsetAsked) expect(path).toMatch(/\/opus96\/from\/450000\/manifest$/);
    } finally {
      releaseGrowth();
      await page.unroute("**/api/stream/**/manifest*", holdGrowth);
    }
    // The whole rendition was still made (for the cache and for peers), from its start.
    expect(wholePath).toBeDefined();
    const whole = await page.evaluate(async (path) => {
      const response = await fetch(path);
      return (await response.json()) as { complete: boolean; durationMs: number; fromMs?: number };
    }, wholePath!);
    expect(whole).toMatchObject({ complete: true });
    expect(whole.fromMs).toBeUndefined();
    expect(whole.durationMs).toBeGreaterThan(590_000);
    // Asking for it did not disturb the offset rendition being played.
    expect(await trackRow("Ten Minutes").locator(".row-error").count()).toBe(0);
    expect(await page.evaluate(() => document.querySelector("audio")!.currentTime)).toBeGreaterThan(451);
  }, 120_000);

  it("says on the row and in the player bar why a track whose file is corrupt cannot be played", async () => {
    // The catalog read it when it was sound; its bytes are now garbage, as a damaged disk would leave them.
    writeFileSync(
      join(library, "Cold Album", "03 Broken.flac"),
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
