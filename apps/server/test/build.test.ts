// The CLI runs from the esbuild build in apps/server/dist: when the bin calls a build fresh, that it runs the build
// and not the TypeScript sources, and that each command loads its own code only.
import { spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { builtCliEnv, cliPath } from "@soundmesh/test-kit/server";
import { staleness } from "../bin/build-state.mjs";

const workDir = mkdtempSync(join(tmpdir(), "soundmesh-build-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const distDir = fileURLToPath(new URL("../dist/", import.meta.url));
const recorder = fileURLToPath(new URL("fixtures/record-loaded-modules.mjs", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** URLs of every module the process resolved or required. */
  loaded: string[];
}

let runs = 0;
/** Runs the `soundmesh` command with the module recorder preloaded. */
function runRecorded(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const record = join(workDir, `loaded-${(runs += 1)}.txt`);
  writeFileSync(record, "");
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", recorder, cliPath, ...args], {
      env: { ...process.env, SOUNDMESH_TEST_LOADED_MODULES: record, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("exit", (code) =>
      resolve({ code, stdout, stderr, loaded: readFileSync(record, "utf8").split("\n").filter(Boolean) }),
    );
  });
}

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

interface BundleMetafile {
  inputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}

/** The ES module chunks of dist/ a run loaded. */
function chunksOf(run: Run): string[] {
  const distUrl = pathToFileURL(distDir).href;
  return run.loaded.filter((url) => url.startsWith(distUrl)).map((url) => url.slice(distUrl.length));
}

/** The source files (repo-relative) bundled into the chunks of dist/ a run loaded. */
function chunkSourcesOf(run: Run): string[] {
  const metafile = JSON.parse(readFileSync(join(distDir, "metafile.json"), "utf8")) as Metafile;
  const chunks = chunksOf(run);
  expect(chunks).toContain("main.js");
  return chunks.flatMap((chunk) => Object.keys(metafile.outputs[`apps/server/dist/${chunk}`]?.inputs ?? {}));
}

/**
 * The source files a command's own bundle (dist/command-<name>.cjs) runs at start: those its entry reaches through
 * static imports and require()s; what only an import() reaches runs when imported.
 */
function eagerSourcesOf(bundle: string): string[] {
  const metafile = JSON.parse(
    readFileSync(join(distDir, `command-${bundle}.meta.json`), "utf8"),
  ) as BundleMetafile;
  const seen = new Set<string>();
  const next = ["apps/server/src/cli/main.ts"];
  for (let path = next.pop(); path !== undefined; path = next.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of metafile.inputs[path]?.imports ?? [])
      if (!imported.external && imported.kind !== "dynamic-import") next.push(imported.path);
  }
  return [...seen];
}

/**
 * Each command is checked as it runs by default (its own bundle, for --help, user and scan) and from the ES module
 * chunks (SOUNDMESH_CODE_CACHE=off, as every other command runs): the sources it loads, and that it ran that way.
 */
const loadings: Array<{
  name: string;
  env: Record<string, string>;
  sourcesOf: (run: Run, bundle: string) => string[];
}> = [
  {
    name: "its own bundle",
    env: { ...builtCliEnv },
    sourcesOf: (run: Run, bundle: string) => {
      expect(chunksOf(run)).toEqual([]);
      return eagerSourcesOf(bundle);
    },
  },
  {
    name: "the ES module chunks",
    env: { ...builtCliEnv, SOUNDMESH_CODE_CACHE: "off" },
    sourcesOf: (run: Run) => chunkSourcesOf(run),
  },
];

describe("the build's freshness (bin/build-state.mjs)", () => {
  const rootPath = join(workDir, "fresh");
  const root = pathToFileURL(`${rootPath}/`);
  const dist = new URL("dist/", root);
  const source = join(rootPath, "src", "a.ts");
  const startedAtMs = Date.now();

  beforeEach(() => {
    rmSync(rootPath, { recursive: true, force: true });
    mkdirSync(join(rootPath, "src"), { recursive: true });
    mkdirSync(fileURLToPath(dist));
    writeFileSync(source, "export const a = 1;\n");
    const before = new Date(startedAtMs - 60_000);
    utimesSync(source, before, before);
    writeFileSync(new URL("build-info.json", dist), JSON.stringify({ startedAtMs, inputs: ["src/a.ts"] }));
  });

  it("is fresh when every input is older than the build's start", () => {
    expect(staleness(dist, root)).toBeUndefined();
  });

  it("is stale once an input is newer than the build, and names it", () => {
    const after = new Date(startedAtMs + 1_000);
    utimesSync(source, after, after);
    expect(staleness(dist, root)).toBe("src/a.ts changed");
  });

  it("is stale when an input is gone", () => {
    unlinkSync(source);
    expect(staleness(dist, root)).toBe("src/a.ts is gone");
  });

  it("is stale without a build, or with a build-info.json that is not JSON", () => {
    writeFileSync(new URL("build-info.json", dist), "{ half written");
    expect(staleness(dist, root)).toBe("no build yet");
    unlinkSync(new URL("build-info.json", dist));
    expect(staleness(dist, root)).toBe("no build yet");
  });
});

describe("the bin's choice between the build and the sources", () => {
  // A checkout of its own: the bin and build scripts, a one-file CLI, the real node_modules; the real dist/ is left
  // alone while other suites run from it.
  const root = join(workDir, "checkout");
  const binDir = join(root, "apps/server/bin");
  const mainSource = join(root, "apps/server/src/cli/main.ts");
  const realBin = fileURLToPath(new URL("../bin/", import.meta.url));
  const fakeMain = (word: string) =>
    `export async function main(argv: string[]): Promise<number> {\n  console.log("${word}", argv.length);\n  return 0;\n}\n`;

  function runBin(env: Record<string, string> = {}) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(binDir, "soundmesh.mjs")], {
        env: { ...process.env, SOUNDMESH_RUN_FROM: "auto", ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
  }

  beforeEach(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(binDir, { recursive: true });
    mkdirSync(join(root, "apps/server/src/cli"), { recursive: true });
    for (const file of [
      "soundmesh.mjs",
      "build.mjs",
      "build-state.mjs",
      "serve-launcher.mjs",
      "code-cache.mjs",
    ])
      copyFileSync(join(realBin, file), join(binDir, file));
    symlinkSync(fileURLToPath(new URL("../../../node_modules", import.meta.url)), join(root, "node_modules"));
    writeFileSync(mainSource, fakeMain("first"));
  });

  it("builds when there is no build, then runs that build without a word", async () => {
    const first = await runBin();
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^soundmesh: rebuilt apps\/server\/dist in \d+ ms \(no build yet\)\n$/);
    expect(first.stdout).toBe("first 2\n");
    const second = await runBin();
    expect(second).toEqual({ code: 0, stdout: "first 2\n", stderr: "" });
  });

  it("rebuilds before running when a source is newer than the build, naming it", async () => {
    expect((await runBin()).code).toBe(0);
    writeFileSync(mainSource, fakeMain("second"));
    const later = new Date(Date.now() + 1_000);
    utimesSync(mainSource, later, later);
    const run = await runBin();
    expect(run.stderr).toMatch(
      /^soundmesh: rebuilt apps\/server\/dist in \d+ ms \(apps\/server\/src\/cli\/main\.ts changed\)\n$/,
    );
    expect(run.stdout).toBe("second 2\n");
  });

  it("falls back to the sources with a one-line note when no build can be made, unless told to run the build", async () => {
    writeFileSync(mainSource, `${fakeMain("sources")}export const broken = ;\n`);
    const auto = await runBin();
    expect(auto.stderr).toMatch(
      /^soundmesh: running the TypeScript sources through tsx \(no build could be made: apps\/server\/src\/cli\/main\.ts:5: .+\)\n/,
    );
    const strict = await runBin({ SOUNDMESH_RUN_FROM: "build" });
    expect(strict.code).not.toBe(0);
    expect(strict.stdout).toBe("");
    expect(strict.stderr).not.toContain("running the TypeScript sources");
  });
});

