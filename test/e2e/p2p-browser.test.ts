// Peer-assisted streaming in headless Chromium: a second browser gets most of a track from the first and plays
// without stutter; when the first leaves mid-transfer the second finishes from the server; a headless peer that
// serves corrupted pieces never gets a byte into a browser's buffer; after a server restart a browser offers its
// cached tracks again (revalidating their manifests, as the tracker lists only what a session fetched).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { releaseWebRtc, startHeadlessPeer, type HeadlessPeer } from "@soundmesh/server";
import { WsClient, login, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";
import {
  chromiumArgs,
  chromiumPath,
  readStatsPanel,
  requireChromium,
  signIn,
  type StatsPanel,
} from "@soundmesh/test-kit/browser";
import { P2P_TRACK_SECONDS, generateP2pLibrary } from "./p2p-library";
import { searchContract, trackerContract } from "@soundmesh/protocol";

const hasChromium = requireChromium("peer-assisted streaming in Chromium");

const password = "correct horse battery";
let server: TestServer;
let library: string;
/** Given, so the server can be restarted on it (and removed at the end). */
const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-p2p-chromium-data-"));
let tracks: Array<{ id: string; title: string; sizeBytes: number }>;
const contexts: BrowserContext[] = [];
const dirs: string[] = [];
const headless: HeadlessPeer[] = [];

/** A browser of its own (its own cache and session), signed in, with a probe counting stalls after playback starts. */
async function openBrowser(uploadLimitBytesPerSecond = 0): Promise<Page> {
  const dir = mkdtempSync(join(tmpdir(), "soundmesh-p2p-chromium-"));
  dirs.push(dir);
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    args: [...chromiumArgs],
    headless: true,
  });
  contexts.push(context);
  await context.addInitScript((limit) => {
    localStorage.setItem("soundmesh.p2p.upload", JSON.stringify({ enabled: true, bytesPerSecond: limit }));
    const probe = { stalls: 0, started: false };
    (window as unknown as { p2pProbe: typeof probe }).p2pProbe = probe;
    document.addEventListener(
      "playing",
      () => {
        probe.started = true;
      },
      true,
    );
    document.addEventListener(
      "waiting",
      () => {
        if (probe.started) probe.stalls += 1;
      },
      true,
    );
  }, uploadLimitBytesPerSecond);
  const page = context.pages()[0] ?? (await context.newPage());
  await signIn(page, server.url, "admin", password);
  await page.getByRole("heading", { name: "Recently added" }).waitFor({ timeout: 20_000 });
  return page;
}

async function play(page: Page, title: string): Promise<void> {
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByLabel("Search").fill(title);
  await page.locator('button[data-kind="track"]', { hasText: title }).first().click();
  await page.getByTestId("now-title").filter({ hasText: title }).waitFor();
}

interface PageBytes extends StatsPanel {
  stalls: number;
  neighbours: number;
  currentTime: number;
}

/** Reads the stats panel (bytes by source, rejected pieces), the neighbours and the stall probe. */
async function bytesOf(page: Page): Promise<PageBytes> {
  const panel = await readStatsPanel(page);
  const rest = await page.evaluate(() => {
    const p2p = document.querySelector<HTMLElement>('[data-testid="p2p-stats"]');
    const probe = (window as unknown as { p2pProbe: { stalls: number } }).p2pProbe;
    return {
      stalls: probe.stalls,
      neighbours: Number(p2p?.dataset.neighbours ?? 0),
      currentTime: document.querySelector("audio")?.currentTime ?? 0,
    };
  });
  return { ...panel, ...rest };
}

const waitForBytes = (page: Page, accept: (b: PageBytes) => boolean, timeoutMs = 30_000) =>
  waitUntil(() => bytesOf(page), accept, timeoutMs, 200);

