// Scan benchmark: first scan and no-change rescan of generated libraries, one per format (MP3, Ogg Vorbis, FLAC),
// each beside the limit measured in the same run: music-metadata alone reading the same files' tags in one process.
// soundmesh is timed end to end: `soundmesh scan` from the build, spawned, until it exits (a new SQLite database).
import { execFile } from "node:child_process";
import { readdirSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseFile } from "music-metadata";
import { buildServer } from "../apps/server/bin/build.mjs";
import { printTable, round, writeResults, type Row } from "./report";
import { FORMATS, taggedLibrary, type LibraryFormat } from "./tagged-library";

const TRACKS = Number(process.env.BENCH_SCAN_TRACKS ?? 4_000);
const ROUNDS = Number(process.env.BENCH_SCAN_ROUNDS ?? 3);
/** Files music-metadata reads at once for the limit (the scanner's concurrency before it read files in workers). */
const LIMIT_CONCURRENCY = 4;
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-scan-"));

function audioFiles(root: string, ext: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(`.${ext}`))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Seconds for music-metadata to read every file's tags and header duration, `LIMIT_CONCURRENCY` at once. */
async function musicMetadataAlone(files: string[]): Promise<{ seconds: number; cpuSeconds: number }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const metadata = await parseFile(files[next++]!, { duration: false, skipCovers: true });
      if (!metadata.common.title) throw new Error("a generated file without a title");
    }
  };
  await Promise.all(Array.from({ length: LIMIT_CONCURRENCY }, worker));
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

const cli = fileURLToPath(new URL("../apps/server/bin/soundmesh.mjs", import.meta.url));
const run = promisify(execFile);

/**
 * Seconds for `soundmesh scan` of `root` into a new data folder (first scan), then again (no-change rescan), and the
 * CPU seconds of the first (user + system, all its threads, from GNU time): on these shared cores the CPU a scan
 * costs varies much less than how long it waits for a turn.
 */
async function soundmeshScans(root: string, label: string, tracks: number) {
  const dataDir = join(work, `${label}-${Math.random()}`);
  const seconds: number[] = [];
  let cpuSeconds = 0;
  for (let pass = 0; pass < 2; pass++) {
    const started = performance.now();
    const { stdout, stderr } = await run("/usr/bin/time", [
      ...["-f", "cpu %U %S", process.execPath, cli, "scan", "-l", root, "-d", dataDir],
    ]);
    seconds.push((performance.now() - started) / 1000);
    const [, user, system] = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr) ?? [];
    if (pass === 0) cpuSeconds = Number(user) + Number(system);
    const expected = pass === 0 ? `${tracks} added` : `0 added, 0 updated, 0 removed, ${tracks} unchanged`;
    if (!stdout.includes(expected) || !stdout.includes(" 0 could not be read"))
      throw new Error(`${label} pass ${pass}: ${stdout}`);
  }
  rmSync(dataDir, { recursive: true, force: true });
  return { first: seconds[0]!, rescan: seconds[1]!, cpuSeconds };
}

const libraries: Array<[string, LibraryFormat]> = [
  ["MP3 (ID3v2.3, 128k)", FORMATS.mp3],
  ["Ogg Vorbis (q5)", FORMATS.ogg],
  ["FLAC", FORMATS.flac],
];
await buildServer();
const rows: Row[] = [];
const runs: Row[] = [];
for (const [label, format] of libraries) {
  const root = await taggedLibrary(`scan-${format.ext}`, TRACKS, [format], 2);
  const files = audioFiles(root, format.ext);
  if (files.length !== TRACKS) throw new Error(`${label}: ${files.length} files, not ${TRACKS}`);
  const samples: Array<{ limit: number; limitCpu: number; first: number; firstCpu: number; rescan: number }> =
    [];
  for (let round_ = 0; round_ < ROUNDS; round_++) {
    const { seconds: limit, cpuSeconds: limitCpu } = await musicMetadataAlone(files);
    const { first, rescan, cpuSeconds: firstCpu } = await soundmeshScans(root, format.ext, TRACKS);
    samples.push({ limit, limitCpu, first, firstCpu, rescan });
    runs.push({
      library: label,
      round: round_ + 1,
      "limit s": round(limit, 2),
      "limit CPU s": round(limitCpu, 2),
      "first scan s": round(first, 2),
      "first scan CPU s": round(firstCpu, 2),
      "rescan s": round(rescan, 2),
    });
    console.log(JSON.stringify(runs[runs.length - 1]));
  }
  // The median round by first-scan time, with its limit measured just before it.
  const median = [...samples].sort((a, b) => a.first - b.first)[Math.floor(samples.length / 2)]!;
  const rate = (seconds: number) => Math.round(TRACKS / seconds);
  rows.push({
    library: label,
    tracks: TRACKS,
    "first scan tracks/s": rate(median.first),
    "range tracks/s": `${rate(Math.max(...samples.map((s) => s.first)))}–${rate(Math.min(...samples.map((s) => s.first)))}`,
    "music-metadata alone tracks/s (limit)": rate(median.limit),
    "× limit": round(median.limit / median.first, 2),
    "first scan tracks/CPU s": rate(median.firstCpu),
    "limit tracks/CPU s": rate(median.limitCpu),
    "no-change rescan tracks/s": rate(median.rescan),
  });
}
rmSync(work, { recursive: true, force: true });
printTable(
  `Library scan: ${TRACKS} tracks per format, \`soundmesh scan\` end to end, SQLite, median of ${ROUNDS} rounds`,
  rows,
);
writeResults("scan", rows, { tracks: TRACKS, rounds: ROUNDS, runs, limitConcurrency: LIMIT_CONCURRENCY });
