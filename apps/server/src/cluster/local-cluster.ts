// `soundmesh cluster`: a whole cluster on this machine, for trying cluster mode and for the tests. It writes the
// NATS config (a user per service), starts the nats-servers, then the services' processes in three waves (SQL
// services and the singletons; storage, search and recommend; the access points), each a `soundmesh service`, and
// supervises them: one that dies is started again with back-off (./supervisor.ts), recorded in cluster-state.json.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, renameSync, writeFileSync, type WriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { AppError } from "@soundmesh/protocol";
import { writeNatsConfig } from "../cli/nats-config-command";
import { processesOf, type ClusterFile } from "./cluster-file";
import type { ClusterService } from "./cluster-services";
import { spawnNatsServer, startNatsNodes, type NatsNode } from "./nats-processes";
import {
  RestartBackoff,
  defaultRestartPolicy,
  describeExit,
  type ProcessExit,
  type RestartPolicy,
} from "./supervisor";

/** Started together; each wave waits for the one before to be ready. */
const waves: ReadonlyArray<readonly ClusterService[]> = [
  ["user", "catalog", "playlist", "events", "tracker", "topology"],
  ["storage", "search", "recommend"],
  ["access-point"],
];

/** How long one process may take to say it is ready (a loaded machine, migrations, a JetStream election). */
const readyTimeoutMs = 120_000;

export type ProcessStatus = "running" | "restarting" | "gave-up";

export interface ClusterProcess {
  service: ClusterService;
  node: string;
  /** The running child's pid (the last one's, after it died). */
  pid: number;
  url?: string;
  child: ChildProcess;
  status: ProcessStatus;
  /** Times the supervisor started it again. */
  restarts: number;
  lastExit?: ProcessExit;
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
  /** When and how often a process that dies is started again (`defaultRestartPolicy` when absent). */
  restart?: RestartPolicy;
  /** Told of each process's exit after start (a crash, a kill), before the supervisor acts. */
  onExit?: (process: ClusterProcess, code: number | null, signal: string | null) => void;
  /** The supervisor's lines (restarting, restarted, giving up), for stderr. */
  say?: (line: string) => void;
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

/** A start that did not get to its ready line: how the child ended (or that it was killed for being slow). */
class StartFailure extends AppError {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
  ) {
    super("UNAVAILABLE", message);
  }
}

interface StartedChild {
  child: ChildProcess;
  url?: string;
}

/** Spawns one `soundmesh service` and resolves at its ready line; `onSpawn` gets the child at once. */
function startChild(
  node: string,
  args: string[],
  options: LocalClusterOptions,
  log: WriteStream,
  onSpawn: (child: ChildProcess) => void = () => undefined,
): Promise<StartedChild> {
  const child = spawn(options.command.execPath, [...options.command.args, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: process.env,
  });
  onSpawn(child);
  let tail = "";
  const keep = (line: string) => {
    log.write(`${line}\n`);
    tail = `${tail}\n${line}`.slice(-2_000);
  };
  createInterface({ input: child.stderr }).on("line", keep);
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new StartFailure(`${node} was not ready within ${readyTimeoutMs / 1000} s:${tail}`, null, "SIGKILL"),
      );
    }, readyTimeoutMs);
    const onEarlyExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(
        new StartFailure(`${node} exited (${signal ?? code}) before it was ready:${tail}`, code, signal),
      );
    };
    child.once("exit", onEarlyExit);
    createInterface({ input: child.stdout }).on("line", (line) => {
      keep(line);
      const ready = /^ready (\S+) (\S+)(?: (\S+))?$/.exec(line);
      if (!ready) return;
      clearTimeout(timer);
      child.off("exit", onEarlyExit);
      resolveReady({ child, ...(ready[3] ? { url: ready[3] } : {}) });
    });
  });
}

