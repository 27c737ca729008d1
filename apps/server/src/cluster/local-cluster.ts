// `soundmesh cluster`: a whole cluster on this machine, for trying cluster mode and for the tests. It writes the
// NATS config (a user per service), starts the nats-servers, then the services' processes in three waves (SQL
// services and the singletons; storage, search and recommend; the access points), each a `soundmesh service`.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { AppError } from "@soundmesh/protocol";
import { writeNatsConfig } from "../cli/nats-config-command";
import { processesOf, type ClusterFile } from "./cluster-file";
import type { ClusterService } from "./cluster-services";
import { startNatsNodes, type NatsNode } from "./nats-processes";

/** Started together; each wave waits for the one before to be ready. */
const waves: ReadonlyArray<readonly ClusterService[]> = [
  ["user", "catalog", "playlist", "events", "tracker", "topology"],
  ["storage", "search", "recommend"],
  ["access-point"],
];

/** How long one process may take to say it is ready (a loaded machine, migrations, a JetStream election). */
const readyTimeoutMs = 120_000;

export interface ClusterProcess {
  service: ClusterService;
  node: string;
  pid: number;
  url?: string;
  child: ChildProcess;
}

export interface LocalCluster {
  dataDir: string;
  nats: NatsNode[];
  processes: ClusterProcess[];
  accessPoints: string[];
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  dataDir: string;
  /** How to run `soundmesh` again: node's arguments before the command (the bin script). */
  command: { execPath: string; args: string[] };
  /** Global flags every process gets (e.g. --config). */
  globalArgs?: string[];
  /** Told of each process's exit after start (a crash, a kill). */
  onExit?: (process: ClusterProcess, code: number | null, signal: string | null) => void;
}

function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill("SIGTERM");
  });
}

function startProcess(
  service: ClusterService,
  node: string,
  args: string[],
  options: LocalClusterOptions,
  log: WriteStream,
): Promise<ClusterProcess> {
  const child = spawn(options.command.execPath, [...options.command.args, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: process.env,
  });
  let tail = "";
  const keep = (line: string) => {
    log.write(`${line}\n`);
    tail = `${tail}\n${line}`.slice(-2_000);
  };
  createInterface({ input: child.stderr }).on("line", keep);
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new AppError("UNAVAILABLE", `${node} was not ready within ${readyTimeoutMs / 1000} s:${tail}`));
    }, readyTimeoutMs);
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new AppError("UNAVAILABLE", `${node} exited (${code}) before it was ready:${tail}`));
    };
    child.once("exit", onEarlyExit);
    createInterface({ input: child.stdout }).on("line", (line) => {
      keep(line);
      const ready = /^ready (\S+) (\S+)(?: (\S+))?$/.exec(line);
      if (!ready) return;
      clearTimeout(timer);
      child.off("exit", onEarlyExit);
      const started: ClusterProcess = {
        service,
        node,
        pid: child.pid!,
        child,
        ...(ready[3] ? { url: ready[3] } : {}),
      };
      child.once("exit", (code, signal) => options.onExit?.(started, code, signal));
      resolveReady(started);
    });
  });
}

export async function startLocalCluster(
  file: ClusterFile,
  options: LocalClusterOptions,
): Promise<LocalCluster> {
  const dataDir = resolve(options.dataDir);
  const natsDir = join(dataDir, "nats");
  const logDir = join(dataDir, "logs");
  mkdirSync(logDir, { recursive: true });
  const keysDir = join(natsDir, "keys");
  const natsConfig = join(natsDir, "nats.conf");
  await writeNatsConfig({ out: natsConfig, keys: keysDir });
  const nats = await startNatsNodes(natsConfig, join(natsDir, "store"), file.nats.nodes);
  const processes: ClusterProcess[] = [];
  const logs: WriteStream[] = [];
  const stop = async () => {
    // Access points first (clients leave), then the services, then the broker.
    const order = [...processes].sort(
      (a, b) => Number(b.service === "access-point") - Number(a.service === "access-point"),
    );
    for (const started of order.filter((p) => p.service === "access-point")) await stopChild(started.child);
    await Promise.all(order.filter((p) => p.service !== "access-point").map((p) => stopChild(p.child)));
    await Promise.all(nats.map((node) => stopChild(node.process)));
    for (const log of logs) log.end();
  };
  const common = [
    ...(options.globalArgs ?? []),
    "--database-url",
    file.database,
    "--keys",
    keysDir,
    "--nats",
    ...nats.map((node) => node.url),
  ];
  const ports = file.accessPointPorts ?? [];
  try {
    for (const wave of waves) {
      const starting: Array<Promise<ClusterProcess>> = [];
      for (const service of wave) {
        for (let index = 1; index <= processesOf(file, service); index += 1) {
          const node = `${service}-${index}`;
          // Storage nodes and access points keep their files apart; the rest share the cluster's folder
          // (events writes the buckets recommend reads; the catalog keeps covers and the demo library there).
          const own = service === "storage" || service === "access-point";
          const args = [
            "service",
            service,
            "--node",
            node,
            "--data-dir",
            join(dataDir, own ? node : "shared"),
            ...common,
          ];
          if (service === "access-point")
            args.push("--host", "127.0.0.1", "--port", String(ports[index - 1] ?? 0));
          if (service === "catalog" && file.library?.length) args.push("--library", ...file.library);
          const log = createWriteStream(join(logDir, `${node}.log`), { flags: "a" });
          logs.push(log);
          starting.push(startProcess(service, node, args, options, log));
        }
      }
      const results = await Promise.allSettled(starting);
      for (const result of results) if (result.status === "fulfilled") processes.push(result.value);
      const failed = results.find((result) => result.status === "rejected");
      if (failed) throw failed.reason;
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const accessPoints = processes.flatMap((p) => (p.url ? [p.url] : []));
  writeFileSync(
    join(dataDir, "cluster-state.json"),
    `${JSON.stringify(
      {
        nats: nats.map(({ name, url, args, process: child }) => ({ name, url, pid: child.pid, args })),
        processes: processes.map(({ service, node, pid, url }) => ({ service, node, pid, url })),
        accessPoints,
      },
      null,
      2,
    )}\n`,
  );
  return { dataDir, nats, processes, accessPoints, stop };
}
