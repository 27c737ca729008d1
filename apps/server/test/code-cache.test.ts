// The V8 code cache of a command's CommonJS bundle (bin/code-cache.mjs): made after a first run, used by the next,
// ignored and replaced when it is corrupt or made for another bundle; the real build's CLI runs through it; and each
// command line goes to the bundle that holds its command.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cacheFileFor, commandBundleFor, commandWords, loadWithCodeCache } from "../bin/code-cache.mjs";
import { commandOf, globalOptionsWithValue } from "../bin/serve-launcher.mjs";
import { buildProgram } from "../src/cli/main";

const workDir = mkdtempSync(join(tmpdir(), "soundmesh-code-cache-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const codeCacheModule = fileURLToPath(new URL("../bin/code-cache.mjs", import.meta.url));
const builtBundle = fileURLToPath(new URL("../dist/command-help.cjs", import.meta.url));

function bundle(name: string, body: string): string {
  const path = join(workDir, name);
  writeFileSync(path, `"use strict";\n${body}\n`);
  return path;
}

const sumSource = "exports.sum = (values) => values.reduce((a, b) => a + b, 0); exports.file = __filename;";

/**
 * Loads `path` through the cache in a new node (V8 also keeps what one process compiled, so a second load in the
 * same process says nothing of the file), calls `sum([1, 2, 3])` and saves; returns what it printed.
 */
function loadInChild(path: string, cacheDir: string) {
  const script = [
    `import { loadWithCodeCache } from ${JSON.stringify(codeCacheModule)};`,
    `const loaded = loadWithCodeCache(${JSON.stringify(path)}, ${JSON.stringify(cacheDir)});`,
    "loaded.save();",
    "console.log(JSON.stringify({ cacheUsed: loaded.cacheUsed, sum: loaded.exports.sum([1, 2, 3]), file: loaded.exports.file, cacheFile: loaded.cacheFile }));",
  ].join("\n");
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { cacheUsed: boolean; sum: number; file: string; cacheFile: string };
}

describe("code cache", () => {
  it("is made after a first run and used by the next", () => {
    const path = bundle("sum.cjs", sumSource);
    const cacheDir = join(workDir, "cache-a");
    const first = loadInChild(path, cacheDir);
    expect(first).toMatchObject({ cacheUsed: false, sum: 6, file: path });
    expect(readdirSync(cacheDir)).toHaveLength(1);
    expect(loadInChild(path, cacheDir)).toMatchObject({ cacheUsed: true, sum: 6 });
  });

  it("ignores a corrupt cache file, runs the bundle and replaces the file", () => {
    const path = bundle("corrupt.cjs", sumSource);
    const cacheDir = join(workDir, "cache-b");
    const first = loadInChild(path, cacheDir);
    writeFileSync(first.cacheFile, Buffer.from("not a V8 code cache at all, garbage bytes"));
    expect(loadInChild(path, cacheDir)).toMatchObject({ cacheUsed: false, sum: 6 });
    expect(loadInChild(path, cacheDir)).toMatchObject({ cacheUsed: true, sum: 6 });
    writeFileSync(first.cacheFile, "");
    expect(loadInChild(path, cacheDir)).toMatchObject({ cacheUsed: false, sum: 6 });
  });

  it("names the cache after the bundle, so a changed bundle never reads an old cache; save removes old ones", () => {
    const cacheDir = join(workDir, "cache-c");
    const before = cacheFileFor(cacheDir, sumSource);
    const after = cacheFileFor(cacheDir, `${sumSource} exports.more = 1;`);
    expect(after).not.toBe(before);
    expect(before).toContain(process.version);
    expect(cacheFileFor(cacheDir, sumSource, "user-list")).not.toBe(before);
    const path = bundle("changing.cjs", sumSource);
    loadWithCodeCache(path, cacheDir).save();
    bundle("changing.cjs", `${sumSource} exports.more = 1;`);
    const changed = loadWithCodeCache(path, cacheDir);
    expect(changed.cacheUsed).toBe(false);
    expect(changed.exports.more).toBe(1);
    changed.save();
    expect(readdirSync(cacheDir)).toEqual([changed.cacheFile.slice(cacheDir.length + 1)]);
  });

  it("keeps one cache per command", () => {
    expect(commandWords(["user", "list", "-d", "/tmp/x"])).toBe("user-list");
    expect(commandWords(["-d", "/tmp/x", "scan", "-l", "/music"])).toBe("scan");
    expect(commandWords(["--help"])).toBe("main");
  });

  it("sends a command line to the bundle holding its command, any other to the ES module build", () => {
    const bundleOf = (args: string[]) => commandBundleFor(commandOf(args));
    expect(bundleOf([])).toBe("help");
    expect(bundleOf(["--help"])).toBe("help");
    expect(bundleOf(["-V"])).toBe("help");
    expect(bundleOf(["help", "user"])).toBe("help");
    expect(bundleOf(["user", "list", "-d", "/tmp/x"])).toBe("user");
    expect(bundleOf(["-d", "scan", "user", "add", "scan"])).toBe("user");
    expect(bundleOf(["--data-dir", "user", "scan"])).toBe("scan");
    expect(bundleOf(["--config=x.json", "-c", "serve", "scan", "-l", "/music"])).toBe("scan");
    expect(bundleOf(["serve", "--port", "0"])).toBeUndefined();
    expect(bundleOf(["-d", "/tmp/x", "peer"])).toBeUndefined();
  });

  it("knows every option of soundmesh that takes a value, so a value is never read as the command", () => {
    const taking = buildProgram()
      .options.filter((option) => option.required || option.optional)
      .flatMap((option) => [option.short, option.long].filter((flag) => flag !== undefined));
    expect([...globalOptionsWithValue].sort()).toEqual(taking.sort());
  });

  it("runs the build's CLI through the cache, a corrupt cache included", () => {
    const copy = join(workDir, "command-help.cjs");
    copyFileSync(builtBundle, copy);
    const cacheDir = join(workDir, "cli-cache");
    const script = [
      `import { loadWithCodeCache } from ${JSON.stringify(codeCacheModule)};`,
      `const cli = loadWithCodeCache(${JSON.stringify(copy)}, ${JSON.stringify(cacheDir)});`,
      `process.exitCode = await cli.exports.main(["node", "soundmesh", "--help"]);`,
      "cli.save();",
      "console.log(`cache used: ${cli.cacheUsed}`);",
    ].join("\n");
    const run = () =>
      spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("Usage: soundmesh");
    expect(first.stdout).toContain("cache used: false");
    expect(run().stdout).toContain("cache used: true");
    const [cacheName] = readdirSync(cacheDir);
    writeFileSync(join(cacheDir, cacheName!), Buffer.alloc(4096, 7));
    const corrupt = run();
    expect(corrupt.status, corrupt.stderr).toBe(0);
    expect(corrupt.stdout).toContain("Usage: soundmesh");
    expect(corrupt.stdout).toContain("cache used: false");
  });
});