/** Writes `file` whole or not at all (scripts and tests read it while the supervisor rewrites it). */
function writeWhole(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** The access point's arguments with the port it got at its first start, so a restart listens where it did. */
function keepPort(args: string[], url: string | undefined): string[] {
  const at = args.indexOf("--port");
  if (at < 0 || url === undefined) return args;
  const port = new URL(url).port;
  return port ? [...args.slice(0, at + 1), port, ...args.slice(at + 2)] : args;
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
  const policy = options.restart ?? defaultRestartPolicy;
  const say = options.say ?? (() => undefined);
  await writeNatsConfig({ out: natsConfig, keys: keysDir });
  const nats = await startNatsNodes(natsConfig, join(natsDir, "store"), file.nats.nodes);
  const processes: ClusterProcess[] = [];
  const logs: WriteStream[] = [];
  /** Set by stop(): from then on no exit is restarted. */
  let stopping = false;
  /** Restarts waiting for their delay, and children started again but not yet ready. */
  const timers = new Set<NodeJS.Timeout>();
  const starting = new Set<ChildProcess>();
  let stateWritten = false;

  const writeState = () => {
    if (!stateWritten) return;
    writeWhole(
      join(dataDir, "cluster-state.json"),
      `${JSON.stringify(
        {
          nats: nats.map(({ name, url, args, process: child, status, restarts, lastExit }) => ({
            name,
            url,
            pid: child.pid,
            args,
            status: status ?? "running",
            restarts: restarts ?? 0,
            ...(lastExit ? { lastExit } : {}),
          })),
          processes: processes.map(({ service, node, pid, url, status, restarts, lastExit }) => ({
            service,
            node,
            pid,
            url,
            status,
            restarts,
            ...(lastExit ? { lastExit } : {}),
          })),
          accessPoints: processes.flatMap((p) => (p.url ? [p.url] : [])),
        },
        null,
        2,
      )}\n`,
    );
  };

  /** Watches one process from its ready line: an exit not asked for by stop() starts it again, or gives up. */
  const supervise = (proc: ClusterProcess, args: string[], log: WriteStream) => {
    const backoff = new RestartBackoff(policy);
    let startedAtMs = performance.now();
    const afterExit = (exit: ProcessExit) => {
      if (stopping) return;
      proc.lastExit = exit;
      const decision = backoff.afterExit(exit);
      if (decision.action === "give-up") {
        proc.status = "gave-up";
        say(
          `giving up on ${proc.node}: ${decision.fastFailures} fast failures in a row (last ${describeExit(exit)}); ` +
            `the cluster runs on without it; see ${join(logDir, `${proc.node}.log`)}`,
        );
        writeState();
        return;
      }
      proc.status = "restarting";
      say(
        `${proc.node} (pid ${exit.pid}) ${describeExit(exit)}; restarting in ${decision.delayMs / 1000} s ` +
          `(fast failure ${decision.fastFailures} of ${policy.maxFastFailures})`,
      );
      writeState();
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (stopping) return;
        proc.restarts += 1;
        const spawnedAtMs = performance.now();
        log.write(`--- restart ${proc.restarts} of ${proc.node} ---\n`);
        let spawned: ChildProcess | undefined;
        startChild(proc.node, args, options, log, (child) => {
          spawned = child;
          starting.add(child);
        }).then(
          ({ child, url }) => {
            starting.delete(child);
            if (stopping) return;
            proc.child = child;
            proc.pid = child.pid!;
            if (url) proc.url = url;
            proc.status = "running";
            startedAtMs = performance.now();
            say(`${proc.node} restarted (pid ${proc.pid}, restart ${proc.restarts})`);
            writeState();
            watch(child);
          },
          (error: unknown) => {
            if (spawned) starting.delete(spawned);
            const failure = error instanceof StartFailure ? error : undefined;
            afterExit({
              pid: spawned?.pid ?? 0,
              code: failure?.exitCode ?? null,
              signal: failure?.signal ?? null,
              at: new Date().toISOString(),
              ranMs: Math.round(performance.now() - spawnedAtMs),
              beforeReady: true,
            });
          },
        );
      }, decision.delayMs);
      timers.add(timer);
    };
    const watch = (child: ChildProcess) =>
      child.once("exit", (code, signal) => {
        if (stopping) return;
        options.onExit?.(proc, code, signal);
        afterExit({
          pid: child.pid ?? 0,
          code,
          signal,
          at: new Date().toISOString(),
          ranMs: Math.round(performance.now() - startedAtMs),
          beforeReady: false,
        });
      });
    watch(proc.child);
  };

  /**
   * Watches one nats-server the same way: one that dies is started again on its port and store (it rejoins the
   * JetStream cluster and its routes), with the same back-off, or given up on.
   */
  const superviseNats = (node: NatsNode) => {
    const backoff = new RestartBackoff(policy);
    let startedAtMs = performance.now();
    node.status = "running";
    node.restarts = 0;
    const afterExit = (exit: ProcessExit) => {
      if (stopping) return;
      node.lastExit = exit;
      const decision = backoff.afterExit(exit);
      if (decision.action === "give-up") {
        node.status = "gave-up";
        say(
          `giving up on ${node.name}: ${decision.fastFailures} fast failures in a row (last ${describeExit(exit)}); ` +
            `the cluster runs on the other nats-servers, if any`,
        );
        writeState();
        return;
      }
      node.status = "restarting";
      say(
        `${node.name} (pid ${exit.pid}) ${describeExit(exit)}; restarting in ${decision.delayMs / 1000} s ` +
          `(fast failure ${decision.fastFailures} of ${policy.maxFastFailures})`,
      );
      writeState();
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (stopping) return;
        node.restarts = (node.restarts ?? 0) + 1;
        const spawnedAtMs = performance.now();
        spawnNatsServer(node.name, node.args).then(
          (started) => {
            if (stopping) {
              void stopChild(started.process);
              return;
            }
            node.process = started.process;
            node.status = "running";
            startedAtMs = performance.now();
            say(`${node.name} restarted (pid ${started.process.pid}, restart ${node.restarts})`);
            writeState();
            watch(started.process);
          },
          (error: unknown) => {
            say(`${node.name} did not start again: ${(error as Error).message}`);
            afterExit({
              pid: 0,
              code: null,
              signal: null,
              at: new Date().toISOString(),
              ranMs: Math.round(performance.now() - spawnedAtMs),
              beforeReady: true,
            });
          },
        );
      }, decision.delayMs);
      timers.add(timer);
    };
    const watch = (child: ChildProcess) =>
      child.once("exit", (code, signal) => {
        if (stopping) return;
        afterExit({
          pid: child.pid ?? 0,
          code,
          signal,
          at: new Date().toISOString(),
          ranMs: Math.round(performance.now() - startedAtMs),
          beforeReady: false,
        });
      });
    watch(node.process);
  };
  for (const node of nats) superviseNats(node);

  const stop = async () => {
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    await Promise.all([...starting].map((child) => stopChild(child)));
    // Access points first (clients leave), then the services, then the broker.
    for (const started of processes.filter((p) => p.service === "access-point"))
      await stopChild(started.child);
    await Promise.all(processes.filter((p) => p.service !== "access-point").map((p) => stopChild(p.child)));
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
  /** Every process's node id in the order the waves name them. */
  const plan: string[] = [];
  try {
    for (const wave of waves) {
      const startingWave: Array<Promise<void>> = [];
      for (const service of wave) {
        for (let index = 1; index <= processesOf(file, service); index += 1) {
          const node = `${service}-${index}`;
          plan.push(node);
          // Storage nodes and access points keep their files apart; the rest share the cluster's folder
          // (events writes the buckets recommend reads; the catalog keeps the demo library there).
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
          startingWave.push(
            startChild(node, args, options, log).then(({ child, url }) => {
              const proc: ClusterProcess = {
                service,
                node,
                pid: child.pid!,
                child,
                status: "running",
                restarts: 0,
                ...(url ? { url } : {}),
              };
              processes.push(proc);
              supervise(proc, keepPort(args, url), log);
            }),
          );
        }
      }
      const results = await Promise.allSettled(startingWave);
      const failed = results.find((result) => result.status === "rejected");
      if (failed) throw failed.reason;
      // Each wave's processes became ready in any order: listed in the file's order (access-point-1 before
      // access-point-2, so `accessPoints[0]` is always access-point-1), whichever started first.
      processes.sort((a, b) => plan.indexOf(a.node) - plan.indexOf(b.node));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const accessPoints = processes.flatMap((p) => (p.url ? [p.url] : []));
  stateWritten = true;
  writeState();
  return { dataDir, nats, processes, accessPoints, stop };
}
