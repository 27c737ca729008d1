// Swarm benchmark: headless peers on loopback, arriving one by one, play a Zipf-popular set of tracks with P2P on and off; server and
// P2P shares of bytes, stutters and start latency. Bounded: a fixed number of peers, plays and playback speed.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import {
  releaseWebRtc,
  startHeadlessPeer,
  type HeadlessPeer,
  type HeadlessPeerReport,
} from "@soundmesh/server";
import { WsClient, setupAdmin, waitUntil } from "@soundmesh/test-kit";
import { spawnServer } from "@soundmesh/test-kit/server";
import { buildWebPlayer, chromiumArgs, chromiumPath } from "@soundmesh/test-kit/browser";
import { printTable, round, type Row, summarize, writeResults, writeUnlimitedConfig } from "./report";
import { searchContract } from "@soundmesh/protocol";

const TRACKS = Number(process.env.BENCH_SWARM_TRACKS ?? 6);
const PEERS = Number(process.env.BENCH_SWARM_PEERS ?? 20);
const PLAYS_PER_PEER = 2;
const TRACK_SECONDS = 120;
/** Playback speed: keeps the run short while every byte still has to arrive before it is played. */
const SPEED = Number(process.env.BENCH_SWARM_SPEED ?? 8);
/** Listeners arrive one by one at this interval (both runs alike), not all at once. */
const ARRIVAL_GAP_MS = 600;

/** A seeded generator, so both runs play the same sequence. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Track ranks drawn with Zipf popularity (s = 1): the k-th most popular is played 1/k as often as the first. */
function zipfPlays(trackIds: string[], count: number, next: () => number): string[][] {
  const weights = trackIds.map((_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const draw = () => {
    let x = next() * total;
    for (const [k, weight] of weights.entries()) if ((x -= weight) <= 0) return trackIds[k]!;
    return trackIds.at(-1)!;
  };
  return Array.from({ length: count }, () => {
    const first = draw();
    let second = draw();
    for (let i = 0; i < 5 && second === first; i++) second = draw();
    return [first, second].slice(0, PLAYS_PER_PEER);
  });
}

const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-swarm-"));
const library = join(work, "library", "Swarm", "Tones");
mkdirSync(library, { recursive: true });
for (let i = 0; i < TRACKS; i++) {
  execFileSync("ffmpeg", [
    ...["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"],
    ...["-i", `sine=frequency=${220 + i * 30}:duration=${TRACK_SECONDS}`, "-c:a", "flac"],
    ...["-metadata", `title=Tone ${i + 1}`, "-metadata", "artist=Swarm", "-metadata", "album=Tones"],
    join(library, `${i + 1} Tone ${i + 1}.flac`),
  ]);
}
// The rate limits would otherwise measure the limiters, not the server.
const configFile = writeUnlimitedConfig(work);
const server = await spawnServer(join(work, "data"), {
  SOUNDMESH_CONFIG: configFile,
  SOUNDMESH_LIBRARY: join(work, "library"),
});

const BROWSERS = spawnSync("/usr/bin/chromium", ["--version"], { stdio: "ignore" }).status === 0 ? 2 : 0;
/** How long each browser plays (real time) before its counters are read. */
const BROWSER_PLAY_MS = 15_000;

interface BrowserResult {
  total: number;
  peerShare: number;
  serverShare: number;
  stalls: number;
  startMs: number;
}

/** A Chromium of its own joins the swarm, plays the most popular track for a while and reads its stats panel. */
async function browserListener(title: string, dir: string): Promise<BrowserResult> {
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: chromiumPath,
      headless: true,
      args: [...chromiumArgs],
    });
    await context.addInitScript(() => {
      const probe = { stalls: 0, started: false };
      (window as unknown as { probe: typeof probe }).probe = probe;
      document.addEventListener("playing", () => (probe.started = true), true);
      document.addEventListener("waiting", () => probe.started && (probe.stalls += 1), true);
    });
    const page: Page = context.pages()[0] ?? (await context.newPage());
    // Another build of the web app (tests in the same tree) can swap its assets under a first load: reload once.
    for (let attempt = 1; ; attempt++) {
      await page.goto(server.url);
      const shown = await page
        .getByPlaceholder("User name")
        .waitFor({ timeout: 15_000 })
        .then(() => true)
        .catch(() => false);
      if (shown) break;
      const says = (await page.innerText("body")).slice(0, 300);
      if (attempt >= 2)
        throw new Error(`the sign-in form was not shown; the page says: ${says || "(nothing)"}`);
    }
    await page.getByPlaceholder("User name").fill("admin");
    await page.getByPlaceholder("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Recently added" }).waitFor({ timeout: 20_000 });
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByLabel("Search").fill(title);
    await page.locator('button[data-kind="track"]', { hasText: title }).first().click();
    await page.waitForFunction(() => (document.querySelector("audio")?.currentTime ?? 0) > 0, undefined, {
      timeout: 20_000,
    });
    await page.waitForTimeout(BROWSER_PLAY_MS);
    await page.getByRole("button", { name: "Stats for nerds" }).click();
    // Parsed here: functions declared inside evaluate() would carry tsx's helpers into the page.
    const raw = await page.evaluate(() => ({
      text: document.querySelector<HTMLElement>(".stats")!.innerText,
      total: Number(document.querySelector<HTMLElement>(".stats")!.dataset.total ?? 0),
      stalls: (window as unknown as { probe: { stalls: number } }).probe.stalls,
    }));
    const share = (name: string) => Number(new RegExp(`${name} (\\d+)%`).exec(raw.text)?.[1] ?? 0) / 100;
    return {
      total: raw.total,
      peerShare: share("peers"),
      serverShare: share("server"),
      stalls: raw.stalls,
      startMs: Number(/last plays: (\d+) ms/.exec(raw.text)?.[1] ?? Number.NaN),
    };
  } finally {
    await context?.close();
  }
}

