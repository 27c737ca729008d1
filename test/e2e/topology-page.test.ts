// The admin page draws the live topology in Chromium against a running server, and an alert appears on it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogContract } from "@soundmesh/protocol";
import { setupAdmin } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import { launchChromium, requireChromium, type LaunchedChromium, signIn } from "@soundmesh/test-kit/browser";

const hasChromium = requireChromium("topology page tests");
const password = "correct horse battery";

describe.runIf(hasChromium)("the topology page", () => {
  let server: TestServer;
  let browser: LaunchedChromium;
  let page: Page;

  beforeAll(async () => {
    server = await startServer({
      overrides: {
        topology: { reportIntervalMs: 200, evaluateIntervalMs: 200, windowMs: 3_000, staleAfterMs: 2_000 },
      },
    });
    await setupAdmin(server.url, "admin", password);
    browser = await launchChromium({ viewport: { width: 1280, height: 1000 } });
    page = await browser.context.newPage();
    await signIn(page, server.url, "admin", password);
    await page.getByRole("button", { name: "Admin", exact: true }).click();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("draws the graph, shows an unexpected call as an alert within 10 s, and plots an edge's hour", async () => {
    await page.getByRole("heading", { name: "Service topology" }).waitFor();
    await page.getByTestId("topology-graph").locator("canvas").first().waitFor();
    const intruder = server.bus.connect({ service: "tracker", calls: [] });
    await expect(intruder.request(catalogContract, "scanStatus", {})).rejects.toMatchObject({
      code: "FORBIDDEN_EDGE",
    });
    const alerts = page.getByRole("list", { name: "Active alerts" });
    await alerts.getByText("tracker->catalog carried 1 calls").waitFor({ timeout: 10_000 });
    const screenshots = join(process.cwd(), "test-results", "screenshots");
    mkdirSync(screenshots, { recursive: true });
    await page.getByTestId("topology-graph").click({ position: { x: 5, y: 5 } });
    await page.getByTestId("topology-graph").screenshot({ path: join(screenshots, "topology.png") });
    const box = await page.getByTestId("topology-graph").boundingBox();
    expect(box?.height).toBeGreaterThan(300);
  });
});
