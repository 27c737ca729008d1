// The Settings page's account part in Debian's headless Chromium against a real server: an API token is made with
// an expiry and shown once with a copy button, listed, revoked; a password change and signing out everywhere keep
// the ticked token only.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { WsClient, login, setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, type LaunchedChromium, signIn } from "@soundmesh/test-kit/browser";
import { userContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("account settings tests");
const password = "correct horse battery";
const newPassword = "battery staple horse";
const dayMs = 24 * 3600_000;

describe.skipIf(!hasChromium)("account settings in Chromium", () => {
  let server: TestServer;
  let browser: LaunchedChromium;
  let page: Page;

  const meWith = async (token: string) =>
    (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  const tokenRow = (label: string) => page.locator("tr", { hasText: label });

  beforeAll(async () => {
    server = await startServer();
    await setupAdmin(server.url, "admin", password);
    browser = await launchChromium();
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
    page = await browser.context.newPage();
    await signIn(page, server.url, "admin", password);
    await page.getByRole("button", { name: "Settings", exact: true }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("makes a token with an expiry, shows it once with a copy button, lists it, and revokes it", async () => {
    await page.getByLabel("Token label").fill("backup script");
    await page.getByLabel("Token expiry").selectOption({ label: "Expires: 30 days" });
    const madeAt = Date.now();
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.getByTestId("new-token").innerText()).trim();
    expect(token).toMatch(/^smk_[A-Za-z0-9_-]{43}$/);
    await page.getByRole("button", { name: "Copy", exact: true }).click();
    await page.getByText("Copied.").waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    expect(await meWith(token)).toBe(200);

    // The list says when it expires, as the server has it.
    const other = await WsClient.connect(server.url, await login(server.url, "admin", password));
    const [listed] = await other.call(userContract, "listApiTokens");
    await other.close();
    expect(listed!.label).toBe("backup script");
    expect(listed!.expiresAt).toBeGreaterThanOrEqual(madeAt + 30 * dayMs);
    expect(listed!.expiresAt).toBeLessThanOrEqual(Date.now() + 30 * dayMs);
    const expiresText = await page.evaluate((ms) => new Date(ms).toLocaleDateString(), listed!.expiresAt!);
    await expect.poll(() => tokenRow("backup script").innerText()).toContain(expiresText);
    // The token is shown once: opening Settings again lists it without the secret.
    await page.getByRole("button", { name: "Home", exact: true }).click();
    await page.getByRole("button", { name: "Settings", exact: true }).click();
    await tokenRow("backup script").waitFor();
    expect(await page.getByTestId("new-token").count()).toBe(0);
    expect(await page.locator("body").innerText()).not.toContain(token);

    await page.getByRole("button", { name: "Revoke backup script" }).click();
    await tokenRow("backup script").waitFor({ state: "detached" });
    expect(await meWith(token)).toBe(401);
  });

  it("changes the password keeping only the ticked token; this page stays signed in", async () => {
    const made: Record<string, string> = {};
    for (const label of ["music box", "spare key"]) {
      await page.getByLabel("Token label").fill(label);
      await page.getByRole("button", { name: "Create token" }).click();
      await tokenRow(label).waitFor();
      made[label] = (await page.getByTestId("new-token").innerText()).trim();
    }
    await page.getByLabel("Keep music box").check();
    await page.getByLabel("Current password").fill(password);
    await page.getByLabel("New password", { exact: true }).fill(newPassword);
    await page.getByLabel("New password again").fill(newPassword);
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Password changed.").waitFor();
    await tokenRow("spare key").waitFor({ state: "detached" });
    expect(await meWith(made["music box"]!)).toBe(200);
    expect(await meWith(made["spare key"]!)).toBe(401);
    await page.getByRole("button", { name: "Revoke music box" }).click();
    await tokenRow("music box").waitFor({ state: "detached" });
  });

  it("signs out everywhere keeping only the ticked token, and shows the sign-in form", async () => {
    const made: Record<string, string> = {};
    for (const label of ["home server", "old laptop"]) {
      await page.getByLabel("Token label").fill(label);
      await page.getByLabel("Token expiry").selectOption({ label: "Expires: Never" });
      await page.getByRole("button", { name: "Create token" }).click();
      await tokenRow(label).waitFor();
      made[label] = (await page.getByTestId("new-token").innerText()).trim();
      await expect.poll(() => tokenRow(label).innerText()).toContain("never");
    }
    await page.getByLabel("Keep home server").check();
    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    await page.getByText("Your session has ended: sign in again.").waitFor();
    expect(await meWith(made["home server"]!)).toBe(200);
    expect(await meWith(made["old laptop"]!)).toBe(401);
  });
});
