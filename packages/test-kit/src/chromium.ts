// Debian's Chromium for browser tests and benchmarks: where it is, whether it runs, and one way to launch it.
// Each launch gets a fresh profile folder (its own cache, IndexedDB and service worker), as a new listener would.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const chromiumPath = process.env.SOUNDMESH_CHROMIUM ?? "/usr/bin/chromium";

/** The flags this machine needs: no sandbox as root, no GPU, no calls home, sound allowed without a gesture. */
export const chromiumArgs: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

/**
 * True when Chromium runs here. Without it, browser suites skip with a loud warning, except under CI, where its
 * absence is an error (`.ci/run` installs it).
 */
export function requireChromium(suite: string): boolean {
  const hasChromium = spawnSync(chromiumPath, ["--version"], { stdio: "ignore" }).status === 0;
  if (!hasChromium && process.env.CI)
    throw new Error(`${suite} needs Chromium in CI (apt-get install chromium)`);
  if (!hasChromium)
    console.warn(`\n*** Chromium not found: ${suite} SKIPPED (apt-get install chromium) ***\n`);
  return hasChromium;
}

export interface LaunchedChromium {
  context: BrowserContext;
  profileDir: string;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

/** Starts headless Chromium on a fresh profile; `options` go to playwright's launchPersistentContext. */
export async function launchChromium(
  options: Omit<Parameters<typeof chromium.launchPersistentContext>[1], "executablePath" | "args"> = {},
  profileDir: string = mkdtempSync(join(tmpdir(), "soundmesh-chromium-")),
): Promise<LaunchedChromium> {
  const context = await chromium.launchPersistentContext(profileDir, {
    headless: true,
    ...options,
    executablePath: chromiumPath,
    args: [...chromiumArgs],
  });
  return {
    context,
    profileDir,
    async close() {
      await context.close();
      rmSync(profileDir, { recursive: true, force: true });
    },
  };
}

/**
 * Builds the web player for production into apps/web/dist, which the server serves. Vitest sets NODE_ENV=test,
 * which would build React's development mode and leave the service worker out. Run once, before the browser suites
 * (test/global-setup.ts), never from two suites at once: they would write the same folder.
 */
export function buildWebPlayer(): void {
  execFileSync("npm", ["run", "build", "--workspace", "@soundmesh/web"], {
    stdio: "ignore",
    env: { ...process.env, NODE_ENV: "production" },
  });
}
