// Subsonic in Debian's headless Chromium against a real server on the fixture library: Settings › Subsonic apps
// shows the server address and sets and removes the Subsonic password apps sign in with; a share made through the
// API opens as a public page that plays its songs without signing in, and is refused once expired.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { catalogContract, userContract } from "@soundmesh/protocol";
import { WsClient, generateFixtureLibrary, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, signIn, type LaunchedChromium } from "@soundmesh/test-kit/browser";

const hasChromium = requireChromium("Subsonic share and settings tests");
const password = "correct horse battery";
const subsonicPassword = "subsonic for the car";

describe.skipIf(!hasChromium)("Subsonic settings and the public share page in Chromium", () => {
  let server: TestServer;
  let ws: WsClient;
  let signedIn: LaunchedChromium;
  let anonymous: LaunchedChromium;

  const rest = async (method: string, params: Record<string, string | string[]>, pw = subsonicPassword) => {
    const url = new URL(`${server.url}/rest/${method}`);
    for (const [name, value] of Object.entries({
      u: "admin",
      p: pw,
      v: "1.16.1",
      c: "e2e",
      f: "json",
      ...params,
    }))
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, item);
    const body = (await (await fetch(url)).json()) as { "subsonic-response": Record<string, unknown> };
    return body["subsonic-response"];
  };

  beforeAll(async () => {
    const fixture = await generateFixtureLibrary();
    server = await startServer({ libraryFolders: [fixture.root] });
    const token = await setupAdmin(server.url, "admin", password);
    ws = await WsClient.connect(server.url, token);
    await waitUntil(
      () => ws.call(catalogContract, "scanStatus"),
      (status) => !status.running && status.added === fixture.audioFiles,
      60_000,
    );
    signedIn = await launchChromium();
    anonymous = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await signedIn?.close();
    await anonymous?.close();
    await ws?.close();
    await server?.close();
  });

  it("Settings shows the server address, sets the Subsonic password apps sign in with, and removes it", async () => {
    const page: Page = await signedIn.context.newPage();
    await signIn(page, server.url, "admin", password);
    await page.getByRole("button", { name: "Settings", exact: true }).click();
    await page.getByRole("heading", { name: "Subsonic apps" }).waitFor();
    expect((await page.getByTestId("subsonic-server-url").innerText()).trim()).toBe(server.url);
    await page.getByTestId("subsonic-password-status").getByText("No Subsonic password is set").waitFor();
    expect(await rest("ping", {})).toMatchObject({ error: { code: 40 } });
    await page.getByLabel("Subsonic password", { exact: true }).fill(subsonicPassword);
    await page.getByLabel("Subsonic password again").fill(subsonicPassword);
    await page.getByRole("button", { name: "Save Subsonic password" }).click();
    await page.getByText("Subsonic password saved.").waitFor();
    await page.getByTestId("subsonic-password-status").getByText("A Subsonic password is set").waitFor();
    expect(await rest("ping", {})).toMatchObject({ status: "ok" });
    // The login password is not the Subsonic one.
    expect(await rest("ping", {}, password)).toMatchObject({ error: { code: 40 } });
    await page.getByRole("button", { name: "Remove Subsonic password" }).click();
    await page.getByTestId("subsonic-password-status").getByText("No Subsonic password is set").waitFor();
    // The API caches a checked credential for a few seconds (services/subsonic/src/auth.ts): refused after that.
    await waitUntil(
      () => rest("ping", {}),
      (answer) => (answer.error as { code?: number } | undefined)?.code === 40,
      30_000,
      250,
    );
    await page.close();
  });

  it("a shared album plays in its public page without signing in; expired, the page is refused", async () => {
    await ws.call(userContract, "setMySubsonicPassword", { password: subsonicPassword });
    const albums = (await rest("getAlbumList2", { type: "alphabeticalByName", size: "50" })).albumList2 as {
      album: Array<{ id: string; name: string }>;
    };
    const album = albums.album.find((entry) => entry.name === "Ágætis byrjun")!;
    const created = (await rest("createShare", { id: album.id, description: "For the road" })).shares as {
      share: Array<{ id: string; url: string }>;
    };
    const share = created.share[0]!;
    const page = await anonymous.context.newPage();
    const response = await page.goto(share.url);
    expect(response?.status()).toBe(200);
    await page.getByRole("heading", { name: "For the road" }).waitFor();
    expect(await page.locator("li").allInnerTexts()).toEqual([
      expect.stringContaining("Svefn-g-englar"),
      expect.stringContaining("Starálfur"),
    ]);
    const audio = page.locator("audio").first();
    await audio.evaluate((element: HTMLAudioElement) => void element.play());
    await page.waitForFunction(
      () => {
        const element = document.querySelector("audio");
        return element !== null && element.currentTime > 0.2 && element.error === null;
      },
      undefined,
      { timeout: 30_000 },
    );
    // Nothing else opens from this browser: it is not signed in.
    expect((await page.request.get(`${server.url}/api/me`)).status()).toBe(401);

    await rest("updateShare", { id: share.id, expires: String(Date.now() + 1_500) });
    await waitUntil(
      () => page.request.get(share.url).then((answer) => answer.status()),
      (status) => status === 410,
      30_000,
      200,
    );
    const refused = await page.goto(share.url);
    expect(refused?.status()).toBe(410);
    await page.getByRole("heading", { name: "This share has expired" }).waitFor();
    await page.close();
  });
});
