// Web player benchmark in headless Chromium on loopback: first load of the app; click-to-sound on tracks the server has
// never transcoded (30 s, 4 min and 10 min; FLAC and Ogg Vorbis), on 25 the server has made but the browser has not,
// and on 25 cached in IndexedDB, from the click to the audio element's time advancing; the gap at track boundaries;
// seek latency inside and beyond what is buffered, and a seek to three quarters of a never-transcoded track.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { setupAdmin, waitUntil, WsClient } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { buildWebPlayer, chromiumArgs, chromiumPath } from "@soundmesh/test-kit/browser";
import { printTable, round, summarize, writeResults, writeUnlimitedConfig, type Row } from "./report";
import { catalogContract } from "@soundmesh/protocol";

const TRACKS = Number(process.env.BENCH_WEB_TRACKS ?? 25);
const WARM = process.env.BENCH_WEB_WARM ?? "true";
// A boundary needs a next track: with BENCH_WEB_TRACKS=5 the fifth would wait for one that is not there.
const BOUNDARIES = Math.min(5, TRACKS - 1);
const SEEKS = 20;
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-web-"));

function makeTrack(
  album: string,
  file: string,
  title: string,
  number: number,
  seconds: number,
  codec = ["-c:a", "flac"],
): void {
  const folder = join(work, "library", "Bench Band", album);
  mkdirSync(folder, { recursive: true });
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"],
    ...["-i", `sine=frequency=${220 + number * 15}:duration=${seconds}`, ...codec],
    ...["-metadata", `title=${title}`, "-metadata", "artist=Bench Band", "-metadata", `album=${album}`],
    ...["-metadata", `track=${number}`, join(folder, file)],
  ]);
}

for (let i = 1; i <= TRACKS; i++)
  makeTrack("Fifty Plays", `${String(i).padStart(2, "0")} Tune ${i}.flac`, `Tune ${i}`, i, 30);
makeTrack("Long Haul", "01 Long One.flac", "Long One", 1, 300);
/** Never transcoded before their click: each length and source format, COLD_COPIES times (each plays cold once). */
const COLD_COPIES = Number(process.env.BENCH_WEB_COLD_COPIES ?? 3);
const coldKinds = [
  { label: "30 s", seconds: 30 },
  { label: "4 min", seconds: 240 },
  { label: "10 min", seconds: 600 },
].flatMap((length) => [
  { ...length, format: "FLAC", ext: "flac", codec: ["-c:a", "flac"] },
  { ...length, format: "Ogg Vorbis", ext: "ogg", codec: ["-c:a", "libvorbis", "-q:a", "4"] },
]);
const coldTracks: Array<{ title: string; kind: string }> = [];
let coldNumber = 0;
for (const kind of coldKinds)
  for (let copy = 1; copy <= COLD_COPIES; copy++) {
    coldNumber += 1;
    const title = `Cold ${kind.label.replace(" ", "")} ${kind.ext} ${copy}`;
    const file = `${String(coldNumber).padStart(2, "0")} ${title}.${kind.ext}`;
    makeTrack("Never Played", file, title, coldNumber, kind.seconds, kind.codec);
    coldTracks.push({ title, kind: `${kind.label} ${kind.format}` });
  }
/** Never transcoded before their click, then sought to three quarters at once (the offset rendition's path). */
const seekColdTitles: string[] = [];
for (let copy = 1; copy <= COLD_COPIES; copy++) {
  coldNumber += 1;
  const title = `Seek Cold ${copy}`;
  makeTrack("Never Played", `${String(coldNumber).padStart(2, "0")} ${title}.flac`, title, coldNumber, 600);
  seekColdTitles.push(title);
}
// A production build: React's development mode would make every figure worse than what users get.
buildWebPlayer();
// No transcoding ahead: "Never Played" must stay never transcoded until its click (the other albums are made by
// warmServer). The rate limits would otherwise measure the limiters.
const configFile = writeUnlimitedConfig(work, { transcode: { ahead: [] } });
const server = await spawnServer(join(work, "data"), {
  SOUNDMESH_CONFIG: configFile,
  SOUNDMESH_LIBRARY: join(work, "library"),
  SOUNDMESH_LOG_LEVEL: "warn",
  // BENCH_WEB_WARM=false measures the cold click without an ffmpeg started ahead of time (the before figure).
  SOUNDMESH_TRANSCODE_WARM: WARM,
});
const context = await chromium.launchPersistentContext(join(work, "profile"), {
  executablePath: chromiumPath,
  headless: true,
  args: [...chromiumArgs],
});
const rows: Row[] = [];

