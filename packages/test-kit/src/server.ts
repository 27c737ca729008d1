// Starts soundmesh for tests: in-process (fast) or as a real child process (for kill -9 and restart tests).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig, startAllInOne, createLogger, type RunningServer } from "@soundmesh/server";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const cliPath = join(repoRoot, "apps/server/bin/soundmesh.mjs");
/**
 * For spawned CLIs: run the build in apps/server/dist (made by the tests' global setup), and fail rather than fall
 * back to the TypeScript sources, so what is tested is what ships.
 */
export const builtCliEnv = { SOUNDMESH_RUN_FROM: "build" } as const;

/** Cheap argon2 settings so tests spend their time on behaviour, not hashing. */
export const fastSecurity = { argon2MemoryKiB: 1024, argon2TimeCost: 1 };

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Stops the server and removes its data dir unless it was given. */
  close(): Promise<void>;
}

export interface StartServerOptions {
  dataDir?: string;
  libraryFolders?: string[];
  databaseUrl?: string;
  overrides?: Record<string, unknown>;
}

export async function startServer(options: StartServerOptions = {}): Promise<TestServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "soundmesh-test-"));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      port: 0,
      logLevel: process.env.SOUNDMESH_TEST_LOG_LEVEL ?? "silent",
      library: { folders: options.libraryFolders ?? [], demo: false, watch: false },
      security: fastSecurity,
      ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
      ...options.overrides,
    },
  });
  const server = await startAllInOne(config, createLogger(config.logLevel));
  return {
    ...server,
    dataDir,
    async close() {
      await server.stop();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildServer {
  url: string;
  process: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /**
   * The pid of the process that runs the server, for CPU, memory and child-process readings: `serve` runs it as
   * the launcher's child (bin/serve-launcher.mjs), or in the launcher itself with SOUNDMESH_MEMORY_SETTINGS=off.
   */
  serverPid(): number;
}

/** The launcher's first child, or the launcher itself when it has none (the server runs in it). */
export function serverPidOf(launcherPid: number): number {
  const children = readdirSync(`/proc/${launcherPid}/task`).flatMap((task) =>
    readFileSync(`/proc/${launcherPid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number),
  );
  return children[0] ?? launcherPid;
}

/**
 * Runs `soundmesh serve` as a separate process on a free port and waits until it listens. `cli` is another copy of
 * the command to run (a bench compares a build kept from before a change with the current one); `nodeArgs` are
 * node's own options (such as --cpu-prof, which NODE_OPTIONS refuses), which the launcher passes on to the server.
 */
export async function spawnServer(
  dataDir: string,
  env: Record<string, string> = {},
  timeoutMs = 30_000,
  cli = cliPath,
  nodeArgs: readonly string[] = [],
): Promise<ChildServer> {
  const child = spawn(process.execPath, [...nodeArgs, cli, "serve", "--port", "0", "--data-dir", dataDir], {
    env: {
      ...process.env,
      SOUNDMESH_DEMO_LIBRARY: "false",
      SOUNDMESH_WATCH: "false",
      SOUNDMESH_LOG_LEVEL: "warn",
      ...builtCliEnv,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolveExit) =>
    child.once("exit", (code, signal) => resolveExit(code ?? signal ?? "unknown")),
  );
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    };
    child.stdout.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${output}`));
    });
  });
  return { url, process: child, output: () => output, exited, serverPid: () => serverPidOf(child.pid!) };
}
