// Starts a real nats-server on loopback for tests (a random port), and stops it afterwards.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NatsServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function natsServerAvailable(): boolean {
  return spawnSync("nats-server", ["--version"], { stdio: "ignore" }).status === 0;
}

let warned = false;
/** Whether NATS tests should run: skipped (loudly) only when nats-server is missing and CI is unset. */
export function shouldRunNatsTests(): boolean {
  if (natsServerAvailable()) return true;
  if (process.env.CI)
    throw new Error(
      "nats-server is not installed, and CI requires the NATS tests (apt-get install nats-server)",
    );
  if (!warned) {
    warned = true;
    console.warn(
      "\n*** nats-server not found: NATS transport tests are SKIPPED (apt-get install nats-server) ***\n",
    );
  }
  return false;
}

export async function startNatsServer(extraArgs: string[] = [], timeoutMs = 10_000): Promise<NatsServer> {
  const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", "-1", ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening for client connections on (\S+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`nats://${match[1]!}`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}):\n${output}`));
    });
  });
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        // A process killed by a signal has no exit code but a signal code: it is gone all the same.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

export interface NatsCluster {
  servers: NatsServer[];
  /** Every member's client URL, for a client that may fail over. */
  urls: string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * A JetStream cluster of `size` nats-servers on loopback (random client ports, routes between all), each with its
 * store in a fresh temporary folder. The cluster is formed once a client can create a replicated stream on it: the
 * caller waits for that (e.g. creating its KV bucket with replicas = size, retried until it succeeds).
 */
export async function startNatsCluster(size = 3, extraArgs: string[] = []): Promise<NatsCluster> {
  const storeRoot = mkdtempSync(join(tmpdir(), "soundmesh-nats-cluster-"));
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = clusterPorts.map((port) => `nats://127.0.0.1:${port}`).join(",");
  const servers = await Promise.all(
    clusterPorts.map((port, index) =>
      startNatsServer([
        "-js",
        "-sd",
        join(storeRoot, `n${index}`),
        "--server_name",
        `n${index}`,
        "--cluster_name",
        "soundmesh-test",
        "--cluster",
        `nats://127.0.0.1:${port}`,
        "--routes",
        routes,
        ...extraArgs,
      ]),
    ),
  );
  return {
    servers,
    urls: servers.map((server) => server.url),
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
      rmSync(storeRoot, { recursive: true, force: true });
    },
  };
}