/** Makes the server's renditions of every album but "Never Played" (asking for a complete manifest waits for one). */
async function warmServer(token: string): Promise<void> {
  const client = await WsClient.connect(server.url, token);
  try {
    const albums = await waitUntil(
      () => client.call(catalogContract, "recentlyAdded", { limit: 10 }),
      (r) => r.items.length >= 3,
      120_000,
    );
    for (const album of albums.items.filter((item) => item.title !== "Never Played")) {
      const { tracks } = await client.call(catalogContract, "album", {
        albumId: album.id,
      });
      for (const track of tracks) {
        const response = await fetch(`${server.url}/api/stream/${track.id}/opus96/manifest`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (!response.ok) throw new Error(`manifest of ${track.title}: HTTP ${response.status}`);
      }
    }
  } finally {
    await client.close();
  }
}

/** Clicks the track's row inside the page and times until the audio element plays a new source and its clock moves. */
async function clickToSound(page: Page, title: string): Promise<number> {
  return page.evaluate(async (wanted) => {
    const audio = document.querySelector("audio");
    audio?.pause();
    const before = audio?.src;
    const row = [...document.querySelectorAll<HTMLButtonElement>(".track-main")].find((button) =>
      new RegExp(`${wanted}(?!\\d)`).test(button.textContent ?? ""),
    );
    if (!row) throw new Error(`no row for ${wanted}`);
    const clickedAt = performance.now();
    row.click();
    // Loops, not named closures: tsx would wrap those in a helper the page does not have.
    for (;;) {
      const element = document.querySelector("audio");
      // A new source (each play opens one) that plays and whose clock has moved.
      if (element && element.src !== before && !element.paused && element.currentTime > 0.001)
        return performance.now() - clickedAt;
      if (performance.now() - clickedAt > 20_000) throw new Error(`no sound 20 s after clicking ${wanted}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }, title);
}

/** Sets the seek slider as a user would (React sees the input event) and times until the clock runs past it. */
async function seekLatency(page: Page, targetSec: number): Promise<{ ms: number; buffered: boolean }> {
  return page.evaluate(async (target) => {
    const audio = document.querySelector("audio")!;
    const ranges = audio.buffered;
    let buffered = false;
    for (let i = 0; i < ranges.length; i++)
      if (ranges.start(i) <= target && ranges.end(i) > target + 0.5) buffered = true;
    const input = document.querySelector<HTMLInputElement>('input[aria-label="Seek"]')!;
    const started = performance.now();
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!.call(input, String(target));
    input.dispatchEvent(new Event("input", { bubbles: true }));
    while (!(!audio.paused && audio.currentTime > target + 0.02 && audio.currentTime < target + 5)) {
      if (performance.now() > started + 20_000) throw new Error(`seek to ${target} never played`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return { ms: performance.now() - started, buffered };
  }, targetSec);
}

/** Plays across the boundary after `title` (30 s long) and returns the audible gap: wall time minus media time. */
async function boundaryGap(
  page: Page,
  title: string,
): Promise<{ gapMs: number; waiting: number; stalls: string[] }> {
  await clickToSound(page, title);
  await seekLatency(page, 27.5);
  return page.evaluate(async () => {
    const audio = document.querySelector("audio")!;
    let waiting = 0;
    const stalls: string[] = [];
    audio.addEventListener("waiting", () => {
      waiting += 1;
      const ranges = audio.buffered;
      const spans = Array.from(
        { length: ranges.length },
        (_, i) => `${ranges.start(i).toFixed(2)}–${ranges.end(i).toFixed(2)}`,
      );
      stalls.push(`stall at ${audio.currentTime.toFixed(2)} s, buffered ${spans.join(", ")}`);
    });
    const samples: Array<[number, number]> = [];
    const deadline = performance.now() + 20_000;
    while (audio.currentTime <= 31 && performance.now() < deadline) {
      samples.push([performance.now(), audio.currentTime]);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    samples.push([performance.now(), audio.currentTime]);
    const before = samples.find(([, t]) => t >= 28.5)!;
    const after = samples.at(-1)!;
    return { gapMs: after[0] - before[0] - (after[1] - before[1]) * 1000, waiting, stalls };
  });
}

try {
  const token = await setupAdmin(server.url, "admin", "correct horse battery");
  console.log("warming the server's renditions…");
  await warmServer(token);
  console.log("measuring in Chromium…");
  const page = context.pages()[0] ?? (await context.newPage());
  const loadStarted = performance.now();
  await page.goto(server.url);
  await page.getByPlaceholder("User name").waitFor();
  const firstLoadMs = performance.now() - loadStarted;
  // Bytes on the wire for the page and its assets (Resource Timing), API calls excluded.
  const appBytes = await page.evaluate(() =>
    [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
      .filter((entry) => !entry.name.includes("/api/"))
      .reduce((sum, entry) => sum + (entry as PerformanceResourceTiming).transferSize, 0),
  );
  rows.push({
    measure: "first load of the app (to the sign-in form)",
    count: 1,
    "p50 ms": round(firstLoadMs, 1),
    KiB: round(appBytes / 1024, 1),
  });
  await page.getByPlaceholder("User name").fill("admin");
  await page.getByPlaceholder("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Fifty Plays").first().click({ timeout: 60_000 });
  await page.getByRole("heading", { name: "Fifty Plays" }).waitFor();
  const results: Record<string, number[]> = {
    "made by the server, not in the browser": [],
    "cached (IndexedDB)": [],
  };
  for (const label of Object.keys(results)) {
    for (let i = 1; i <= TRACKS; i++) {
      results[label]!.push(await clickToSound(page, `Tune ${i}`));
      if (i % 5 === 0) console.log(`${label}: ${i} plays`);
      // Let the whole track arrive so the cached round really is cached.
      await page.waitForFunction(
        () => {
          const audio = document.querySelector("audio")!;
          return audio.buffered.length > 0 && audio.buffered.end(0) > 29.5;
        },
        undefined,
        { timeout: 30_000, polling: 50 },
      );
    }
  }
  for (const [label, samples] of Object.entries(results)) {
    const stats = summarize(samples);
    rows.push({
      measure: `click-to-sound, ${label}`,
      count: stats.count,
      "p50 ms": round(stats.p50, 1),
      "p90 ms": round(stats.p90, 1),
      "p99 ms": round(stats.p99, 1),
    });
  }

  // The real cold path: a click on a track the server has never transcoded.
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByLabel("Search").fill("Never Played");
  await page.locator('button[data-kind="album"]', { hasText: "Never Played" }).first().click();
  await page.getByRole("heading", { name: "Never Played" }).waitFor();
  const coldResults = new Map<string, number[]>();
  for (const { title, kind } of coldTracks) {
    const ms = await clickToSound(page, title);
    coldResults.set(kind, [...(coldResults.get(kind) ?? []), ms]);
    console.log(`never transcoded, ${kind}: ${round(ms, 1)} ms`);
  }
  const allCold = [...coldResults.values()].flat();
  for (const [label, samples] of [...coldResults, ["all lengths and formats", allCold] as const]) {
    const stats = summarize(samples);
    rows.push({
      measure: `click-to-sound, never transcoded, ${label}${WARM === "true" ? "" : " (no ffmpeg waiting)"}`,
      count: stats.count,
      "p50 ms": round(stats.p50, 1),
      "p90 ms": round(stats.p90, 1),
      "p99 ms": round(stats.p99, 1),
    });
  }
  // A seek to 7:30 of a 10 min track right after its first sound: past what its transcode has made.
  const coldSeeks: number[] = [];
  for (const title of seekColdTitles) {
    await clickToSound(page, title);
    const seekedAt = await page.evaluate(() => performance.now());
    const { ms } = await seekLatency(page, 450);
    coldSeeks.push(ms);
    // Where the time went: the offset rendition's requests as the browser timed them, from the seek.
    const steps = await page.evaluate(
      (since) =>
        performance
          .getEntriesByType("resource")
          .filter((entry) => entry.name.includes("/from/") && entry.startTime >= since)
          .map((resource) => {
            const entry = resource as PerformanceResourceTiming;
            const what = entry.name.includes("/manifest")
              ? "manifest"
              : entry.name.replace(/.*\/pieces\//, "piece ");
            return `${what} ${Math.round(entry.startTime - since)}–${Math.round(entry.responseEnd - since)} ms`;
          })
          .join(", "),
      seekedAt,
    );
    console.log(
      `seek to 3/4 of never-transcoded ${title}: ${round(ms, 1)} ms (${steps || "no offset rendition"})`,
    );
  }
  const coldSeekStats = summarize(coldSeeks);
  rows.push({
    measure: `seek to 3/4 of a never-transcoded 10 min FLAC, just after its first sound${WARM === "true" ? "" : " (no ffmpeg waiting)"}`,
    count: coldSeekStats.count,
    "p50 ms": round(coldSeekStats.p50, 1),
    "p90 ms": round(coldSeekStats.p90, 1),
    "p99 ms": round(coldSeekStats.p99, 1),
  });
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByLabel("Search").fill("Fifty Plays");
  await page.locator('button[data-kind="album"]', { hasText: "Fifty Plays" }).first().click();
  await page.getByRole("heading", { name: "Fifty Plays" }).waitFor();

  const gaps: number[] = [];
  let stalls = 0;
  for (let i = 1; i <= BOUNDARIES; i++) {
    const { gapMs, waiting, stalls: where } = await boundaryGap(page, `Tune ${i}`);
    for (const line of where) console.log(`Tune ${i} → ${i + 1}: ${line}`);
    gaps.push(gapMs);
    stalls += waiting;
  }
  const gapStats = summarize(gaps);
  rows.push({
    measure: "gap at a track boundary (wall − media clock)",
    count: gapStats.count,
    "p50 ms": round(gapStats.p50, 1),
    "p90 ms": round(gapStats.p90, 1),
    "p99 ms": round(gapStats.p99, 1),
    other: `${stalls} stalls`,
  });

  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByLabel("Search").fill("Long Haul");
  await page.locator('button[data-kind="album"]', { hasText: "Long Haul" }).first().click();
  await page.getByRole("heading", { name: "Long Haul" }).waitFor();
  await clickToSound(page, "Long One");
  const seeks: Record<string, number[]> = { "seek within the buffer": [], "seek beyond the buffer": [] };
  // Far jumps first (beyond the 60 s fetched ahead), then back into what those fetched.
  const targets = Array.from({ length: SEEKS }, (_, i) =>
    i < SEEKS / 2 ? 290 - i * 25 : 10 + (i - SEEKS / 2) * 27,
  );
  for (const target of targets) {
    const { ms, buffered } = await seekLatency(page, target);
    seeks[buffered ? "seek within the buffer" : "seek beyond the buffer"]!.push(ms);
  }
  for (const [label, samples] of Object.entries(seeks)) {
    if (samples.length === 0) continue;
    const stats = summarize(samples);
    rows.push({
      measure: label,
      count: stats.count,
      "p50 ms": round(stats.p50, 1),
      "p90 ms": round(stats.p90, 1),
      "p99 ms": round(stats.p99, 1),
    });
  }
} finally {
  await context.close();
  server.process.kill("SIGTERM");
  await server.exited;
  rmSync(work, { recursive: true, force: true });
}
printTable(
  "Web player in headless Chromium on loopback (opus96, 30 s tracks; 2 cores shared with the server)",
  rows,
);
writeResults("web-player", rows);
