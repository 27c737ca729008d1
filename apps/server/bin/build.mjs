#!/usr/bin/env node
// Builds the CLI and the server into apps/server/dist with esbuild: our TypeScript and pure-JS dependencies bundled
// and tree-shaken, one chunk per command (main.ts imports each command when it runs), native addons and files that
// must stay files (pino's transport workers) left to node_modules. dist/build-info.json lists the files the build was
// made from and when it started, so bin/soundmesh.mjs can tell a stale build from a fresh one.
// It also writes, for the commands that must start quickest (--help, user, scan), one CommonJS file per command,
// dist/command-<name>.cjs, which bin/soundmesh.mjs runs through a V8 code cache (code-cache.mjs).
import { readFile } from "node:fs/promises";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { commandBundles } from "./code-cache.mjs";

const serverDir = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = resolve(serverDir, "../..");
export const distDir = join(serverDir, "dist");
export const distEntry = join(distDir, "main.js");
const infoFile = join(distDir, "build-info.json");
const metafileFile = join(distDir, "metafile.json");

/**
 * Left out of the bundle, loaded from node_modules at run time: native addons, pino-pretty (it runs in a worker
 * thread, see pinoWorkerPaths) and optional peers of bundled packages that are not installed.
 */
const external = ["better-sqlite3", "argon2", "sharp", "node-datachannel", "hnswlib-node", "pino-pretty"];
const optionalExternal = ["pg-native", "bufferutil", "utf-8-validate", "fsevents"];

/** Besides the bundled sources: a changed lockfile or build script makes a build stale too. */
const extraInputs = ["package-lock.json", "node_modules/.package-lock.json", "apps/server/bin/build.mjs"];

/** Files of an older build not in the new one are removed once this old, so a process just starting still finds its chunks. */
const keepOldFilesMs = 10 * 60_000;

let temporaryCount = 0;

/** Writes a file whole or not at all, so a process starting during a rebuild never reads half a chunk. */
function writeAtomically(path, contents) {
  const temporary = `${path}.${process.pid}.${(temporaryCount += 1)}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/** Fails the build, not a later command, when an external package cannot be found from dist/. */
function checkExternals() {
  const require = createRequire(distEntry);
  const missing = external.filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new Error(`not installed where dist/ can load them: ${missing.join(", ")}`);
}

/**
 * Our own modules start no timers, open nothing and read no config at import (STYLE.md), so the ones a command does
 * not use are dropped whole, with what they import: `user list` leaves out the NATS transport the bus package also
 * exports, for one.
 */
const ownModulesArePure = {
  name: "soundmesh-own-modules-are-pure",
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (
        args.pluginData === "resolving" ||
        args.importer.includes("node_modules") ||
        args.kind === "entry-point"
      )
        return undefined;
      const result = await build.resolve(args.path, {
        importer: args.importer,
        resolveDir: args.resolveDir,
        kind: args.kind,
        pluginData: "resolving",
      });
      if (result.errors.length > 0 || result.external || result.path.includes("node_modules"))
        return undefined;
      return { path: result.path, sideEffects: false };
    });
  },
};

/** prom-client's names we use, by the file of prom-client that defines each. */
const promClientFiles = {
  Registry: "registry",
  Counter: "counter",
  Gauge: "gauge",
  Histogram: "histogram",
  Summary: "summary",
  collectDefaultMetrics: "defaultMetrics",
};

/** `import { A, type B } from "prom-client"` → one import per file of prom-client that A comes from. */
function importPromClientParts(specifiers, file) {
  const names = specifiers
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "" && !name.startsWith("type "));
  const imports = names.map((name) => {
    if (!promClientFiles[name])
      throw new Error(`${file}: add prom-client's ${name} to promClientFiles in build.mjs`);
    return `import ${name} from "prom-client/lib/${promClientFiles[name]}.js";`;
  });
  return `import type {${specifiers}} from "prom-client"; ${imports.join(" ")}`;
}

/**
 * Two imports of ours are rewritten as they are bundled, to what they mean with less to load:
 * - `import { z } from "zod"` hands over zod's whole namespace object, locales and JSON-schema tools included
 *   (580 kB to parse); as `import * as z` the bundler keeps only the members our schemas use (130 kB).
 * - prom-client's index loads every metric type, the Pushgateway (http, https) and the default metrics
 *   (OpenTelemetry) at once; importing each name from its own file lets the bus's counters come without the rest.
 */
