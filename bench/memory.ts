// Memory benchmark: the all-in-one server (the built CLI, `soundmesh serve`, a child process with default settings:
// library watching on; the server is the launcher's child, bin/serve-launcher.mjs, measured apart from the launcher) on generated MP3 libraries of 5k, 20k and 100k tracks. It scans, builds its search index, transcodes the
// newest tracks ahead, then idles; printed: idle RSS and heap (from /proc and the server's own /metrics), the peak during the scan, RSS over
// time; then the heap by part from bench/heap-parts.ts (the same wiring, built, with --expose-gc, one part at a time).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildServer } from "../apps/server/bin/build.mjs";
import { printTable, round, writeResults, type Row } from "./report";
import { taggedLibrary } from "./tagged-copies";
import { bundleHeapParts } from "./heap-parts-bundle";
// The process that runs the server: `serve` starts it as the launcher's child (bin/serve-launcher.mjs).
import { serverPidOf } from "@soundmesh/test-kit/server";

const SIZES = (process.env.BENCH_MEMORY_SIZES ?? "5000,20000,100000").split(",").map(Number);
/**
 * How long the server idles after its search index is built before the idle figures are read: its memory release
 * runs in the first quiet 5 s window after the busy spell, and the collection that shrinks V8's young generation 5 s
 * later (apps/server/src/memory-release.ts).
 */
const IDLE_SECONDS = Number(process.env.BENCH_MEMORY_IDLE_SECONDS ?? 30);
const TARGET_MIB: Record<number, number> = { 5000: 100, 100000: 200 };
const cli = fileURLToPath(new URL("../apps/server/bin/soundmesh.mjs", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-memory-"));
const MiB = 1024 * 1024;
const mib = (bytes: number) => round(bytes / MiB, 1);

/**
 * VmRSS and VmHWM (peak) of a process, in bytes, from /proc; RSS in two parts: anonymous (V8's heap, malloc) and
 * file-backed (the pages of node's binary and libraries it has touched, shared with every node process).
 */
function residentBytes(pid: number): { rss: number; peak: number; anonymous: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0) * 1024;
  return { rss: field("VmRSS"), peak: field("VmHWM"), anonymous: field("RssAnon"), file: field("RssFile") };
}

/** Proportional set size of a process (its own pages, and its share of pages it shares, like node's binary). */
function proportionalBytes(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
}

/** The server's own figures from its Prometheus endpoint (loopback may read it). */
async function metricsOf(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    heapUsed: value("nodejs_heap_size_used_bytes"),
    heapTotal: value("nodejs_heap_size_total_bytes"),
    external: value("nodejs_external_memory_bytes"),
    rss: value("process_resident_memory_bytes"),
  };
}

/** Transcodes running or waiting (the storage service transcodes the newest tracks of a scan ahead). */
async function transcodesPending(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^soundmesh_transcodes_(?:running|queued)(?:\{[^}]*\})? (\S+)$/gm)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
}