interface RunResult {
  reports: HeadlessPeerReport[];
  listenersPerTrack: Map<string, number>;
  wallMs: number;
}

async function run(
  token: string,
  sequences: string[][],
  p2p: boolean,
  browsers?: { title: string; results: BrowserResult[] },
): Promise<RunResult> {
  const started = performance.now();
  const peers: HeadlessPeer[] = [];
  const playing: Array<Promise<void>> = [];
  try {
    for (const [arrival, trackIds] of sequences.entries()) {
      if (arrival > 0) await new Promise((resolve) => setTimeout(resolve, ARRIVAL_GAP_MS));
      const peer = await startHeadlessPeer({ baseUrl: server.url, token, trackIds, speed: SPEED, p2p });
      peers.push(peer);
      playing.push(peer.played);
    }
    // A few browsers join while the swarm plays, on the most popular track.
    const browsing = browsers
      ? Promise.all(
          Array.from({ length: BROWSERS }, (_, i) =>
            browserListener(browsers.title, join(work, `chromium-${i}`)).then(
              (result) => void browsers.results.push(result),
              (error: unknown) => console.error(`browser ${i + 1} left out: ${String(error)}`),
            ),
          ),
        )
      : Promise.resolve();
    const deadlineMs = ((TRACK_SECONDS * PLAYS_PER_PEER) / SPEED) * 1000 * 4 + 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(playing),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("swarm run overran")), deadlineMs);
        }),
      ]);
      await browsing;
    } finally {
      clearTimeout(timer);
    }
    const listenersPerTrack = new Map<string, number>();
    for (const sequence of sequences)
      for (const trackId of new Set(sequence))
        listenersPerTrack.set(trackId, (listenersPerTrack.get(trackId) ?? 0) + 1);
    return {
      reports: peers.map((peer) => peer.report()),
      listenersPerTrack,
      wallMs: performance.now() - started,
    };
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
  }
}

