// Starts `soundmesh cluster` as a child process for tests and benches (the built CLI, as it ships): waits for it to
// say the cluster is ready, reads cluster-state.json (processes, their pids and nats-servers), stops it with SIGINT.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { builtCliEnv, cliPath } from "./server";

export interface ClusterState {
  nats: Array<{ name: string; url: string; pid: number; args: string[]; status: string; restarts: number }>;
  processes: Array<{
    service: string;
    node: string;
    pid: number;
    url?: string;
    /** The supervisor's view: running, restarting (waiting or starting again) or gave-up. */
    status: "running" | "restarting" | "gave-up";
    restarts: number;
    lastExit?: {
      pid: number;
      code: number | null;
      signal: string | null;
      at: string;
      ranMs: number;
      beforeReady: boolean;
    };
  }>;
  accessPoints: string[];
}

export interface RunningCluster {
  dataDir: string;
  /** cluster-state.json as it was when the cluster was ready. */
  state: ClusterState;
  /** cluster-state.json now (the supervisor rewrites it as processes die and are started again). */
  readState(): ClusterState;
  process: ChildProcess;
  /** How long the command took from spawn to "cluster ready". */
  startupMs: number;
  /** Everything the command printed. */
  output(): string;
  /** A process's log file (every process writes one under <dataDir>/logs). */
  log(node: string): string;
  stop(): Promise<void>;
}

/** Writes `<dataDir>/cluster.json` with `file` (dataDir set to the folder) and starts the cluster from it. */
export async function startCluster(
  dataDir: string,
  file: Record<string, unknown>,
  env: Record<string, string> = {},
  timeoutMs = 240_000,
): Promise<RunningCluster> {
  const clusterFile = join(dataDir, "cluster.json");
  writeFileSync(clusterFile, JSON.stringify({ dataDir: ".", ...file }));
  const startedMs = performance.now();
  const child = spawn(process.execPath, [cliPath, "cluster", "--file", clusterFile], {
    env: {
      ...process.env,
      SOUNDMESH_WATCH: "false",
      SOUNDMESH_DEMO_LIBRARY: "false",
      ...builtCliEnv,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      reject(new Error(`the cluster was not ready within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = () => {
      if (!/cluster ready in/.test(output)) return;
      clearTimeout(timer);
      child.stdout.off("data", onData);
      resolve();
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`soundmesh cluster exited (${code}):\n${output}`));
    });
  });
  const startupMs = performance.now() - startedMs;
  const readState = () =>
    JSON.parse(readFileSync(join(dataDir, "cluster-state.json"), "utf8")) as ClusterState;
  return {
    dataDir,
    state: readState(),
    readState,
    process: child,
    startupMs,
    output: () => output,
    log: (node) => readFileSync(join(dataDir, "logs", `${node}.log`), "utf8"),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}
