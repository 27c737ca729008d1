// The nats-servers `soundmesh cluster` starts on loopback: one, or a JetStream cluster whose nodes route to each
// other; all read the config `soundmesh nats-config` wrote (a user per service, its manifest's permissions).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { AppError } from "@soundmesh/protocol";
import type { ProcessExit } from "./supervisor";

export interface NatsNode {
  name: string;
  url: string;
  /** The command line it was started with, to start it again on the same port and store. */
  args: string[];
  process: ChildProcess;
  /** Set by `soundmesh cluster`'s supervisor. */
  status?: "running" | "restarting" | "gave-up";
  restarts?: number;
  lastExit?: ProcessExit;
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Starts nats-server with `args`; resolves once it listens for clients. */
export function spawnNatsServer(name: string, args: string[], timeoutMs = 20_000): Promise<NatsNode> {
  const child = spawn("nats-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new AppError(
          "UNAVAILABLE",
          `nats-server ${name} did not start within ${timeoutMs} ms: ${output.slice(-500)}`,
        ),
      );
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      if (output.length < 64_000) output += chunk.toString();
      const match = /Listening for client connections on (\S+:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        child.stderr.off("data", onData);
        // Keep draining its output so a chatty server never blocks on a full pipe.
        child.stdout.resume();
        child.stderr.resume();
        resolve({ name, url: `nats://${match[1]!}`, args, process: child });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(
        new AppError(
          "DEPENDENCY_MISSING",
          `nats-server cannot be started (${error.message}); install it (apt-get install nats-server)`,
        ),
      );
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new AppError("UNAVAILABLE", `nats-server ${name} exited (${code}): ${output.slice(-500)}`));
    });
  });
}

export function requireNatsServer(): void {
  if (spawnSync("nats-server", ["--version"], { stdio: "ignore" }).status !== 0) {
    throw new AppError("DEPENDENCY_MISSING", "nats-server is not installed (apt-get install nats-server)");
  }
}

/** `nodes` nats-servers with JetStream, each with its store under `storeRoot`; routes between all when more than one. */
export async function startNatsNodes(
  configFile: string,
  storeRoot: string,
  nodes: number,
): Promise<NatsNode[]> {
  requireNatsServer();
  const clientPorts = await Promise.all(Array.from({ length: nodes }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: nodes }, () => freePort()));
  const routes = routePorts.map((port) => `nats://127.0.0.1:${port}`).join(",");
  return Promise.all(
    clientPorts.map((port, index) => {
      const name = `nats-${index + 1}`;
      const store = join(storeRoot, name);
      mkdirSync(store, { recursive: true });
      const args = [
        "-c",
        configFile,
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "-js",
        "-sd",
        store,
        "--server_name",
        name,
      ];
      if (nodes > 1) {
        args.push(
          "--cluster_name",
          "soundmesh",
          "--cluster",
          `nats://127.0.0.1:${routePorts[index]!}`,
          "--routes",
          routes,
        );
      }
      return spawnNatsServer(name, args);
    }),
  );
}
