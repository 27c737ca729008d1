#!/usr/bin/env node
// Entry of the `soundmesh` command: runs the build in apps/server/dist (made by `npm ci`, `npm start`, the tests'
// global setup, and here when a source is newer than it), or the TypeScript sources through tsx when no build can be
// made. SOUNDMESH_RUN_FROM=source always runs the sources; SOUNDMESH_RUN_FROM=build fails rather than fall back.
// Only node:fs loads before the command: this file runs on every start, so it stays small.
import { readFileSync, statSync } from "node:fs";

const distDir = new URL("../dist/", import.meta.url);
const repoRoot = new URL("../../../", import.meta.url);

/** Why the build cannot run as it is, or undefined when it is newer than every file it was made from. */
function staleness() {
  let info;
  try {
    info = JSON.parse(readFileSync(new URL("build-info.json", distDir), "utf8"));
  } catch {
    return "no build yet";
  }
  for (const input of info.inputs) {
    const stats = statSync(new URL(input, repoRoot), { throwIfNoEntry: false });
    if (!stats) return `${input} is gone`;
    if (stats.mtimeMs > info.startedAtMs) return `${input} changed`;
  }
  return undefined;
}

async function loadBuild() {
  const stale = staleness();
  if (stale) {
    const { buildServer } = await import("./build.mjs");
    const { durationMs } = await buildServer();
    process.stderr.write(`soundmesh: rebuilt apps/server/dist in ${durationMs} ms (${stale})\n`);
  }
  return import(new URL("main.js", distDir).href);
}

async function loadSources(why) {
  process.stderr.write(`soundmesh: running the TypeScript sources through tsx (${why})\n`);
  const { register } = await import("tsx/esm/api");
  register();
  return import("../src/cli/main.ts");
}

const runFrom = process.env.SOUNDMESH_RUN_FROM ?? "auto";
let cli;
if (runFrom === "source") cli = await loadSources("SOUNDMESH_RUN_FROM=source");
else if (runFrom === "build") cli = await loadBuild();
else {
  try {
    cli = await loadBuild();
  } catch (error) {
    cli = await loadSources(
      `no build: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
    );
  }
}
process.exitCode = await cli.main(process.argv);
