// Start-up benchmark: how long `soundmesh` commands take end to end (spawn to exit, or to listening for `serve`),
// each beside bare `node -e ''` measured in the same rounds, since this machine is shared and its speed varies.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildServer } from "../apps/server/bin/build.mjs";
import { printTable, round, writeResults, type Row } from "./report";
import { FORMATS, taggedLibrary } from "./tagged-library";

const TRACKS = Number(process.env.BENCH_STARTUP_TRACKS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 11);
const SOURCE_ROUNDS = Number(process.env.BENCH_STARTUP_SOURCE_ROUNDS ?? 3);
const cli = fileURLToPath(new URL("../apps/server/bin/soundmesh.mjs", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "soundmesh-bench-startup-"));

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
  /** CPU time (user + system) of the child and what it waited for, 10 ms steps (Linux clock ticks). */
  cpuMs?: number[];
}

/** CPU time of this process's exited and waited-for children so far (Linux: /proc/self/stat cutime + cstime). */
function childrenCpuMs(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // Fields 16 and 17 of stat(5), counted from the state (field 3) here.
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** Spawns node with `args`, resolves with the milliseconds until it exits (or prints `until`), notes its CPU time. */
async function timeOnce(measure: Measure): Promise<number> {
  const cpuBefore = childrenCpuMs();
  const ms = await timeSpawn(measure);
  (measure.cpuMs ??= []).push(childrenCpuMs() - cpuBefore);
  return ms;
}

function timeSpawn(measure: Measure): Promise<number> {
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
// Four formats, album by album in turn; the same generator as bench/scan.ts.
const library = await taggedLibrary("startup-library-v2", TRACKS, [
  FORMATS.mp3,
  FORMATS.flac,
  FORMATS.ogg,
  FORMATS.m4a,
]);
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

/** `--help`, `user` and `scan` run from a bundle of their own through the V8 code cache; this runs them as the rest. */
const chunks = { SOUNDMESH_CODE_CACHE: "off" };
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
    name: "soundmesh --help, ES module chunks",
    args: [cli, "--help"],
    env: chunks,
    samplesMs: [],
  },
  {
    name: "soundmesh user list, ES module chunks",
    args: [cli, "user", "list", "-d", usersDir],
    env: chunks,
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
    name: `soundmesh scan, no-change rescan of ${TRACKS.toLocaleString("en")} tracks, ES module chunks`,
    args: [cli, "scan", "-l", library, "-d", libraryDir],
    env: chunks,
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

// Untimed: each row once (but the slow tsx ones), so each command's code cache is made as its first run makes it.
for (const measure of measures.filter((m) => m.rounds === undefined))
  await timeOnce({ ...measure, samplesMs: [] });

// Round-robin, so a busy moment of the machine lands on every row alike.
for (let round = 0; round < ROUNDS; round++)
  for (const measure of measures)
    if (round < (measure.rounds ?? ROUNDS)) measure.samplesMs.push(await timeOnce(measure));

const load = loadavg()
  .map((value) => value.toFixed(2))
  .join(", ");
const bareMs = median(measures[0]!.samplesMs);
const walkMs = median(measures.find((m) => m.name.startsWith("node: walk"))!.samplesMs);
const bareCpuMs = median(measures[0]!.cpuMs!);
const rows: Row[] = measures.map((measure) => {
  const ms = median(measure.samplesMs);
  return {
    command: measure.name,
    "median ms": Math.round(ms),
    "min ms": Math.round(Math.min(...measure.samplesMs)),
    runs: measure.samplesMs.length,
    "× node": round(ms / bareMs, 2),
    "CPU ms": median(measure.cpuMs!),
    "CPU × node": round(median(measure.cpuMs!) / bareCpuMs, 2),
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
    `${(build.bytes / 1e6).toFixed(1)} MB, made in ${(build.durationMs / 1000).toFixed(1)} s; load average ${load}`,
  rows,
);
writeResults("startup", rows, {
  tracks: TRACKS,
  rounds: ROUNDS,
  loadAverage: loadavg(),
  samplesMs: Object.fromEntries(measures.map((measure) => [measure.name, measure.samplesMs.map(Math.round)])),
  cpuMs: Object.fromEntries(measures.map((measure) => [measure.name, measure.cpuMs])),
  build: { files: build.chunks, bytes: build.bytes, durationMs: build.durationMs },
});