describe("the soundmesh command", () => {
  const distUrl = pathToFileURL(distDir).href;

  it("runs the build, not the TypeScript sources, when a fresh build exists", async () => {
    // A command with no bundle of its own: the ES module chunks.
    const run = await runRecorded(["jobs", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: soundmesh jobs");
    expect(run.stderr).toBe("");
    expect(run.loaded).toContain(`${distUrl}main.js`);
    expect(run.loaded.filter((url) => /\.tsx?$/.test(url))).toEqual([]);
    expect(run.loaded.filter((url) => url.includes("/node_modules/tsx/"))).toEqual([]);
  });

  it("runs the TypeScript sources through tsx when told to, and says so in one line", async () => {
    const run = await runRecorded(["--help"], { SOUNDMESH_RUN_FROM: "source" });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: soundmesh");
    expect(run.stderr).toBe(
      "soundmesh: running the TypeScript sources through tsx (SOUNDMESH_RUN_FROM=source)\n",
    );
    expect(run.loaded.some((url) => url.endsWith("/apps/server/src/cli/main.ts"))).toBe(true);
    expect(run.loaded.filter((url) => url.startsWith(distUrl))).toEqual([]);
  });

  it("refuses a SOUNDMESH_RUN_FROM it does not know", async () => {
    const run = await runRecorded(["--help"], { SOUNDMESH_RUN_FROM: "compiled" });
    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toBe("error: SOUNDMESH_RUN_FROM is auto, build or source, not compiled");
  });
});

describe.each(loadings)("what a command loads, from $name", ({ env, sourcesOf }) => {
  it("loads commander and the command table alone for --help", async () => {
    const run = await runRecorded(["--help"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: soundmesh");
    const others = sourcesOf(run, "help").filter(
      (source) => !source.startsWith("node_modules/commander/") && !source.startsWith("apps/server/src/cli/"),
    );
    expect(others).toEqual([]);
  });

  it("loads the database and the user service for `user list`, never sharp, Fastify, argon2, the NATS client or the web player", async () => {
    const run = await runRecorded(["user", "list", "--data-dir", join(workDir, "data")], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^NAME\s+ROLE\s+STATE/);
    const sources = sourcesOf(run, "user");
    expect(sources).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^services\/user\/src\//),
        expect.stringMatching(/^packages\/db\/src\//),
      ]),
    );
    const unwanted =
      /node_modules\/(sharp|fastify|@fastify|argon2|music-metadata|node-datachannel|pg|@nats-io)\/|services\/(access-point|catalog|storage|search|playlist|tracker)\/|apps\/web\//;
    expect([...sources, ...run.loaded].filter((module) => unwanted.test(module))).toEqual([]);
  });

  it("loads the catalog for a `scan` that finds nothing new, never music-metadata, sharp, Fastify, the NATS client, search, storage or the web player", async () => {
    const library = join(workDir, "empty-library");
    mkdirSync(library, { recursive: true });
    const run = await runRecorded(
      [
        "scan",
        "--library",
        library,
        "--data-dir",
        join(workDir, `scan-data-${env.SOUNDMESH_CODE_CACHE ?? "on"}`),
      ],
      env,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("scan finished: 0 added");
    const sources = sourcesOf(run, "scan");
    expect(sources).toEqual(expect.arrayContaining([expect.stringMatching(/^services\/catalog\/src\//)]));
    const unwanted =
      /node_modules\/(sharp|@img|music-metadata|strtok3|file-type|fastify|@fastify|argon2|node-datachannel|pg|@nats-io)\/|services\/(access-point|storage|search|playlist|tracker|user)\/|apps\/web\//;
    expect([...sources, ...run.loaded].filter((module) => unwanted.test(module))).toEqual([]);
  });
});