const leanerSource = (source, path) =>
  source
    .replaceAll('import { z } from "zod";', 'import * as z from "zod/v4";')
    .replace(/import \{([^}]*)\} from "prom-client";/g, (_, specifiers) =>
      importPromClientParts(specifiers, path),
    );

const leanerImports = {
  name: "soundmesh-leaner-imports",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (args.path.includes("node_modules")) return undefined;
      return { contents: leanerSource(await readFile(args.path, "utf8"), args.path), loader: "ts" };
    });
  },
};

const cliSources = /apps[\\/]server[\\/]src[\\/]cli[\\/][^\\/]+\.ts$/;

/**
 * The CLI's sources as one command's bundle sees them: each `import("x")` becomes a static import when the bundle
 * holds x eagerly (so x and what it imports are tree-shaken like any static import: esbuild evaluates a module reached
 * by import() whole, wrapped, and so would every module it shares with the rest), stays an import() when it holds x
 * lazily, and otherwise fails naming the bundle: the bin runs another command's line from the ES module build.
 */
function commandBundleSources(name, { eager, lazy }) {
  return {
    name: "soundmesh-command-bundle",
    setup(build) {
      build.onLoad({ filter: cliSources }, async (args) => {
        const used = new Set();
        const bindingOf = (specifier) => `__eager_${specifier.replace(/\W/g, "_")}`;
        const source = (await readFile(args.path, "utf8")).replace(
          /\bimport\("([^"]+)"\)/g,
          (call, specifier) => {
            if (lazy.includes(specifier)) return call;
            if (!eager.includes(specifier))
              return `Promise.reject(new Error(${JSON.stringify(`soundmesh: ${specifier} is not in the ${name} command's bundle`)}))`;
            used.add(specifier);
            return `Promise.resolve(${bindingOf(specifier)})`;
          },
        );
        // Ahead of the file's own imports, in the order of `eager` (one-shot first, as it sets zod up for the schemas),
        // on its first line, so errors and source maps keep their line numbers.
        const statics = eager
          .filter((specifier) => used.has(specifier))
          .map((specifier) => `import * as ${bindingOf(specifier)} from ${JSON.stringify(specifier)}; `);
        return { contents: `${statics.join("")}${leanerSource(source, args.path)}`, loader: "ts" };
      });
    },
  };
}

/**
 * pino is bundled, but its transports (pino-pretty) run in worker threads started from files of pino and
 * thread-stream, which it finds through this hook for bundlers; the paths are looked up only when a transport starts.
 */
const pinoWorkerPaths = [
  "globalThis.__bundlerPathsOverrides ??= {",
  '  get "thread-stream-worker"() { return __soundmeshCreateRequire(require.resolve("pino")).resolve("thread-stream/lib/worker.js"); },',
  '  get "pino-worker"() { return require.resolve("pino/lib/worker.js"); },',
  '  get "pino/file"() { return require.resolve("pino/file.js"); },',
  "};",
].join("\n");

/**
 * Worker threads start from files of their own: the scan's tag readers (services/catalog/src/scan-workers.ts). A
 * checkout without one (the build's own tests make a one-file CLI) builds without it.
 */
function workerEntries() {
  const entries = { "scan-worker": "services/catalog/src/scan-worker.ts" };
  return Object.fromEntries(Object.entries(entries).filter(([, path]) => existsSync(join(repoRoot, path))));
}

/** esbuild's settings for dist/: the CLI's entry; what main.ts imports per command becomes a chunk of its own. */
export function esbuildOptions() {
  return {
    absWorkingDir: repoRoot,
    entryPoints: { main: "apps/server/src/cli/main.ts", ...workerEntries() },
    outdir: distDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Package code that calls require() (CommonJS bundled into ESM) gets a real one.
    banner: {
      js: [
        'import { createRequire as __soundmeshCreateRequire } from "node:module";',
        "const require = __soundmeshCreateRequire(import.meta.url);",
        pinoWorkerPaths,
      ].join("\n"),
    },
    external: [...external, ...optionalExternal],
    // Less to parse at start-up; names stay readable in stack traces.
    minifyWhitespace: true,
    minifySyntax: true,
    // Class and function names as in the sources: pino logs an error's constructor name as its type.
    keepNames: true,
    sourcemap: "linked",
    plugins: [ownModulesArePure, leanerImports],
    metafile: true,
    write: false,
    logLevel: "silent",
  };
}

