// Loads a command's own CommonJS bundle (dist/command-<name>.cjs, made by build.mjs) through a V8 code cache: Node 20
// has no compile cache of its own (nor any for ES modules), and compiling the code a command runs is much of a short
// command's start. The cache is
// made on a first run of each command, after it ran (so it holds the functions that command compiled), into
// dist/code-cache/, one file per command, node version and bundle: its name carries the command, node's version,
// V8's and a hash of the bundle, so a new build or another node never reads an old cache. V8 checks the data itself too (its version, the
// source's length, a checksum) and rejects what does not fit: a corrupt or stale file is then ignored and replaced.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import vm from "node:vm";

/**
 * The cache file for `source` under `cacheDir`, for the command `variant` (each command compiles other functions, so
 * each has its own cache): another node, V8 or bundle makes another name.
 */
export function cacheFileFor(cacheDir, source, variant = "main") {
  return join(cacheDir, `${safeName(variant)}${cacheSuffix(source)}`);
}

function cacheSuffix(source) {
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  return `-${safeName(process.version)}-${safeName(process.versions.v8)}-${process.arch}-${hash}.bin`;
}

const safeName = (text) => text.replace(/[^\w.-]/g, "_");

/**
 * The commands that run from a bundle of their own, and what each bundle holds of the CLI's modules (apps/server/src/cli)
 * that are imported with import(): `eager` ones become static imports (evaluated at start, in this order, and
 * tree-shaken with the rest), `lazy` ones stay import()s inside the bundle; any other is left out (an import() of it
 * fails, naming the bundle). "help" is `soundmesh` with no command word: --help, --version, `help`.
 */
export const commandBundles = {
  help: { eager: [], lazy: ["./describe-error"] },
  user: { eager: ["./one-shot", "./user-command", "./describe-error"], lazy: ["./prompt"] },
  scan: { eager: ["./one-shot", "./scan-command", "./describe-error"], lazy: [] },
};

/** The bundle that runs `command` (the command word, see commandOf in serve-launcher.mjs), or undefined: the chunks. */
export function commandBundleFor(command) {
  if (command === undefined) return "help";
  return Object.hasOwn(commandBundles, command) ? command : undefined;
}

/** `soundmesh -d dir user list --json` → "user-list": the command words of argv, the cache's variant. */
export function commandWords(args) {
  const words = args.filter((arg, i) => !arg.startsWith("-") && (i === 0 || !args[i - 1].startsWith("-")));
  return words.slice(0, 2).join("-") || "main";
}

function readCache(file) {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Runs the CommonJS bundle at `bundlePath` and returns its exports, with `save()` to call once the command ran: it
 * writes the cache when there was none or V8 rejected it (best effort, a read-only dist/ only goes without).
 */
export function loadWithCodeCache(
  bundlePath,
  cacheDir = join(dirname(bundlePath), "code-cache"),
  variant = "main",
) {
  // Hashed as read: hashing the string would encode it to UTF-8 again first.
  const bytes = readFileSync(bundlePath);
  const suffix = cacheSuffix(bytes);
  const source = bytes.toString("utf8");
  const cacheFile = join(cacheDir, `${safeName(variant)}${suffix}`);
  const cachedData = readCache(cacheFile);
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, {
    filename: bundlePath,
    cachedData,
  });
  const cacheUsed = cachedData !== undefined && !script.cachedDataRejected;
  const module = { exports: {} };
  script.runInThisContext()(
    module.exports,
    createRequire(bundlePath),
    module,
    bundlePath,
    dirname(bundlePath),
  );
  return {
    exports: module.exports,
    cacheUsed,
    cacheFile,
    save() {
      if (cacheUsed) return;
      try {
        mkdirSync(cacheDir, { recursive: true });
        const temporary = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(temporary, script.createCachedData());
        renameSync(temporary, cacheFile);
        // Caches of older builds or other nodes are of no more use.
        for (const name of readdirSync(cacheDir))
          if (name.endsWith(".bin") && !name.endsWith(suffix)) rmSync(join(cacheDir, name), { force: true });
      } catch {
        // No cache this time: the command itself went well.
      }
    },
  };
}
