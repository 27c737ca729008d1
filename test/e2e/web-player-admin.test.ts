// The web player in Debian's headless Chromium against a real server: the admin area with a scan's and a whole-library
// transcode's pushed progress, and the settings.
// One part of the web player's suite (test/e2e/web-player-*.test.ts): its own server, profile and sign-in.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { fixtureTracks } from "@soundmesh/test-kit";
import { requireChromium } from "@soundmesh/test-kit/browser";
import { screenshots, startWebPlayer, type WebPlayer } from "./web-player-harness";

const hasChromium = requireChromium("web player tests");
let player: WebPlayer;
let page: Page;

describe.skipIf(!hasChromium)("web player in Chromium: administration", () => {
  beforeAll(async () => {
    player = await startWebPlayer("signed-in");
    page = player.page;
    await player.libraryScanned();
  }, 120_000);

  afterAll(async () => {
    await player?.close();
  });

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

  it("raised no uncaught error in the page through the whole part", () => {
    expect(player.pageErrors).toEqual([]);
  });
});
