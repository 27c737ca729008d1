// Start-up benchmark: how long `soundmesh` commands take end to end (spawn to exit, or to listening for `serve`),
// each beside bare `node -e ''` measured in the same rounds, since this machine is shared and its speed varies.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildServer } from "../apps/server/bin/build.mjs";
import { writeToneSync } from "@soundmesh/test-kit";
import { printTable, round, writeResults, type Row } from "./report";

const TRACKS = Number(process.env.BENCH_STARTUP_TRACKS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 11);
const SOURCE_ROUNDS = Number(process.env.BENCH_STARTUP_SOURCE_ROUNDS ?? 3);
const PER_ALBUM = 10;
const OUTPUTS_PER_FFMPEG = 100;
const cli = fileURLToPath(new URL("../apps/server/bin/soundmesh.mjs", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-startup-"));

/** Short base files in four formats; every track is a copy of one with its own tags, written by ffmpeg. */
const formats = [
  { ext: "mp3", codec: ["-c:a", "libmp3lame", "-b:a", "96k"], tagArgs: ["-id3v2_version", "3"] },
  { ext: "flac", codec: ["-c:a", "flac"], tagArgs: [] },
  { ext: "ogg", codec: ["-c:a", "libvorbis", "-q:a", "2"], tagArgs: [] },
  { ext: "m4a", codec: ["-c:a", "aac", "-b:a", "96k"], tagArgs: [] },
];

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", ...args], {
      stdio: "inherit",
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited with ${code}`))));
  });
}

/** The library, made once per machine (cached in the temp dir): ffmpeg copies each base with new tags. */
async function libraryOf(tracks: number): Promise<string> {
  const root = join(tmpdir(), `soundmesh-bench-startup-library-v1-${tracks}`);
  if (existsSync(join(root, ".complete"))) return root;
  rmSync(root, { recursive: true, force: true });
  const bases = formats.map((format, i) =>
    writeToneSync(join(work, `base.${format.ext}`), {
      frequency: 220 + i * 55,
      seconds: 1,
      codec: format.codec,
    }),
  );
  const jobs: string[][] = [];
  for (let start = 0; start < tracks; start += OUTPUTS_PER_FFMPEG) {
    const albumIndex = Math.floor(start / PER_ALBUM);
    const format = albumIndex % formats.length;
    const args = ["-i", bases[format]!];
    for (let n = start; n < Math.min(tracks, start + OUTPUTS_PER_FFMPEG); n++) {
      const album = Math.floor(n / PER_ALBUM);
      const track = (n % PER_ALBUM) + 1;
      const dir = join(root, `Artist ${album % 100}`, `Album ${album}`);
      mkdirSync(dir, { recursive: true });
      args.push("-map", "0:a", "-c", "copy", ...formats[format]!.tagArgs);
      for (const [key, value] of Object.entries({
        title: `Song ${n}`,
        artist: `Artist ${album % 100}`,
        album_artist: `Artist ${album % 100}`,
        album: `Album ${album}`,
        track: `${track}/${PER_ALBUM}`,
        date: String(1960 + (album % 60)),
        genre: ["Rock", "Jazz", "Pop", "Folk"][album % 4]!,
      }))
        args.push("-metadata", `${key}=${value}`);
      args.push(join(dir, `${String(track).padStart(2, "0")} Song ${n}.${formats[format]!.ext}`));
    }
    jobs.push(args);
  }
  // Every album of a batch has the same format, since batches start on album boundaries; two ffmpegs at once.
  const running = new Set<Promise<void>>();
  for (const job of jobs) {
    const done: Promise<void> = runFfmpeg(job).finally(() => running.delete(done));
    running.add(done);
    if (running.size >= 2) await Promise.race(running);
  }
  await Promise.all(running);
  writeFileSync(join(root, ".complete"), new Date().toISOString());
  return root;
}

interface Measure {
  name: string;
  /** What the row measures, for the table. */
  args: string[];
  env?: Record<string, string>;
  /** For `serve`: stop timing when stdout matches, then stop the server. */
  until?: RegExp;
  input?: string;
  targetMs?: number;
  rounds?: number;
  samplesMs: number[];
}

/** Spawns node with `args` and resolves with the milliseconds until it exits (or prints `until`). */
function timeOnce(measure: Measure): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, measure.args, {
      env: { ...process.env, ...measure.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    let elapsedMs: number | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (measure.until && elapsedMs === undefined && measure.until.test(output)) {
        elapsedMs = performance.now() - started;
        child.kill("SIGTERM");
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      const ms = elapsedMs ?? performance.now() - started;
      if (code !== 0 && !(measure.until && elapsedMs !== undefined))
        reject(new Error(`${measure.name} exited with ${code}:\n${output}`));
      else resolve(ms);
    });
    child.stdin.end(measure.input ?? "");
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const build = await buildServer();
const library = await libraryOf(TRACKS);
const emptyFolder = join(work, "empty");
mkdirSync(emptyFolder);
const usersDir = join(work, "users");
const libraryDir = join(work, "library-data");
const serveDir = join(work, "serve");
const quiet = { SOUNDMESH_DEMO_LIBRARY: "false", SOUNDMESH_WATCH: "false", SOUNDMESH_LOG_LEVEL: "warn" };
const cheapHashes = { SOUNDMESH_CONFIG: join(work, "config.json") };
writeFileSync(cheapHashes.SOUNDMESH_CONFIG, JSON.stringify({ security: { argon2MemoryKiB: 1024 } }));

// Set-up, not timed: a database with a few users, the library's first scan, a server's first start.
for (const name of ["alice", "bob", "carol", "dave"])
  await timeOnce({
    name: "user add",
    args: [cli, "user", "add", name, "--password-stdin", "--data-dir", usersDir],
    env: cheapHashes,
    input: `${name} password\n`,
    samplesMs: [],
  });
await timeOnce({ name: "first scan", args: [cli, "scan", "-l", library, "-d", libraryDir], samplesMs: [] });
await timeOnce({
  name: "first serve",
  args: [cli, "serve", "--port", "0", "-d", serveDir],
  env: quiet,
  until: /listening on/,
  samplesMs: [],
});

const walkAndStat = `const {readdirSync,statSync}=require("node:fs");let n=0;for(const e of readdirSync(${JSON.stringify(library)},{recursive:true,withFileTypes:true}))if(e.isFile()){statSync(e.parentPath+"/"+e.name);n++}`;
const measures: Measure[] = [
  { name: "node -e '' (limit)", args: ["-e", ""], samplesMs: [] },
  { name: "soundmesh --help", args: [cli, "--help"], targetMs: 150, samplesMs: [] },
  {
    name: "soundmesh user list (4 users)",
    args: [cli, "user", "list", "-d", usersDir],
    targetMs: 150,
    samplesMs: [],
  },
  {
    name: "soundmesh scan, empty folder",
    args: [cli, "scan", "-l", emptyFolder, "-d", join(work, "e")],
    samplesMs: [],
  },
  {
    name: `node: walk and stat the ${TRACKS.toLocaleString("en")} files (limit)`,
    args: ["-e", walkAndStat],
    samplesMs: [],
  },
  {
    name: `soundmesh scan, no-change rescan of ${TRACKS.toLocaleString("en")} tracks`,
    args: [cli, "scan", "-l", library, "-d", libraryDir],
    targetMs: 300,
    samplesMs: [],
  },
  {
    name: "soundmesh serve, until listening",
    args: [cli, "serve", "--port", "0", "-d", serveDir],
    env: quiet,
    until: /listening on/,
    samplesMs: [],
  },
  {
    name: "soundmesh --help, TypeScript sources (tsx)",
    args: [cli, "--help"],
    env: { SOUNDMESH_RUN_FROM: "source" },
    rounds: SOURCE_ROUNDS,
    samplesMs: [],
  },
  {
    name: "soundmesh user list, TypeScript sources (tsx)",
    args: [cli, "user", "list", "-d", usersDir],
    env: { SOUNDMESH_RUN_FROM: "source" },
    rounds: SOURCE_ROUNDS,
    samplesMs: [],
  },
];

// Round-robin, so a busy moment of the machine lands on every row alike.
for (let round = 0; round < ROUNDS; round++)
  for (const measure of measures)
    if (round < (measure.rounds ?? ROUNDS)) measure.samplesMs.push(await timeOnce(measure));

const bareMs = median(measures[0]!.samplesMs);
const walkMs = median(measures[4]!.samplesMs);
const rows: Row[] = measures.map((measure) => {
  const ms = median(measure.samplesMs);
  return {
    command: measure.name,
    "median ms": Math.round(ms),
    "min ms": Math.round(Math.min(...measure.samplesMs)),
    runs: measure.samplesMs.length,
    "× node": round(ms / bareMs, 2),
    target:
      measure.targetMs === undefined
        ? ""
        : `${measure.targetMs} ms (${round(measure.targetMs / bareMs, 2)}× node)`,
    ...(measure.name.includes("rescan") ? { "× walk+stat": round(ms / walkMs, 2) } : {}),
  };
});
rmSync(work, { recursive: true, force: true });
printTable(
  `Start-up, spawn to exit (serve: to "listening"), median of ${ROUNDS} rounds; build: ${build.chunks} files, ` +
    `${(build.bytes / 1e6).toFixed(1)} MB, made in ${(build.durationMs / 1000).toFixed(1)} s`,
  rows,
);
writeResults("startup", rows, {
  tracks: TRACKS,
  rounds: ROUNDS,
  samplesMs: Object.fromEntries(measures.map((measure) => [measure.name, measure.samplesMs.map(Math.round)])),
  build: { files: build.chunks, bytes: build.bytes, durationMs: build.durationMs },
});
