// What every part of the web player's Chromium suite starts from: its own server on the fixture library and the
// long tracks, its own Chromium profile, and a page signed in (or the first administrator made in the page).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { catalogContract, storageContract } from "@soundmesh/protocol";
import {
  WsClient,
  generateFixtureLibrary,
  login,
  setupAdmin,
  waitUntil,
  writeToneSync,
} from "@soundmesh/test-kit";
import {
  launchChromium,
  openAlbumBySearch,
  playRow,
  signIn,
  type LaunchedChromium,
} from "@soundmesh/test-kit/browser";
import { startServer, type TestServer } from "@soundmesh/test-kit/server";

export const adminName = "admin";
export const adminPassword = "correct horse battery";
export const screenshots = join(process.cwd(), "test-results", "screenshots");

/** Longer tracks than the shared fixtures: three 10 s parts for the gapless boundary and 90 s for seeks. */
function generateLongTracks(): string {
  const root = join(tmpdir(), "soundmesh-web-player-tracks-v1");
  if (existsSync(join(root, ".complete"))) return root;
  const tracks = [
    ["Gapless Suite/01 Part One.flac", "Part One", 10, 1],
    ["Gapless Suite/02 Part Two.flac", "Part Two", 10, 2],
    ["Gapless Suite/03 Part Three.flac", "Part Three", 10, 3],
    ["Long Track/01 Ninety.flac", "Ninety", 90, 1],
  ] as const;
  for (const [file, title, seconds, number] of tracks) {
    const path = join(root, "Long Player", file);
    mkdirSync(join(path, ".."), { recursive: true });
    const album = file.split("/")[0]!;
    writeToneSync(path, {
      frequency: 300 + number * 50,
      seconds,
      codec: ["-c:a", "flac"],
      tags: { title, artist: "Long Player", album, track: String(number), genre: "Ambient" },
    });
  }
  writeFileSync(join(root, ".complete"), "");
  return root;
}

export interface WebPlayer {
  page: Page;
  browser: LaunchedChromium;
  /** The server's address; the same after a restart (same port and data). */
  url: string;
  /** The running server, undefined while stopped. */
  server: TestServer | undefined;
  stopServer(): Promise<void>;
  startServer(): Promise<void>;
  /** Uncaught errors in the page, and cover requests answered 404, over the whole part. */
  pageErrors: string[];
  coverMisses: string[];
  /** A second signed-in session of the admin on the WebSocket, as another device of the same user. */
  otherDevice(): Promise<WsClient>;
  /** Resolves once the first scan has added the library (for parts that do not wait for it in the page). */
  libraryScanned(): Promise<void>;
  /** Transcodes the whole library ahead and resolves once every rendition is ready (seeks far into a track). */
  libraryTranscoded(): Promise<void>;
  openAlbum(title: string): Promise<void>;
  playRow(title: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a part: `signIn: "first-run"` leaves the server without an account and the page on the first-run form;
 * `"signed-in"` makes the admin over HTTP and signs the page in with the form.
 */
export async function startWebPlayer(signInAs: "first-run" | "signed-in"): Promise<WebPlayer> {
  const fixture = await generateFixtureLibrary();
  const libraries = [fixture.root, generateLongTracks()];
  const dataDir = mkdtempSync(join(tmpdir(), "soundmesh-web-e2e-"));
  mkdirSync(screenshots, { recursive: true });
  let port = 0;
  const start = async () => {
    const server = await startServer({ dataDir, libraryFolders: libraries, overrides: { port } });
    port = Number(new URL(server.url).port);
    return server;
  };
  const first = await start();
  const browser = await launchChromium({ viewport: { width: 1280, height: 800 } });
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const player: WebPlayer = {
    page,
    browser,
    url: first.url,
    server: first,
    pageErrors: [],
    coverMisses: [],
    async stopServer() {
      await player.server?.close();
      player.server = undefined;
    },
    async startServer() {
      player.server = await start();
    },
    async otherDevice() {
      return WsClient.connect(player.url, await login(player.url, adminName, adminPassword));
    },
    async libraryScanned() {
      const other = await player.otherDevice();
      try {
        await waitUntil(
          () => other.call(catalogContract, "scanStatus"),
          (status) => !status.running && status.added > 0,
          60_000,
        );
      } finally {
        await other.close();
      }
    },
    async libraryTranscoded() {
      const other = await player.otherDevice();
      try {
        await other.call(storageContract, "transcodeAhead", { tracks: 1_000_000 });
        await waitUntil(
          () => other.call(storageContract, "transcodeStatus"),
          (status) => !status.working,
          90_000,
          250,
        );
      } finally {
        await other.close();
      }
    },
    openAlbum: (title) => openAlbumBySearch(page, title),
    playRow: (title) => playRow(page, title),
    async close() {
      await browser.close();
      await player.server?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  page.on("pageerror", (error) => player.pageErrors.push(`${error.name}: ${error.message}`));
  page.on("response", (response) => {
    if (response.url().includes("/api/cover/") && response.status() === 404)
      player.coverMisses.push(response.url());
  });
  if (signInAs === "signed-in") {
    await setupAdmin(first.url, adminName, adminPassword);
    await signIn(page, first.url, adminName, adminPassword);
  } else {
    await page.goto(first.url);
  }
  return player;
}