/** Waits until no transcode has run or waited for `quietSeconds` in a row (read once a second); says how long it took. */
async function transcodesDone(url: string, quietSeconds = 5): Promise<number> {
  const started = performance.now();
  for (let quiet = 0; quiet < quietSeconds;) {
    quiet = (await transcodesPending(url)) === 0 ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return (performance.now() - started) / 1000;
}

interface Milestones {
  listeningMs?: number;
  scanFinishedMs?: number;
  indexedMs?: number;
  url?: string;
}

/** Starts the server, follows its log until the search index holds the scanned library, then samples RSS while idle. */
async function measureServer(tracks: number, root: string): Promise<{ row: Row; series: number[][] }> {
  const dataDir = join(work, `data-${tracks}`);
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, [cli, "serve", "--port", "0", "-d", dataDir], {
    env: {
      ...process.env,
      SOUNDMESH_RUN_FROM: "build",
      SOUNDMESH_LIBRARY: root,
      SOUNDMESH_DEMO_LIBRARY: "false",
      SOUNDMESH_LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const launcherPid = child.pid!;
  const series: number[][] = [];
  const sample = () => {
    series.push([
      round((performance.now() - started) / 1000, 1),
      mib(residentBytes(serverPidOf(launcherPid)).rss),
    ]);
  };
  const sampler = setInterval(sample, 1_000);
  const seen: Milestones = {};
  let pending = "";
  let errors = "";
  const indexed = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const elapsed = performance.now() - started;
        const listening = /listening on (\S+)/.exec(line);
        if (listening) [seen.url, seen.listeningMs] = [listening[1]!, elapsed];
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; documents?: number };
        if (entry.msg === "scan finished") seen.scanFinishedMs = elapsed;
        if (entry.msg === "search index swapped in" && seen.scanFinishedMs !== undefined && entry.documents) {
          seen.indexedMs = elapsed;
          resolve();
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => (errors += chunk.toString()));
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}:\n${errors}`)));
  });
  try {
    await indexed;
    const pid = serverPidOf(launcherPid);
    const peakDuringScan = residentBytes(pid).peak;
    // Idle means after the transcodes a first scan starts (the newest 100 tracks, each profile ahead).
    const aheadSeconds = await transcodesDone(seen.url!);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    sample();
    const resident = residentBytes(pid);
    const idle = resident.rss;
    const launcher = pid === launcherPid ? 0 : proportionalBytes(launcherPid);
    const metrics = await metricsOf(seen.url!);
    const target = TARGET_MIB[tracks];
    return {
      row: {
        tracks,
        "scan s": round((seen.scanFinishedMs! - seen.listeningMs!) / 1000, 1),
        "ahead s": round(aheadSeconds, 0),
        "peak RSS MiB": mib(peakDuringScan),
        "idle RSS MiB": mib(idle),
        "anon MiB": mib(resident.anonymous),
        "file MiB": mib(resident.file),
        "target MiB": target ?? "",
        "RSS/target": target ? round(idle / MiB / target, 2) : "",
        "launcher PSS MiB": mib(launcher),
        "server + launcher MiB": mib(idle + launcher),
        "heap used MiB": mib(metrics.heapUsed!),
        "heap total MiB": mib(metrics.heapTotal!),
        "external MiB": mib(metrics.external!),
      },
      series,
    };
  } finally {
    clearInterval(sampler);
    child.kill("SIGTERM");
    await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(null)));
  }
}

/** The heap by part: bench/heap-parts.ts, bundled like the server, in its own process with --expose-gc. */
function heapParts(tracks: number, root: string, bundle: string): Row[] {
  const result = spawnSync(process.execPath, ["--expose-gc", bundle, root, join(work, `parts-${tracks}`)], {
    encoding: "utf8",
    maxBuffer: 16 * MiB,
  });
  if (result.status !== 0) throw new Error(`heap-parts failed:\n${result.stderr}`);
  const parts = JSON.parse(result.stdout.trim().split("\n").pop()!) as Row[];
  return parts.map((part) => ({ tracks, ...part }));
}

const build = await buildServer();
console.log(`server built (${build.chunks} files)`);
/** BENCH_MEMORY_PARTS=false skips the heap by part. */
const withParts = process.env.BENCH_MEMORY_PARTS !== "false";
const bundle = withParts ? await bundleHeapParts() : undefined;
const rows: Row[] = [];
const partRows: Row[] = [];
const series: Record<number, number[][]> = {};
const libraries: Record<number, number> = {};
for (const tracks of SIZES) {
  // Without cover art, as the first figures were taken: sharp (libvips) loads with the first cover a scan looks at.
  const library = taggedLibrary(tracks, { covers: false });
  libraries[tracks] = round(library.generatedSeconds, 1);
  const measured = await measureServer(tracks, library.root);
  rows.push(measured.row);
  series[tracks] = measured.series;
  console.log(JSON.stringify(measured.row));
  if (bundle) partRows.push(...heapParts(tracks, library.root, bundle));
}
rmSync(work, { recursive: true, force: true });
printTable(
  `Memory: soundmesh serve (built), default settings, generated MP3 libraries; idle = ${IDLE_SECONDS} s after the transcodes ahead of the first scan (ahead s) are done; anon = V8's heap and malloc, file = node's binary and libraries`,
  rows,
);
printTable(
  "Memory by part: the same wiring in one process (--expose-gc, gc before each reading); deltas as each part is created",
  partRows,
);
for (const [tracks, points] of Object.entries(series))
  console.log(
    `RSS over time, ${tracks} tracks (s:MiB): ${points
      .filter((_, i) => i % Math.max(1, Math.floor(points.length / 20)) === 0)
      .map(([s, rss]) => `${s}:${rss}`)
      .join(" ")}`,
  );
writeResults("memory", rows, { parts: partRows, rssOverTime: series, idleSeconds: IDLE_SECONDS, libraries });
