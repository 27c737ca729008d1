// Page helpers the Chromium suites share: signing in (or creating the first administrator) as a listener does, and
// waiting on the player's <audio> element rather than on time.
import type { Page } from "playwright-core";

/** Opens the player and signs in with the form; resolves once the signed-in app shows. */
export async function signIn(page: Page, baseUrl: string, name: string, password: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByPlaceholder("User name").fill(name);
  await page.getByPlaceholder("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 20_000 });
}

/** Opens a server with no account yet and makes the first administrator with the first-run form. */
export async function createAdminInPage(
  page: Page,
  baseUrl: string,
  name: string,
  password: string,
): Promise<void> {
  await page.goto(baseUrl);
  await page.getByPlaceholder("User name").fill(name);
  await page.getByPlaceholder("Password").fill(password);
  await page.getByRole("button", { name: "Create administrator" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor({ timeout: 20_000 });
}

/** The player's position, in seconds (0 before anything played). */
export function audioTime(page: Page): Promise<number> {
  return page.evaluate(() => document.querySelector("audio")?.currentTime ?? 0);
}

/** Waits until the player plays (not paused) past `atLeastSec`. */
export async function waitForPlayback(page: Page, atLeastSec: number, timeoutMs = 15_000): Promise<void> {
  await page.waitForFunction(
    (t) => {
      const audio = document.querySelector("audio");
      return !!audio && !audio.paused && audio.currentTime > t;
    },
    atLeastSec,
    { timeout: timeoutMs },
  );
}

/** Moves the seek slider as a user would: React sees the input event of a value set by the native setter. */
export async function seekTo(page: Page, seconds: number): Promise<void> {
  await page.evaluate((value) => {
    const input = document.querySelector<HTMLInputElement>('input[aria-label="Seek"]')!;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(input, String(value));
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, seconds);
}

/** Opens an album through search as you type. */
export async function openAlbumBySearch(page: Page, title: string): Promise<void> {
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByLabel("Search").fill(title);
  await page.locator('button[data-kind="album"]', { hasText: title }).first().click();
  await page.getByRole("heading", { name: title }).waitFor();
}

/** Plays a track of the open page; what played before is paused first, so its clock cannot answer for this one. */
export async function playRow(page: Page, title: string): Promise<void> {
  await page.evaluate(() => document.querySelector("audio")?.pause());
  await page.locator(".track-main", { hasText: title }).first().click();
  await page.getByTestId("now-title").filter({ hasText: title }).waitFor();
}

/** What the player's "Stats for nerds" panel says of the bytes it has: all of them, the peers' share, rejected pieces. */
export interface StatsPanel {
  total: number;
  peerShare: number;
  rejected: number;
}

/** Opens the stats panel if it is closed and reads it. */
export async function readStatsPanel(page: Page): Promise<StatsPanel> {
  if ((await page.locator(".stats").count()) === 0)
    await page.getByRole("button", { name: "Stats for nerds" }).click();
  await page.locator(".stats").waitFor();
  return page.evaluate(() => {
    const stats = document.querySelector<HTMLElement>(".stats")!;
    const text = stats.innerText;
    return {
      total: Number(stats.dataset.total ?? 0),
      peerShare: Number(/peers (\d+)%/.exec(text)?.[1] ?? 0) / 100,
      rejected: Number(/rejected pieces: (\d+)/.exec(text)?.[1] ?? 0),
    };
  });
}