function summarizeRun(label: string, result: RunResult): Row {
  let server = 0;
  let peer = 0;
  let cache = 0;
  let popularServer = 0;
  let popularTotal = 0;
  for (const report of result.reports) {
    server += report.bytes.bySource.server;
    peer += report.bytes.bySource.peer;
    cache += report.bytes.bySource.cache;
    for (const [key, bytes] of Object.entries(report.bytes.byTrack)) {
      const trackId = key.split(".")[0]!;
      if ((result.listenersPerTrack.get(trackId) ?? 0) < 5) continue;
      popularServer += bytes.server;
      popularTotal += bytes.server + bytes.peer + bytes.cache;
    }
  }
  const total = server + peer + cache;
  const latencies = summarize(result.reports.flatMap((r) => r.bytes.startLatenciesMs));
  return {
    run: label,
    peers: result.reports.length,
    plays: result.reports.reduce((n, r) => n + r.bytes.startLatenciesMs.length, 0),
    MiB: round(total / 1024 / 1024, 1),
    "server %": round((100 * server) / Math.max(1, total), 1),
    "P2P %": round((100 * peer) / Math.max(1, total), 1),
    "server % (tracks with ≥5 listeners)": round((100 * popularServer) / Math.max(1, popularTotal), 1),
    stutters: result.reports.reduce((n, r) => n + r.stutters, 0),
    "start p50 ms": round(latencies.p50, 0),
    "start p90 ms": round(latencies.p90, 0),
    "rejected pieces": result.reports.reduce((n, r) => n + r.bytes.rejectedPieces, 0),
    "wall s": round(result.wallMs / 1000, 1),
  };
}

const rows: Row[] = [];
try {
  // The web player's production build, for the browsers in the swarm.
  if (BROWSERS > 0) buildWebPlayer();
  const token = await setupAdmin(server.url);
  const ws = await WsClient.connect(server.url, token);
  const found = await waitUntil(
    () =>
      ws.call(searchContract, "query", {
        q: "tone",
        kinds: ["track"],
        limit: 50,
      }),
    (r) => r.hits.length === TRACKS,
    60_000,
  );
  await ws.close();
  const trackIds = found.hits
    .sort((a, b) => a.title.localeCompare(b.title, "en", { numeric: true }))
    .map((h) => h.id);
  // Transcode every track first, so neither run pays for ffmpeg.
  for (const trackId of trackIds) {
    const response = await fetch(`${server.url}/api/stream/${trackId}/opus96/manifest`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await response.arrayBuffer();
  }
  const sequences = zipfPlays(trackIds, PEERS, random(42));
  rows.push(summarizeRun("server only", await run(token, sequences, false)));
  const browsers = { title: "Tone 1", results: [] as BrowserResult[] };
  rows.push(summarizeRun("P2P on", await run(token, sequences, true, browsers)));
  for (const [i, browser] of browsers.results.entries())
    rows.push({
      run: `Chromium ${i + 1} (P2P on, Tone 1, first ${BROWSER_PLAY_MS / 1000} s)`,
      peers: 1,
      plays: 1,
      MiB: round(browser.total / 1024 / 1024, 1),
      "server %": round(browser.serverShare * 100, 0),
      "P2P %": round(browser.peerShare * 100, 0),
      stutters: browser.stalls,
      "start p50 ms": browser.startMs,
    });
  printTable(
    `Swarm: ${PEERS} headless peers arriving ${ARRIVAL_GAP_MS} ms apart, ${TRACKS} tracks of ${TRACK_SECONDS} s (Zipf), ${PLAYS_PER_PEER} plays each at ${SPEED}x`,
    rows,
  );
  console.log(
    `results: ${writeResults("swarm", rows, { peers: PEERS, tracks: TRACKS, speed: SPEED, arrivalGapMs: ARRIVAL_GAP_MS })}`,
  );
} finally {
  server.process.kill("SIGTERM");
  await server.exited;
  releaseWebRtc();
  rmSync(work, { recursive: true, force: true });
}