/**
 * dist/command-<name>.cjs: the CLI as one CommonJS file holding one command's code (commandBundles in code-cache.mjs),
 * which bin/soundmesh.mjs runs through a V8 code cache (node 20 caches compiled code for scripts only, not for ES
 * modules).
 */
export function commandBundleOptions(name) {
  const options = esbuildOptions();
  return {
    ...options,
    entryPoints: { [`command-${name}`]: "apps/server/src/cli/main.ts" },
    splitting: false,
    format: "cjs",
    outExtension: { ".js": ".cjs" },
    // import() of the native addons (argon2, sharp) becomes require(): a script run through node:vm has no import().
    supported: { "dynamic-import": false },
    define: { "import.meta.url": "__soundmeshImportMetaUrl" },
    banner: {
      js: [
        'const { createRequire: __soundmeshCreateRequire } = require("node:module");',
        'const __soundmeshImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
        pinoWorkerPaths,
      ].join("\n"),
    },
    plugins: [commandBundleSources(name, commandBundles[name]), ...options.plugins],
  };
}

/** Builds dist/; returns how long it took and what it wrote. */
export async function buildServer() {
  const startedAtMs = Date.now();
  const esbuild = await import("esbuild");
  const [result, ...bundles] = await Promise.all([
    esbuild.build(esbuildOptions()),
    ...Object.keys(commandBundles).map((name) => esbuild.build(commandBundleOptions(name))),
  ]);
  mkdirSync(distDir, { recursive: true });
  const written = new Set();
  // Chunks first, the entry last: the entry names the chunks, so it must never point at one not yet there.
  const files = [...result.outputFiles, ...bundles.flatMap((bundle) => bundle.outputFiles)].sort(
    (a, b) => Number(a.path === distEntry) - Number(b.path === distEntry),
  );
  for (const file of files) {
    writeAtomically(file.path, file.contents);
    written.add(file.path);
  }
  const inputs = Object.keys(result.metafile.inputs)
    // Files of ours only: packages change through the lockfiles below; "namespace:path" inputs are made up here.
    .filter((input) => !input.includes("node_modules/") && !/^[\w-]+:/.test(input))
    .concat(extraInputs.filter((input) => statSafe(join(repoRoot, input)) !== undefined));
  // What went into each chunk, for `esbuild --analyze`-style questions and the test of what a command loads.
  writeAtomically(metafileFile, JSON.stringify(result.metafile));
  written.add(metafileFile);
  // The same for each command's bundle: dist/command-<name>.meta.json.
  for (const [index, name] of Object.keys(commandBundles).entries()) {
    const file = join(distDir, `command-${name}.meta.json`);
    writeAtomically(file, JSON.stringify(bundles[index].metafile));
    written.add(file);
  }
  writeAtomically(infoFile, JSON.stringify({ startedAtMs, inputs }));
  written.add(infoFile);
  for (const name of readdirSync(distDir)) {
    const path = join(distDir, name);
    const stats = statSafe(path);
    if (!written.has(path) && stats?.isFile() && Date.now() - stats.mtimeMs > keepOldFilesMs)
      rmSync(path, { force: true });
  }
  checkExternals();
  const bytes = files.filter((f) => !f.path.endsWith(".map")).reduce((sum, f) => sum + f.contents.length, 0);
  return {
    durationMs: Date.now() - startedAtMs,
    chunks: files.filter((f) => !f.path.endsWith(".map")).length,
    bytes,
    metafile: result.metafile,
  };
}

function statSafe(path) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { durationMs, chunks, bytes } = await buildServer();
    const where = relative(process.cwd(), distDir) || ".";
    console.log(
      `soundmesh: built ${where} in ${(durationMs / 1000).toFixed(1)} s (${chunks} files, ${(bytes / 1e6).toFixed(1)} MB)`,
    );
  } catch (error) {
    console.error(`soundmesh: the build failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
