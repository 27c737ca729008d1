// Listening events from the web player in Chromium against a real server: plays reach the server once and show on
// "Your music"; events made while the server is down wait in IndexedDB across a reload and are sent, once, when
// it is back.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WsClient, login, writeToneSync } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, type LaunchedChromium } from "@soundmesh/test-kit/browser";
import { eventsContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("listening events tests");
const ADMIN = { name: "admin", password: "correct horse battery" };

/** Two 3 s tracks on one album: short enough to be played to the end, twice. */
function generateLibrary(): string {
  const root = join(tmpdir(), "soundmesh-events-e2e-tracks-v1");
  if (existsSync(join(root, ".complete"))) return root;
  for (const [number, title] of [
    [1, "Tick"],
    [2, "Tock"],
  ] as const) {
    const path = join(root, "Metronome", "Beats", `0${number} ${title}.flac`);
    mkdirSync(join(path, ".."), { recursive: true });
    writeToneSync(path, {
      frequency: 400 + number * 100,
      seconds: 3,
      codec: ["-c:a", "flac"],
      tags: { title, artist: "Metronome", album: "Beats", track: String(number), genre: "Test" },
    });
  }
  writeFileSync(join(root, ".complete"), "");
  return root;
}

/** Events waiting in the page's outbox (IndexedDB), read straight from the database. */
const outboxCount = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const opening = indexedDB.open("soundmesh-events", 1);
        opening.onerror = () => reject(new Error("no outbox database"));
        opening.onsuccess = () => {
          const count = opening.result.transaction("outbox").objectStore("outbox").count();
          count.onsuccess = () => {
            resolve(count.result);
            opening.result.close();
          };
        };
      }),
  );

describe.skipIf(!hasChromium)("listening events from the web player", () => {
  let server: TestServer | undefined;
  let browser: LaunchedChromium;
  let page: Page;
  let dataDir: string;
  let library: string;
  let port = 0;
  const start = () => startServer({ dataDir, libraryFolders: [library], overrides: { port } });

  async function asOtherDevice<T>(work: (client: WsClient) => Promise<T>): Promise<T> {
    const client = await WsClient.connect(server!.url, await login(server!.url, ADMIN.name, ADMIN.password));
    try {
      return await work(client);
    } finally {
      await client.close();
    }
  }
  const plays = () => asOtherDevice((c) => c.call(eventsContract, "recentlyPlayed", { limit: 50 }));
  const storedEvents = () =>
    asOtherDevice(async (c) =>
      (await c.call(eventsContract, "buckets", { limit: 48 })).reduce((sum, bucket) => sum + bucket.count, 0),
    );
  /** `ended` events of the page's media so far (counted by an init script; a reload starts again at 0). */
  const endedCount = () =>
    page.evaluate(() => (window as unknown as { endedCount?: number }).endedCount ?? 0);
  /**
   * Clicks and waits for the playback it starts to end: an `ended` event after the click. (The audio element's
   * `ended` is still true from the last play until the new track has loaded, which a loaded machine makes long.)
   */
  async function playUntilEnded(click: () => Promise<void>): Promise<void> {
    const before = await endedCount();
    await click();
    await page.waitForFunction(
      (count) => ((window as unknown as { endedCount?: number }).endedCount ?? 0) > count,
      before,
      { timeout: 60_000 },
    );
  }

  beforeAll(async () => {
    library = generateLibrary();
    dataDir = mkdtempSync(join(tmpdir(), "soundmesh-events-e2e-"));
    server = await start();
    port = Number(new URL(server.url).port);
    browser = await launchChromium({ viewport: { width: 1280, height: 800 } });
    await browser.context.addInitScript(() => {
      const counted = window as unknown as { endedCount: number };
      counted.endedCount = 0;
      // Media events do not bubble; a capturing listener on the document sees every element's.
      document.addEventListener("ended", () => (counted.endedCount += 1), true);
    });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("sends each play to the server once and shows it on Your music", async () => {
    await page.goto(server!.url);
    await page.getByPlaceholder("User name").fill(ADMIN.name);
    await page.getByPlaceholder("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByText("Beats").first().waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill("Beats");
    await page.locator('button[data-kind="album"]', { hasText: "Beats" }).first().click();
    await playUntilEnded(() => page.locator(".track-main", { hasText: "Tick" }).first().click());
    await expect.poll(async () => (await plays()).length, { timeout: 30_000 }).toBe(2);
    await expect.poll(() => outboxCount(page), { timeout: 15_000 }).toBe(0);
    const stored = await storedEvents();
    // Per play: started, start latency, ended, bytes by source.
    expect(stored).toBeGreaterThanOrEqual(8);

    await page.getByRole("button", { name: "Your music" }).click();
    await page.getByRole("heading", { name: "Top tracks" }).waitFor();
    await page.locator(".your-music .tracks", { hasText: "Tick" }).waitFor();
    await expect
      .poll(() => page.getByRole("list", { name: "top artists" }).innerText())
      .toMatch(/Metronome\s+2 plays/);
    await expect
      .poll(() => page.getByRole("list", { name: "recently played" }).innerText())
      .toMatch(/Tock[\s\S]*Tick/);
  }, 90_000);

  it("keeps events made while the server is down across a reload and sends them once it is back", async () => {
    const before = await storedEvents();
    await server!.close();
    server = undefined;
    await page.getByText("Connection lost: reconnecting…").waitFor();
    // Both tracks are in the client cache: they play again without the server, and their events wait.
    await page.locator("nav.sidebar").getByRole("button", { name: "Queue", exact: true }).click();
    await playUntilEnded(() => page.locator(".track-main", { hasText: "Tick" }).first().click());
    await expect.poll(() => outboxCount(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(8);
    const waiting = await outboxCount(page);
    await page.reload();
    await page.getByText("Offline: music you made available offline still plays").waitFor();
    expect(await outboxCount(page)).toBe(waiting);

    server = await start();
    await expect.poll(() => outboxCount(page), { timeout: 30_000 }).toBe(0);
    expect(await storedEvents()).toBe(before + waiting);
    const all = await plays();
    expect(all).toHaveLength(4);
    expect(new Set(all.map((play) => play.eventId)).size).toBe(4);
  }, 90_000);

  it("saves the player's queue on the server, and resumes a queue another device saved", async () => {
    // The page saved its queue (both tracks) a moment after it changed.
    await expect
      .poll(async () => (await asOtherDevice((c) => c.call(eventsContract, "loadQueue", {})))?.trackIds, {
        timeout: 15_000,
      })
      .toHaveLength(2);
    const fromServer = (await asOtherDevice((c) => c.call(eventsContract, "loadQueue", {})))!;
    expect(fromServer.device).toMatch(/Chromium/);
    // Another device (a phone, say) plays only the second track and saves that.
    await asOtherDevice((c) =>
      c.call(eventsContract, "saveQueue", {
        trackIds: [fromServer.trackIds[1]!],
        currentIndex: 0,
        positionMs: 0,
        device: "phone",
        baseRevision: fromServer.revision,
      }),
    );
    await page.locator("nav.sidebar").getByRole("button", { name: "Home", exact: true }).click();
    await page.locator("nav.sidebar").getByRole("button", { name: "Queue", exact: true }).click();
    await page.getByRole("button", { name: "Resume the queue from phone (1 tracks)" }).click();
    await page.getByTestId("now-title").filter({ hasText: "Tock" }).waitFor();
  }, 60_000);
});
