#!/usr/bin/env node
// Entry of the `soundmesh` command: runs the build in apps/server/dist (made by `npm ci`, `npm start`, the tests'
// global setup, and here when a source is newer than it), or the TypeScript sources through tsx when no build can be
// made. `--help`, `user` and `scan` run from a CommonJS bundle of their own through a V8 code cache (code-cache.mjs),
// every other command from the ES module chunks; SOUNDMESH_CODE_CACHE=off runs every command from the chunks.
// SOUNDMESH_RUN_FROM=source always runs the sources; SOUNDMESH_RUN_FROM=build fails rather than fall back.
// Only the freshness check and the serve launcher load before the command: this file runs on every start, so it
// stays small. `serve` is started again in a child with memory settings node takes only at start (serve-launcher.mjs).
import { fileURLToPath } from "node:url";
import { staleness } from "./build-state.mjs";
import { commandBundleFor, commandWords, loadWithCodeCache } from "./code-cache.mjs";
import { commandOf, followLauncher, runServeChild, shouldRelaunch } from "./serve-launcher.mjs";

const distDir = new URL("../dist/", import.meta.url);
const repoRoot = new URL("../../../", import.meta.url);

async function loadBuild() {
  const stale = staleness(distDir, repoRoot);
  if (stale) {
    const { buildServer } = await import("./build.mjs");
    const { durationMs } = await buildServer();
    process.stderr.write(`soundmesh: rebuilt apps/server/dist in ${durationMs} ms (${stale})\n`);
  }
  const args = process.argv.slice(2);
  const bundle = process.env.SOUNDMESH_CODE_CACHE === "off" ? undefined : commandBundleFor(commandOf(args));
  if (bundle !== undefined)
    return loadWithCodeCache(
      fileURLToPath(new URL(`command-${bundle}.cjs`, distDir)),
      // A folder per bundle: saving a cache removes the caches of other builds of the same bundle.
      fileURLToPath(new URL(`code-cache/${bundle}/`, distDir)),
      commandWords(args),
    );
  return { exports: await import(new URL("main.js", distDir).href), save() {} };
}

async function loadSources(why) {
  process.stderr.write(`soundmesh: running the TypeScript sources through tsx (${why})\n`);
  const { register } = await import("tsx/esm/api");
  register();
  return { exports: await import("../src/cli/main.ts"), save() {} };
}

/** One line: esbuild's first error with its place, or the first line of any other error. */
function firstLine(error) {
  const first = error?.errors?.[0];
  if (first?.location) return `${first.location.file}:${first.location.line}: ${first.text}`;
  return error instanceof Error ? error.message.split("\n")[0] : String(error);
}

async function runHere() {
  const runFrom = process.env.SOUNDMESH_RUN_FROM ?? "auto";
  let cli;
  if (runFrom === "source") cli = await loadSources("SOUNDMESH_RUN_FROM=source");
  else if (runFrom === "build") cli = await loadBuild();
  else if (runFrom === "auto") {
    try {
      cli = await loadBuild();
    } catch (error) {
      cli = await loadSources(`no build could be made: ${firstLine(error)}`);
    }
  } else {
    process.stderr.write(`error: SOUNDMESH_RUN_FROM is auto, build or source, not ${runFrom}\n`);
    process.exit(1);
  }
  followLauncher();
  const exitCode = await cli.exports.main(process.argv);
  cli.save();
  return exitCode;
}

process.exitCode = shouldRelaunch(process.argv.slice(2), process.env)
  ? await runServeChild(fileURLToPath(import.meta.url), process.argv.slice(2))
  : await runHere();
