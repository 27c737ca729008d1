// Starts a real nats-server on loopback for tests (a random port), and stops it afterwards.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";

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
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