describe.skipIf(!hasChromium)("peer-assisted streaming in Chromium", () => {
  beforeAll(async () => {
    library = await generateP2pLibrary(3, P2P_TRACK_SECONDS);
    server = await startServer({ dataDir, libraryFolders: [library] });
    const token = await setupAdmin(server.url, "admin", password);
    const ws = await WsClient.connect(server.url, token);
    const found = await waitUntil(
      () =>
        ws.call(searchContract, "query", {
          q: "tone",
          kinds: ["track"],
        }),
      (r) => r.hits.length === 3,
      30_000,
    );
    tracks = [];
    for (const hit of found.hits.sort((a, b) => a.title.localeCompare(b.title))) {
      const response = await fetch(`${server.url}/api/stream/${hit.id}/opus96/manifest`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const manifest = (await response.json()) as { sizeBytes: number };
      tracks.push({ id: hit.id, title: hit.title, sizeBytes: manifest.sizeBytes });
    }
    await ws.close();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(headless.map((peer) => peer.close()));
    for (const context of contexts) await context.close().catch(() => undefined);
    await server?.close();
    releaseWebRtc();
    for (const dir of [...dirs, dataDir]) rmSync(dir, { recursive: true, force: true });
  });

  it("a second browser gets most of the track from the first and plays without stutter", async () => {
    const [first, second] = [await openBrowser(), await openBrowser()];
    const track = tracks[0]!;
    await play(first, track.title);
    await waitForBytes(first, (b) => b.total >= track.sizeBytes);
    await play(second, track.title);
    const done = await waitForBytes(second, (b) => b.total >= track.sizeBytes && b.currentTime > 3);
    expect(done.peerShare, JSON.stringify(done)).toBeGreaterThanOrEqual(0.5);
    expect(done.stalls).toBe(0);
    expect(done.rejected).toBe(0);
    // The browsers report their counters (every 10 s): /metrics counts the peer bytes.
    await waitUntil(
      async () => (await fetch(`${server.url}/metrics`)).text(),
      (metrics) => /^soundmesh_client_bytes_total\{source="peer"\} [1-9]/m.test(metrics),
      25_000,
      500,
    );
  }, 120_000);

  it("when the first browser leaves mid-transfer, the second finishes from the server without a stall", async () => {
    // The holder uploads at ~7x real time, so the transfer of the 90 s track is still going when it closes, yet a
    // 64 KiB piece takes well under the listener's 2 s peer timeout even on a loaded machine.
    const holder = await openBrowser(100_000);
    const track = tracks[1]!;
    await play(holder, track.title);
    await waitForBytes(holder, (b) => b.total >= track.sizeBytes);
    const listener = await openBrowser();
    await play(listener, track.title);
    await waitForBytes(listener, (b) => b.peerShare > 0 && b.neighbours > 0);
    await holder.context().close();
    const done = await waitForBytes(listener, (b) => b.total >= track.sizeBytes && b.currentTime > 4);
    expect(done.peerShare, JSON.stringify(done)).toBeGreaterThan(0);
    expect(done.peerShare).toBeLessThan(1);
    expect(done.stalls).toBe(0);
  }, 120_000);

  it("a headless peer serving corrupted pieces never gets a byte into the browser's buffer", async () => {
    const track = tracks[2]!;
    const liar = await startHeadlessPeer({
      baseUrl: server.url,
      token: await login(server.url, "admin", password),
      trackIds: [track.id],
      speed: 16,
      serveCorrupted: true,
    });
    headless.push(liar);
    await liar.played;
    const page = await openBrowser();
    await play(page, track.title);
    const done = await waitForBytes(page, (b) => b.total >= track.sizeBytes && b.currentTime > 2);
    expect(done.rejected, JSON.stringify(done)).toBeGreaterThanOrEqual(1);
    expect(done.peerShare).toBe(0);
    expect(done.stalls).toBe(0);
    expect(liar.report().overlay?.piecesUploaded).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it("after a server restart, a browser offers what it cached again and a second browser gets it", async () => {
    // Only this test's holder may answer the query below: the earlier tests' browsers and peers would reconnect
    // and re-announce what they cached as well.
    await Promise.all(headless.splice(0).map((peer) => peer.close()));
    for (const context of contexts.splice(0)) await context.close().catch(() => undefined);
    const holder = await openBrowser();
    const track = tracks[0]!;
    await play(holder, track.title);
    await waitForBytes(holder, (b) => b.total >= track.sizeBytes);
    await holder.locator("audio").evaluate((audio: HTMLAudioElement) => audio.pause());
    // Same data and port: the holder's page keeps its cache and session and reconnects by itself, but the new
    // tracker knows nothing it fetched, so the page must revalidate the manifest before announcing it.
    const port = server.port;
    await server.close();
    server = await startServer({ dataDir, libraryFolders: [library], overrides: { port } });
    const token = await login(server.url, "admin", password);
    const ws = await WsClient.connect(server.url, token);
    await waitUntil(
      () => ws.call(trackerContract, "query", { trackId: track.id, profile: "opus96" }),
      (answer) => answer.peers.length === 1,
      60_000,
      250,
    );
    await ws.close();
    const listener = await openBrowser();
    await play(listener, track.title);
    const done = await waitForBytes(listener, (b) => b.total >= track.sizeBytes && b.currentTime > 3);
    expect(done.peerShare, JSON.stringify(done)).toBeGreaterThanOrEqual(0.5);
    expect(done.stalls).toBe(0);
  }, 150_000);
});
