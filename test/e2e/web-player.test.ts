// The web player in Debian's headless Chromium against a real server: first-run set-up, browse, search, play, stats.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateFixtureLibrary, startServer, type TestServer } from "@soundmesh/test-kit";

const chromiumPath = "/usr/bin/chromium";
const hasChromium = spawnSync(chromiumPath, ["--version"], { stdio: "ignore" }).status === 0;
if (!hasChromium && process.env.CI) throw new Error("Chromium is required in CI (apt-get install chromium)");
if (!hasChromium)
  console.warn("\n*** Chromium not found: web player tests SKIPPED (apt-get install chromium) ***\n");

const screenshots = join(process.cwd(), "test-results", "screenshots");
let server: TestServer;
let context: BrowserContext;
let page: Page;
let profileDir: string;

describe.skipIf(!hasChromium)("web player in Chromium", () => {
  beforeAll(async () => {
    execFileSync("npm", ["run", "build", "--workspace", "@soundmesh/web"], { stdio: "ignore" });
    const fixture = await generateFixtureLibrary();
    server = await startServer({ libraryFolders: [fixture.root] });
    profileDir = mkdtempSync(join(tmpdir(), "soundmesh-chromium-"));
    mkdirSync(screenshots, { recursive: true });
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
      ],
      viewport: { width: 1280, height: 800 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it("sets up the first admin, lists albums with covers, finds a track as you type and plays it", async () => {
    await page.goto(server.url);
    await page.getByPlaceholder("User name").fill("admin");
    await page.getByPlaceholder("Password").fill("correct horse battery");
    await page.screenshot({ path: join(screenshots, "sign-in.png") });
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByRole("heading", { name: "Recently added" }).waitFor();
    await page.getByText("Ágætis byrjun").first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(screenshots, "home.png") });

    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("svefn");
    const hit = page.locator('button[data-kind="track"]', { hasText: "Svefn-g-englar" });
    await hit.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(screenshots, "search.png") });
    await hit.click();

    await page.getByTestId("now-title").filter({ hasText: "Svefn-g-englar" }).waitFor();
    await page.waitForFunction(() => (document.querySelector("audio")?.currentTime ?? 0) > 0.5, undefined, {
      timeout: 15_000,
    });
    await page.screenshot({ path: join(screenshots, "playing.png") });

    await page.getByRole("button", { name: "Stats for nerds" }).click();
    const stats = await page.locator(".stats").innerText();
    expect(stats).toMatch(/server [1-9]\d*%/);
    expect(stats).toMatch(/start latency of the last plays: \d+ ms/);
    await page.screenshot({ path: join(screenshots, "stats.png") });
  }, 90_000);

  it("opens an album and plays it from a track, then the next track follows", async () => {
    await page.getByRole("button", { name: "Home" }).click();
    await page.getByText("Double Album").first().click();
    await page.getByRole("heading", { name: "Double Album" }).waitFor();
    await page.screenshot({ path: join(screenshots, "album.png") });
    await page.getByRole("button", { name: /Disc 1 Song 2/ }).click();
    await page.getByTestId("now-title").filter({ hasText: "Disc 1 Song 2" }).waitFor();
    // One-second tracks: the player fetches and appends the next one gaplessly and moves on by itself.
    await page.getByTestId("now-title").filter({ hasText: "Disc 2 Song 1" }).waitFor({ timeout: 15_000 });
  }, 60_000);

  it("replays a cached track after a reload without a single audio request", async () => {
    const audioRequests: string[] = [];
    page.on("request", (request) => {
      if (request.url().includes("/api/stream/")) audioRequests.push(request.url());
    });
    await page.reload();
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("svefn");
    await page.locator('button[data-kind="track"]', { hasText: "Svefn-g-englar" }).click();
    await page.waitForFunction(() => (document.querySelector("audio")?.currentTime ?? 0) > 0.5, undefined, {
      timeout: 15_000,
    });
    expect(audioRequests).toEqual([]);
    await page.getByRole("button", { name: "Stats for nerds" }).click();
    expect(await page.locator(".stats").innerText()).toMatch(/cache 100%/);
  }, 60_000);

  it("lays out on a phone-sized screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("button", { name: "Home" }).click();
    await page.screenshot({ path: join(screenshots, "phone-home.png") });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
